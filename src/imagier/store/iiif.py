"""The SQL of IIIF imports: the folders of manifests and collections, the files already imported by their
canvas id, and each file's source (migration 0008; the rules: ingest/iiif_import.py)."""

from __future__ import annotations

import json
from typing import Iterable, Sequence

import apsw

SOURCE_KEYS = ("manifest", "canvas", "image", "homepage")


def folder(conn: apsw.Connection, path: str, name: str, parent_id: int | None) -> int:
    """The id of the folder standing for a manifest or collection (its id as path, its label as name),
    created when missing; an existing one keeps its name and parent."""
    return conn.execute(
        "INSERT INTO folders(parent_id, path, name) VALUES (?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET parent_id = coalesce(folders.parent_id, excluded.parent_id) "
        "RETURNING id", (parent_id, path, name)).fetchone()[0]


def file_ids_at(conn: apsw.Connection, paths: Iterable[str]) -> dict[str, int]:
    """{path: file id} of the files at these exact paths (the canvases of a manifest already imported)."""
    return dict(conn.execute("SELECT f.path, f.id FROM json_each(?) s JOIN files f ON f.path = s.value",
                             (json.dumps(list(paths)),)).fetchall())


def add_sources(conn: apsw.Connection, sources: Sequence[tuple]) -> None:
    """sources: (file id, manifest id, canvas id, image URL, homepage or None)."""
    conn.executemany("INSERT OR REPLACE INTO iiif_sources(file_id, manifest_id, canvas_id, image, homepage) "
                     "VALUES (?, ?, ?, ?, ?)", sources)


def source(conn: apsw.Connection, file_id: int) -> dict | None:
    """{"manifest", "canvas", "image", "homepage"} of a file imported from IIIF; None for any other file."""
    row = conn.execute("SELECT manifest_id, canvas_id, image, homepage FROM iiif_sources WHERE file_id = ?",
                       (file_id,)).fetchone()
    return dict(zip(SOURCE_KEYS, row)) if row else None
