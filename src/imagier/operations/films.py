"""The films of a project, seen from their frames: a frame's film, time and shot, the other frames of its
shot and the shots around it, and the film itself to play (its SQL: store/films.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ..checks import whole_number
from ..errors import Conflict, NotFound
from ..store import films as films_sql
from ..store.db import Database, storable


class Films:
    """The films of one project file and the frames taken from them."""

    def __init__(self, db: Database):
        self.db = db

    def frame(self, file_id: int) -> dict:
        """The film, time and shot of a frame: {"id", "film_id", "film", "time", "shot", "shot_start", "shot_end",
        "film_duration", "film_fps", "film_shots", "shot_frames": [{"id", "time", "hash"}] (by time),
        "previous_shot", "next_shot" (the first frame of the nearest shot before and after that has frames, or
        None)}. NotFound when the image is no frame of a film."""
        file_id = whole_number("file_id", file_id)
        found = films_sql.frame(self.db.reader, file_id) if storable(file_id) else None
        if found is None:
            raise NotFound(f"image {file_id} is no frame of a film of this project", id=file_id)
        conn = self.db.reader
        shot = found["shot"]
        found["shot_frames"] = ([{"id": i, "time": t, "hash": h} for i, t, h in
                                 films_sql.shot_frames(conn, found["film_id"], shot)] if shot is not None else [])
        found["previous_shot"] = films_sql.next_shot_frame(conn, found["film_id"], shot, later=False) if shot else None
        found["next_shot"] = films_sql.next_shot_frame(conn, found["film_id"], shot, later=True) if shot else None
        return found

    def film_video(self, film_id: int, may_read: Callable[[Path], Path] | None = None) -> Path:
        """The video file of a film, to play: NotFound when the project has no such film or the file is gone,
        Conflict when it changed since its import (its frames' times may no longer match), and `may_read`'s
        Forbidden (the server's rule) when it may not be read."""
        film_id = whole_number("film_id", film_id)
        found = films_sql.film(self.db.reader, film_id) if storable(film_id) else None
        if found is None:
            raise NotFound(f"no film with id {film_id} in this project", film=film_id)
        path, size, mtime_ns = found
        readable = Path(path) if may_read is None else may_read(Path(path))
        try:
            stat = os.stat(readable)
        except OSError:
            raise NotFound(f"the film {path} is not on this machine any more", film=film_id, path=path) from None
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
            raise Conflict(f"{path} changed on disk since it was imported: import its folder again", film=film_id,
                           path=path)
        return readable

