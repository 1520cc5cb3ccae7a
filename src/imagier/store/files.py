"""Reading the images of a project: files, their contents, thumbnails and stored originals."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Callable, Iterable

from ..checks import image_ids
from ..errors import Conflict, Forbidden, InvalidInput, NotFound, refuse_nul
from .db import Database

_FILE_COLUMNS = ("f.id, f.path, fo.path, f.name, c.format, c.width, c.height, c.size, f.modified, c.taken, "
                 "c.hash, f.imported, f.content_id, c.orientation")
_FILE_JOINS = "JOIN contents c ON c.id = f.content_id JOIN folders fo ON fo.id = f.folder_id"
_FILE_KEYS = ("id", "path", "folder", "name", "format", "width", "height", "size", "modified", "taken", "hash",
              "imported", "content_id", "orientation")


class Files:
    """The files and contents of one project file: their built-in properties, thumbnails and originals."""

    def __init__(self, db: Database):
        self.db = db

    def files(self, ids: Iterable[int]) -> list[dict]:
        """The built-in properties of these images, in the order asked; unknown ids are left out."""
        wanted = image_ids(ids)
        rows = self.db.reader.execute(
            f"SELECT {_FILE_COLUMNS} FROM json_each(?) s JOIN files f ON f.id = s.value {_FILE_JOINS}",
            (json.dumps(wanted),)).fetchall()
        by_id = {r[0]: dict(zip(_FILE_KEYS, r)) for r in rows}
        return [by_id[i] for i in wanted if i in by_id]

    def existing_files(self, ids: Iterable[int]) -> list[dict]:
        """The built-in properties of these images, in the order asked, each once; NotFound naming the ids
        that are no image of the project (what every operation given ids from outside checks first)."""
        wanted = list(dict.fromkeys(image_ids(ids)))
        found = self.files(wanted)
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
        absolute = str(Path(refuse_nul(path, "image path")).expanduser().resolve())
        row = conn.execute("SELECT id FROM files WHERE path = ?", (absolute,)).fetchone()
        if row:
            return row[0]
        suffix = "/" + str(path).strip().lstrip("./").replace("\\", "/")
        rows = conn.execute("SELECT id FROM files WHERE path LIKE '%' || ? ESCAPE '\\' LIMIT 2",
                            (suffix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"),)).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if len(rows) > 1:
            raise InvalidInput(f"{path!r} matches several images; give more of its path", path=str(path))
        raise NotFound(f"no image at {path!r} in this project", path=str(path))

    def all_paths(self) -> list[tuple[int, str]]:
        """(id, path) of every file, for matching paths from outside (CSV) in one pass."""
        return self.db.reader.execute("SELECT id, path FROM files").fetchall()

    def file_count(self) -> int:
        """The number of files in the project."""
        return self.db.reader.execute("SELECT count(*) FROM files").fetchone()[0]

    def content_count(self) -> int:
        """The number of distinct contents (files with identical bytes count once)."""
        return self.db.reader.execute("SELECT count(*) FROM contents").fetchone()[0]

    def same_content(self, file_id: int) -> list[dict]:
        """The other files with the same bytes as this one."""
        ids = [r[0] for r in self.db.reader.execute(
            "SELECT o.id FROM files f JOIN files o ON o.content_id = f.content_id AND o.id <> f.id "
            "WHERE f.id = ? ORDER BY o.path", (file_id,))]
        return self.files(ids)

    def thumbnails_of(self, content_ids) -> dict[int, bytes]:
        """The JPEG thumbnails of these contents in one query: {content id: bytes} (absent when missing)."""
        return dict(self.db.reader.execute(
            "SELECT t.content_id, t.data FROM json_each(?) s JOIN thumbnails t ON t.content_id = s.value",
            (json.dumps([int(c) for c in content_ids]),)).fetchall())

    def thumbnail(self, content_hash: str) -> bytes:
        """The JPEG thumbnail of a content, by its hash."""
        row = self.db.reader.execute(
            "SELECT t.data FROM contents c JOIN thumbnails t ON t.content_id = c.id WHERE c.hash = ?",
            (content_hash,)).fetchone()
        if row is None:
            raise NotFound(f"no thumbnail for content {content_hash!r} in this project", hash=content_hash)
        return row[0]

    def original(self, content_hash: str, may_read: Callable[[Path], Path] | None = None
                 ) -> tuple[bytes | None, Path | None, str]:
        """The original image of a content: its bytes when stored in the project, else the path of a file
        of the project that still has those bytes on disk. Returns (bytes, path, format).

        A file counts as unchanged when its size and modification time are those recorded at import;
        one that differs is hashed again, so no other bytes are ever given under the content's hash.
        Conflict when the content's files all changed on disk since their import. `may_read` (the
        server's rule) gives the path to read for a file's path or raises Forbidden: a file it refuses
        is neither read nor hashed, and when it refuses them all, its refusal is raised."""
        conn = self.db.reader
        row = conn.execute("SELECT id, format, size FROM contents WHERE hash = ?", (content_hash,)).fetchone()
        if row is None:
            raise NotFound(f"no image with content {content_hash!r} in this project", hash=content_hash)
        content_id, format_, size = row
        stored = conn.execute("SELECT data FROM originals WHERE content_id = ?", (content_id,)).fetchone()
        if stored:
            return stored[0], None, format_
        changed, refusal = [], None
        for path, mtime_ns in conn.execute("SELECT path, mtime_ns FROM files WHERE content_id = ? ORDER BY id",
                                           (content_id,)).fetchall():
            if may_read is not None:
                try:
                    path = str(may_read(Path(path)))
                except Forbidden as e:
                    refusal = e
                    continue
            found = _file_stat(path)
            if found is None:
                continue
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
        if refusal is not None:
            raise refusal
        raise NotFound(f"the original of {content_hash!r} is not on this machine and was not stored in the project "
                       "(import with --store-originals to share originals)", hash=content_hash)

    def file_ids_of_contents(self, content_ids) -> dict[int, list[int]]:
        """The files of each content: {content id: [file ids]}."""
        found: dict[int, list[int]] = {}
        for content_id, file_id in self.db.reader.execute(
                "SELECT f.content_id, f.id FROM json_each(?) s JOIN files f ON f.content_id = s.value ORDER BY f.id",
                (json.dumps([int(c) for c in content_ids]),)):
            found.setdefault(content_id, []).append(file_id)
        return found

    def content_ids_of_files(self, file_ids) -> list[int]:
        """The distinct contents of these files, in the order of their first file."""
        rows = self.db.reader.execute(
            "SELECT f.content_id FROM json_each(?) s JOIN files f ON f.id = s.value ORDER BY s.key",
            (json.dumps([int(i) for i in file_ids]),)).fetchall()
        return list(dict.fromkeys(r[0] for r in rows))


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
