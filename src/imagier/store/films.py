"""The SQL of films and their frames (migration 0009): the films imported, and for each frame file its film,
time and shot (the rules over them: operations/films.py; the import that writes them: ingest/)."""

from __future__ import annotations

import json
from typing import Iterable, NamedTuple, Sequence

import apsw

from . import files as files_sql

_FRAME_COLUMNS = ("fr.file_id, fr.film_id, fm.path, fr.time, fr.shot, fr.shot_start, fr.shot_end, fm.duration, "
                  "fm.fps, fm.shots")
_FRAME_KEYS = ("id", "film_id", "film", "time", "shot", "shot_start", "shot_end", "film_duration", "film_fps",
               "film_shots")


class KnownFilm(NamedTuple):
    id: int
    hash: str
    size: int
    mtime_ns: int
    sampling: dict


def films_under(conn: apsw.Connection, roots: Iterable[str]) -> dict[str, KnownFilm]:
    """The project's films at or below these paths, by path."""
    known: dict[str, KnownFilm] = {}
    for root in roots:
        for path, id_, hash_, size, mtime_ns, sampling in conn.execute(
                "SELECT path, id, hash, size, mtime_ns, sampling FROM films "
                "WHERE path = ? OR (path >= ? AND path < ?)", (root, *files_sql.below(root))):
            known[path] = KnownFilm(id_, hash_, size, mtime_ns, json.loads(sampling))
    return known


def save_film(conn: apsw.Connection, path: str, hash_: str, size: int, mtime_ns: int, duration: float, fps: float,
              width: int, height: int, codec: str, sampling: dict, shots: int | None) -> int:
    """Insert or update the film at `path`; returns its id."""
    return conn.execute(
        "INSERT INTO films(path, hash, size, mtime_ns, duration, fps, width, height, codec, sampling, shots) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET hash = excluded.hash, size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "duration = excluded.duration, fps = excluded.fps, width = excluded.width, height = excluded.height, "
        "codec = excluded.codec, sampling = excluded.sampling, shots = excluded.shots RETURNING id",
        (path, hash_, size, mtime_ns, duration, fps, width, height, codec, json.dumps(sampling, sort_keys=True),
         shots)).fetchone()[0]


def touch_film(conn: apsw.Connection, film_id: int, mtime_ns: int) -> None:
    """A film whose bytes are unchanged but whose modification time moved."""
    conn.execute("UPDATE films SET mtime_ns = ? WHERE id = ?", (mtime_ns, film_id))


def record_frames(conn: apsw.Connection, film_id: int, frames: Sequence[tuple]) -> None:
    """frames: (frame path, time, shot, shot start, shot end); each path a file of the project."""
    conn.executemany(
        "INSERT INTO frames(file_id, film_id, time, shot, shot_start, shot_end) "
        "SELECT id, ?, ?, ?, ?, ? FROM files WHERE path = ? "
        "ON CONFLICT(file_id) DO UPDATE SET film_id = excluded.film_id, time = excluded.time, shot = excluded.shot, "
        "shot_start = excluded.shot_start, shot_end = excluded.shot_end",
        [(film_id, time, shot, start, end, path) for path, time, shot, start, end in frames])


def frame(conn: apsw.Connection, file_id: int) -> dict | None:
    """The film, time and shot of the frame file `file_id`; None when that file is no frame."""
    row = conn.execute(f"SELECT {_FRAME_COLUMNS} FROM frames fr JOIN films fm ON fm.id = fr.film_id "
                       "WHERE fr.file_id = ?", (file_id,)).fetchone()
    return dict(zip(_FRAME_KEYS, row)) if row else None


def shot_frames(conn: apsw.Connection, film_id: int, shot: int) -> list[tuple[int, float, str]]:
    """(file id, time, content hash) of every frame of one shot of a film, by time."""
    return conn.execute(
        "SELECT fr.file_id, fr.time, c.hash FROM frames fr JOIN files f ON f.id = fr.file_id "
        "JOIN contents c ON c.id = f.content_id WHERE fr.film_id = ? AND fr.shot = ? ORDER BY fr.time",
        (film_id, shot)).fetchall()


def next_shot_frame(conn: apsw.Connection, film_id: int, shot: int, later: bool) -> int | None:
    """The file id of the first frame of the nearest shot after (`later`) or before `shot` that has frames;
    None at the film's end (or start)."""
    nearest = conn.execute(f"SELECT {'min' if later else 'max'}(shot) FROM frames "
                           f"WHERE film_id = ? AND shot {'>' if later else '<'} ?", (film_id, shot)).fetchone()[0]
    if nearest is None:
        return None
    return conn.execute("SELECT file_id FROM frames WHERE film_id = ? AND shot = ? ORDER BY time LIMIT 1",
                        (film_id, nearest)).fetchone()[0]


def film(conn: apsw.Connection, film_id: int) -> tuple[str, int, int] | None:
    """(path, size, modification time in ns at import) of a film; None when there is none."""
    row = conn.execute("SELECT path, size, mtime_ns FROM films WHERE id = ?", (film_id,)).fetchone()
    return tuple(row) if row else None


def frames_of_content(conn: apsw.Connection, content_id: int) -> list[tuple[str, int, int, float]]:
    """(film path, film size, film mtime_ns, time) of each frame with this content, by file id."""
    return conn.execute(
        "SELECT fm.path, fm.size, fm.mtime_ns, fr.time FROM files f JOIN frames fr ON fr.file_id = f.id "
        "JOIN films fm ON fm.id = fr.film_id WHERE f.content_id = ? ORDER BY f.id", (content_id,)).fetchall()


def frame_columns(conn: apsw.Connection, file_ids: list[int]) -> dict[int, tuple[str, float, int | None]]:
    """{file id: (film path, time, shot)} of the frames among these files."""
    return {r[0]: tuple(r[1:]) for r in conn.execute(
        "SELECT fr.file_id, fm.path, fr.time, fr.shot FROM json_each(?) s JOIN frames fr ON fr.file_id = s.value "
        "JOIN films fm ON fm.id = fr.film_id", (json.dumps(file_ids),))}


def film_count(conn: apsw.Connection) -> int:
    return conn.execute("SELECT count(*) FROM films").fetchone()[0]
