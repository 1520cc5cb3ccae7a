"""The SQL of importing: folders, contents, files, thumbnails and originals (its job rows: store/jobs.py).

Every function takes the connection of an open write transaction (or a reader, for the reads) and
works on a whole batch, so an import of 100,000 files runs a few statements per batch, not per file.
"""

from __future__ import annotations

import json
import posixpath
from typing import Iterable, NamedTuple, Sequence

import apsw

from .oplog import now
from . import files as files_sql


class KnownFile(NamedTuple):
    id: int
    size: int
    mtime_ns: int
    hash: str
    has_original: bool


def files_under(conn: apsw.Connection, roots: Iterable[str]) -> dict[str, KnownFile]:
    """The project's files at or below these paths, by path."""
    known: dict[str, KnownFile] = {}
    for root in roots:
        # Ranges on the unique path index: the files below the folder `root`, and a film's frames,
        # "root#t=...", between "root#t=" and "root#t>".
        rows = conn.execute(
            "SELECT f.path, f.id, c.size, f.mtime_ns, c.hash, "
            "       EXISTS (SELECT 1 FROM originals o WHERE o.content_id = c.id) "
            "FROM files f JOIN contents c ON c.id = f.content_id "
            "WHERE f.path = ? OR (f.path >= ? AND f.path < ?) OR (f.path >= ? AND f.path < ?)",
            (root, *files_sql.below(root), root + "#t=", root + "#t>"))
        for path, *rest in rows:
            known[path] = KnownFile(rest[0], rest[1], rest[2], rest[3], bool(rest[4]))
    return known


def files_with_hashes(conn: apsw.Connection, hashes: Iterable[str]) -> list[tuple[str, int, str]]:
    """(hash, file id, path) of every file whose content has one of these hashes."""
    return conn.execute(
        "SELECT c.hash, f.id, f.path FROM json_each(?) h JOIN contents c ON c.hash = h.value "
        "JOIN files f ON f.content_id = c.id ORDER BY f.id",
        (json.dumps(sorted(set(hashes))),)).fetchall()


def folder_id(conn: apsw.Connection, path: str, root: str, cache: dict[str, int]) -> int:
    """The id of the folder at `path`, creating it and its ancestors up to the import's `root`.

    The root's parent is the folder above it when the project already has that one, so importing
    a parent folder later links the earlier tree under it.
    """
    if path in cache:
        return cache[path]
    parent_path = posixpath.dirname(path)
    if path == root or parent_path == path:
        row = conn.execute("SELECT id FROM folders WHERE path = ?", (parent_path,)).fetchone()
        parent = row[0] if row and parent_path != path else None
    else:
        parent = folder_id(conn, parent_path, root, cache)
    cache[path] = conn.execute(
        "INSERT INTO folders(parent_id, path, name) VALUES (?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET parent_id = coalesce(folders.parent_id, excluded.parent_id) "
        "RETURNING id",
        (parent, path, posixpath.basename(path) or path)).fetchone()[0]
    return cache[path]


def add_contents(conn: apsw.Connection, contents: Sequence[tuple], originals: Sequence[tuple[str, bytes]] = ()) -> None:
    """Insert contents that are new, with their thumbnails, and originals that are not stored yet.

    contents: (hash, format, width, height, size, taken, orientation, thumb_width, thumb_height, thumb_jpeg).
    originals: (hash, bytes).
    """
    conn.executemany(
        "INSERT INTO contents(hash, format, width, height, size, taken, orientation) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(hash) DO NOTHING",
        [c[:7] for c in contents])
    conn.executemany(
        "INSERT INTO thumbnails(content_id, width, height, data) SELECT id, ?, ?, ? FROM contents WHERE hash = ? "
        "ON CONFLICT(content_id) DO NOTHING",
        [(c[7], c[8], c[9], c[0]) for c in contents])
    conn.executemany(
        "INSERT INTO originals(content_id, data) SELECT id, ? FROM contents WHERE hash = ? "
        "ON CONFLICT(content_id) DO NOTHING",
        [(data, hash_) for hash_, data in originals])


def insert_files(conn: apsw.Connection, files: Sequence[tuple]) -> None:
    """files: (path, folder_id, name, content hash, modified, mtime_ns); the content must exist."""
    imported = now()
    conn.executemany(
        "INSERT INTO files(path, folder_id, name, content_id, modified, mtime_ns, imported) "
        "SELECT ?, ?, ?, id, ?, ?, ? FROM contents WHERE hash = ?",
        [(p, folder, name, modified, mtime_ns, imported, hash_) for p, folder, name, hash_, modified, mtime_ns in files])


def update_files(conn: apsw.Connection, files: Sequence[tuple]) -> None:
    """Point files at their current place and bytes, keeping their ids (and so their annotations).

    files: (id, path, folder_id, name, content hash, modified, mtime_ns).
    """
    conn.executemany(
        "UPDATE files SET path = ?, folder_id = ?, name = ?, content_id = (SELECT id FROM contents WHERE hash = ?), "
        "modified = ?, mtime_ns = ? WHERE id = ?",
        [(p, folder, name, hash_, modified, mtime_ns, id_) for id_, p, folder, name, hash_, modified, mtime_ns in files])


def drop_unused_contents(conn: apsw.Connection, hashes: Iterable[str]) -> int:
    """Delete these contents when no file has them any more and no content-scoped value names them."""
    conn.execute(
        "DELETE FROM contents WHERE hash IN (SELECT value FROM json_each(?)) "
        "AND NOT EXISTS (SELECT 1 FROM files f WHERE f.content_id = contents.id) "
        "AND NOT EXISTS (SELECT 1 FROM property_values v JOIN properties p ON p.id = v.property_id "
        "                WHERE p.scope = 'content' AND v.target_id = contents.id) "
        "AND NOT EXISTS (SELECT 1 FROM tag_values v JOIN properties p ON p.id = v.property_id "
        "                WHERE p.scope = 'content' AND v.target_id = contents.id)",
        (json.dumps(sorted(set(hashes))),))
    return conn.changes()


def file_count(conn: apsw.Connection) -> int:
    return conn.execute("SELECT count(*) FROM files").fetchone()[0]
