"""The SQL of reading the images of a project: files, their contents, thumbnails and stored originals (the
rules over them: operations/files.py)."""

from __future__ import annotations

import json

import apsw

from .types import BUILTINS, FRAME_BUILTINS

# A frame of a film (migration 0009) has its film, time and shot too; any other image has them empty.
_FILE_COLUMNS = ("f.id, f.path, fo.path, f.name, c.format, c.width, c.height, c.size, f.modified, c.taken, "
                 "c.hash, f.imported, f.content_id, c.orientation, " + ", ".join(BUILTINS[n][1] for n in FRAME_BUILTINS))
_FILE_JOINS = ("JOIN contents c ON c.id = f.content_id JOIN folders fo ON fo.id = f.folder_id "
               "LEFT JOIN frames fr ON fr.file_id = f.id LEFT JOIN films fm ON fm.id = fr.film_id")
_FILE_KEYS = ("id", "path", "folder", "name", "format", "width", "height", "size", "modified", "taken", "hash",
              "imported", "content_id", "orientation") + FRAME_BUILTINS


def below(root: str) -> tuple[str, str]:
    """The bounds of the paths below the folder `root` as a range on a path index: every path starting with
    "root/" sorts at or after "root/" and before "root0" ("0" follows "/" in code points)."""
    prefix = root.rstrip("/") + "/"
    return prefix, prefix[:-1] + "0"

def files(conn: apsw.Connection, ids: list[int]) -> list[dict]:
    """The built-in properties of the files with these ids, in the order given; unknown ids are left out."""
    rows = conn.execute(f"SELECT {_FILE_COLUMNS} FROM json_each(?) s JOIN files f ON f.id = s.value {_FILE_JOINS}",
                        (json.dumps(ids),)).fetchall()
    by_id = {r[0]: dict(zip(_FILE_KEYS, r)) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def file_id_at(conn: apsw.Connection, path: str) -> int | None:
    """The id of the file at exactly this path; None when there is none."""
    row = conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
    return row[0] if row else None


def file_ids_ending_with(conn: apsw.Connection, suffix: str, limit: int) -> list[int]:
    """The ids of at most `limit` files whose path ends with `suffix` (taken literally, wildcards and all)."""
    escaped = suffix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [r[0] for r in conn.execute("SELECT id FROM files WHERE path LIKE '%' || ? ESCAPE '\\' LIMIT ?",
                                       (escaped, limit))]


def all_paths(conn: apsw.Connection) -> list[tuple[int, str]]:
    """(id, path) of every file."""
    return conn.execute("SELECT id, path FROM files").fetchall()


def file_count(conn: apsw.Connection) -> int:
    return conn.execute("SELECT count(*) FROM files").fetchone()[0]


def content_count(conn: apsw.Connection) -> int:
    return conn.execute("SELECT count(*) FROM contents").fetchone()[0]


def same_content_ids(conn: apsw.Connection, file_id: int) -> list[int]:
    """The ids of the other files with this file's content, by path."""
    return [r[0] for r in conn.execute(
        "SELECT o.id FROM files f JOIN files o ON o.content_id = f.content_id AND o.id <> f.id "
        "WHERE f.id = ? ORDER BY o.path", (file_id,))]


def thumbnails_of(conn: apsw.Connection, content_ids: list[int]) -> dict[int, bytes]:
    """The thumbnails of these contents: {content id: JPEG bytes}, absent when missing."""
    return dict(conn.execute(
        "SELECT t.content_id, t.data FROM json_each(?) s JOIN thumbnails t ON t.content_id = s.value",
        (json.dumps(content_ids),)).fetchall())


def thumbnail(conn: apsw.Connection, content_hash: str) -> bytes | None:
    """The thumbnail of the content with this hash; None when there is none."""
    row = conn.execute("SELECT t.data FROM contents c JOIN thumbnails t ON t.content_id = c.id WHERE c.hash = ?",
                       (content_hash,)).fetchone()
    return row[0] if row else None


def content_with_hash(conn: apsw.Connection, content_hash: str) -> tuple[int, str, int] | None:
    """(id, format, size in bytes) of the content with this hash; None when there is none."""
    row = conn.execute("SELECT id, format, size FROM contents WHERE hash = ?", (content_hash,)).fetchone()
    return tuple(row) if row else None


def stored_original(conn: apsw.Connection, content_id: int) -> bytes | None:
    """The original bytes of a content when the project stores them; None when it does not."""
    row = conn.execute("SELECT data FROM originals WHERE content_id = ?", (content_id,)).fetchone()
    return row[0] if row else None


def paths_of_content(conn: apsw.Connection, content_id: int) -> list[tuple[str, int]]:
    """(path, modification time in ns at import) of each file of a content, by file id."""
    return conn.execute("SELECT path, mtime_ns FROM files WHERE content_id = ? ORDER BY id", (content_id,)).fetchall()


def file_ids_of_contents(conn: apsw.Connection, content_ids: list[int]) -> dict[int, list[int]]:
    """The files of each content: {content id: [file ids, ascending]}."""
    found: dict[int, list[int]] = {}
    for content_id, file_id in conn.execute(
            "SELECT f.content_id, f.id FROM json_each(?) s JOIN files f ON f.content_id = s.value ORDER BY f.id",
            (json.dumps(content_ids),)):
        found.setdefault(content_id, []).append(file_id)
    return found


def content_ids_of_files(conn: apsw.Connection, file_ids: list[int]) -> list[int]:
    """The distinct contents of these files, in the order of their first file."""
    rows = conn.execute("SELECT f.content_id FROM json_each(?) s JOIN files f ON f.id = s.value ORDER BY s.key",
                        (json.dumps(file_ids),)).fetchall()
    return list(dict.fromkeys(r[0] for r in rows))
