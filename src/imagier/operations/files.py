"""Reading the images of a project: files, their contents, thumbnails and stored originals (their SQL:
store/files.py)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..checks import image_ids
from ..errors import Conflict, Forbidden, InvalidInput, NotFound, refuse_nul
from ..store import files as files_sql
from ..store import films as films_sql
from ..store.db import Database

# Decodes the frame of a film at a time: (PNG bytes, hash of its pixels). Given by the Project, from ingest/.
FrameReader = Callable[[str, float], tuple[bytes, str]]


class Files:
    """The files and contents of one project file: their built-in properties, thumbnails and originals.
    `read_frame` makes the original of a frame of a film again from the film."""

    def __init__(self, db: Database, read_frame: FrameReader | None = None):
        self.db = db
        self.read_frame = read_frame

    def files(self, ids: Iterable[int]) -> list[dict]:
        """The built-in properties of these images, in the order asked; unknown ids are left out."""
        return files_sql.files(self.db.reader, image_ids(ids))

    def existing_files(self, ids: Iterable[int]) -> list[dict]:
        """The built-in properties of these images, in the order asked, each once; NotFound naming the ids
        that are no image of the project (what every operation given ids from outside checks first)."""
        wanted = list(dict.fromkeys(image_ids(ids)))
        found = files_sql.files(self.db.reader, wanted)
        if len(found) != len(wanted):
            known = {f["id"] for f in found}
            missing = [i for i in wanted if i not in known]
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise NotFound(f"no image with id {', '.join(map(str, missing[:10]))}{more}", ids=missing[:100])
        return found

    def file(self, ref: int | str) -> dict:
        """One image by id or by path (absolute, or a unique suffix of its path)."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and not Path(ref).exists()):
            found = self.files([int(ref)])
            if not found:
                raise NotFound(f"no image with id {ref}", id=ref)
            return found[0]
        file_id = self.file_id(ref)
        return self.files([file_id])[0]

    def file_id(self, path: str) -> int:
        """The id of the image at this path (absolute, or a unique end of its path)."""
        conn = self.db.reader
        if "://" in str(path):  # an image imported from IIIF, whose path is its canvas's URL
            found = files_sql.file_id_at(conn, path)
            if found is not None:
                return found
        absolute = str(Path(refuse_nul(path, "image path")).expanduser().resolve())
        found = files_sql.file_id_at(conn, absolute)
        if found is not None:
            return found
        suffix = "/" + str(path).strip().lstrip("./").replace("\\", "/")
        ids = files_sql.file_ids_ending_with(conn, suffix, limit=2)
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            raise InvalidInput(f"{path!r} matches several images; give more of its path", path=str(path))
        raise NotFound(f"no image at {path!r} in this project", path=str(path))

    def all_paths(self) -> list[tuple[int, str]]:
        """(id, path) of every file, for matching paths from outside (CSV) in one pass."""
        return files_sql.all_paths(self.db.reader)

    def file_count(self) -> int:
        """The number of files in the project."""
        return files_sql.file_count(self.db.reader)

    def has_films(self) -> bool:
        """Whether the project has imported a film."""
        return films_sql.film_count(self.db.reader) > 0

    def content_count(self) -> int:
        """The number of distinct contents (files with identical bytes count once)."""
        return files_sql.content_count(self.db.reader)

    def same_content(self, file_id: int) -> list[dict]:
        """The other files with the same bytes as this one."""
        conn = self.db.reader
        return files_sql.files(conn, files_sql.same_content_ids(conn, file_id))

    def thumbnails_of(self, content_ids) -> dict[int, bytes]:
        """The JPEG thumbnails of these contents in one query: {content id: bytes} (absent when missing)."""
        return files_sql.thumbnails_of(self.db.reader, [int(c) for c in content_ids])

    def thumbnail(self, content_hash: str) -> bytes:
        """The JPEG thumbnail of a content, by its hash."""
        data = files_sql.thumbnail(self.db.reader, content_hash)
        if data is None:
            raise NotFound(f"no thumbnail for content {content_hash!r} in this project", hash=content_hash)
        return data

    def original(self, content_hash: str, may_read: Callable[[Path], Path] | None = None
                 ) -> tuple[bytes | None, Path | None, str]:
        """The original image of a content: its bytes when stored in the project, else the path of a file
        of the project that still has those bytes on disk. Returns (bytes, path, format).

        A file counts as unchanged when its size and modification time are those recorded at import;
        one that differs is hashed again, so no other bytes are ever given under the content's hash.
        Conflict when the content's files all changed on disk since their import. `may_read` (the
        server's rule) gives the path to read for a file's path or raises Forbidden: a file it refuses
        is neither read nor hashed, and when it refuses them all, its refusal is raised. The original of a
        frame of a film is the frame decoded again from the film, as PNG bytes."""
        conn = self.db.reader
        content = files_sql.content_with_hash(conn, content_hash)
        if content is None:
            raise NotFound(f"no image with content {content_hash!r} in this project", hash=content_hash)
        content_id, format_, size = content
        stored = files_sql.stored_original(conn, content_id)
        if stored is not None:
            return stored, None, format_
        frames = films_sql.frames_of_content(conn, content_id)
        if frames:
            return self._frame_original(content_hash, frames, may_read), None, "PNG"
        changed, refusals = [], []
        for path, found, (mtime_ns,) in _on_disk(files_sql.paths_of_content(conn, content_id), may_read, refusals):
            if (found.st_size, found.st_mtime_ns) == (size, mtime_ns):
                return None, Path(path), format_
            changed.append((path, found.st_size))
        # Touched or copied over with the same bytes: still the original, under a new modification time.
        for path, file_size in changed:
            if file_size == size and _sha256(path) == content_hash:
                return None, Path(path), format_
        if changed:
            raise Conflict(f"{changed[0][0]} changed on disk since it was imported, so it no longer holds the "
                           f"original of {content_hash!r}: import its folder again", hash=content_hash,
                           path=changed[0][0])
        if refusals:
            raise refusals[-1]
        raise NotFound(f"the original of {content_hash!r} is not on this machine and was not stored in the project "
                       "(import with --store-originals to share originals)", hash=content_hash)

    def _frame_original(self, content_hash: str, frames: list[tuple[str, int, int, float]],
                        may_read: Callable[[Path], Path] | None) -> bytes:
        """A frame decoded again from the first of its films that is on disk as imported."""
        changed, refusals = None, []
        for film, found, (size, mtime_ns, time) in _on_disk(frames, may_read, refusals):
            if (found.st_size, found.st_mtime_ns) != (size, mtime_ns):
                changed = film
                continue
            try:
                data, pixels_hash = self.read_frame(film, time)
            except Exception as e:  # noqa: BLE001 - the decoder's reason, whatever its kind, is the answer
                raise Conflict(f"cannot decode the frame at {time:.3f} s of {film}: {e}", hash=content_hash,
                               path=film) from None
            if pixels_hash != content_hash:
                raise Conflict(f"the frame at {time:.3f} s of {film} is no longer the one imported: import the "
                               "film again", hash=content_hash, path=film)
            return data
        if changed is not None:
            raise Conflict(f"{changed} changed on disk since it was imported, so it no longer holds the frame "
                           f"{content_hash!r}: import its folder again", hash=content_hash, path=changed)
        if refusals:
            raise refusals[-1]
        raise NotFound(f"the film of frame {content_hash!r} is not on this machine", hash=content_hash)

    def file_ids_of_contents(self, content_ids) -> dict[int, list[int]]:
        """The files of each content: {content id: [file ids]}."""
        return files_sql.file_ids_of_contents(self.db.reader, [int(c) for c in content_ids])

    def content_ids_of_files(self, file_ids) -> list[int]:
        """The distinct contents of these files, in the order of their first file."""
        return files_sql.content_ids_of_files(self.db.reader, [int(i) for i in file_ids])


def _on_disk(entries: Iterable[tuple], may_read: Callable[[Path], Path] | None,
             refusals: list[Forbidden]) -> Iterator[tuple[str, os.stat_result, tuple]]:
    """(path, its stat, the rest of its entry) for each (path, *rest) of `entries` that is a file on disk, the path
    as `may_read` (the server's rule) gives it; a path `may_read` refuses is skipped and its refusal appended to
    `refusals`, which the caller raises when no path served."""
    for path, *rest in entries:
        if may_read is not None:
            try:
                path = str(may_read(Path(path)))
            except Forbidden as e:
                refusals.append(e)
                continue
        found = _file_stat(path)
        if found is not None:
            yield path, found, tuple(rest)


def _file_stat(path: str) -> os.stat_result | None:
    """The stat of a regular file at `path`; None when there is none (gone, a folder, unreadable)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found if stat.S_ISREG(found.st_mode) else None


def _sha256(path: str) -> str | None:
    """The hex SHA-256 of a file's bytes (the content hash the import computes); None when unreadable."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None
