"""The stored similarity maps: one 2-D layout per vector type (see analysis/layout.py)."""

from __future__ import annotations

import json

import apsw
import numpy as np

from .oplog import now


def save(conn: apsw.Connection, type_id: int, version: int, params: dict, content_ids: np.ndarray,
         coords: np.ndarray) -> None:
    """Store (or replace) the layout of a vector type."""
    conn.execute("INSERT OR REPLACE INTO layouts(type_id, version, params, content_ids, coords, created) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 (type_id, version, json.dumps(params), np.asarray(content_ids, "<i8").tobytes(),
                  np.asarray(coords, "<f4").tobytes(), now()))


def load(conn: apsw.Connection, type_id: int) -> tuple[int, dict, np.ndarray, np.ndarray] | None:
    """(version, params, content ids, coords as n x 2) of a vector type's layout, or None."""
    row = conn.execute("SELECT version, params, content_ids, coords FROM layouts WHERE type_id = ?",
                       (type_id,)).fetchone()
    if row is None:
        return None
    ids = np.frombuffer(row[2], dtype="<i8").astype(np.int64)
    return row[0], json.loads(row[1]), ids, np.frombuffer(row[3], dtype="<f4").reshape(-1, 2).astype(np.float32)


def files_and_contents(conn: apsw.Connection) -> tuple[np.ndarray, np.ndarray]:
    """Every file id and its content id, ordered by file id."""
    rows = conn.execute("SELECT id, content_id FROM files ORDER BY id").fetchall()
    pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]
