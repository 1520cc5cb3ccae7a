"""The SQL of vectors: vector types, one vector per content and type, as blobs in the project file; and the
model-made properties written with them (the rules over them: operations/vectors.py).

Every write to a type's vectors raises its `version`, by which the matrices, search indexes and
calibrations kept in memory (vectors/space.py) know they are stale, whichever process wrote.
"""

from __future__ import annotations

import json

import apsw
import numpy as np

DTYPES = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2"), "bits": np.dtype("u1")}


def row_width(vtype: dict) -> int:
    """The number of values a stored vector of this type has: its dimension, or its bytes for bit vectors."""
    return (vtype["dim"] + 7) // 8 if vtype["dtype"] == "bits" else vtype["dim"]


def as_rows(vtype: dict, blobs: list[bytes]) -> np.ndarray:
    """Stored vectors of a type, one blob each, as the rows of one array (as stored: not normalised)."""
    return np.frombuffer(b"".join(blobs), dtype=DTYPES[vtype["dtype"]]).reshape(len(blobs), row_width(vtype))


def _type_row(row) -> dict:
    return {"id": row[0], "name": row[1], "model": row[2], "params": json.loads(row[3]), "dim": row[4],
            "dtype": row[5], "metric": row[6], "default": bool(row[7]), "version": row[8], "count": row[9]}


_TYPE_SELECT = ("SELECT t.id, t.name, t.model, t.params, t.dim, t.dtype, t.metric, t.is_default, t.version, "
                "(SELECT count(*) FROM vectors v WHERE v.type_id = t.id) FROM vector_types t")


def vector_types(conn: apsw.Connection) -> list[dict]:
    """Every vector type, by id: name, model, params, dim, dtype, metric, default, version, count."""
    return [_type_row(r) for r in conn.execute(_TYPE_SELECT + " ORDER BY t.id")]


def vector_type(conn: apsw.Connection, name: str | None) -> dict | None:
    """The vector type of this name, or the default one when name is None; None when there is none."""
    where, args = ("t.name = ?", (name,)) if name is not None else ("t.is_default = 1", ())
    row = conn.execute(f"{_TYPE_SELECT} WHERE {where}", args).fetchone()
    return _type_row(row) if row else None


def vector_type_definition(conn: apsw.Connection, name: str) -> tuple[str, str, int, str, str] | None:
    """(model, params as stored JSON, dim, dtype, metric) of the vector type of this name; None when none."""
    row = conn.execute("SELECT model, params, dim, dtype, metric FROM vector_types WHERE name = ?", (name,)).fetchone()
    return tuple(row) if row else None


def vector_type_count(conn: apsw.Connection) -> int:
    return conn.execute("SELECT count(*) FROM vector_types").fetchone()[0]


def insert_vector_type(conn: apsw.Connection, name: str, model: str, params_json: str, dim: int, dtype: str,
                       metric: str, created: str) -> int:
    conn.execute("INSERT INTO vector_types(name, model, params, dim, dtype, metric, created) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (name, model, params_json, dim, dtype, metric, created))
    return conn.last_insert_rowid()


def make_default(conn: apsw.Connection, name: str) -> None:
    """Make the vector type of this name the only default one."""
    conn.execute("UPDATE vector_types SET is_default = (name = ?)", (name,))


def delete_vector_type(conn: apsw.Connection, type_id: int) -> None:
    """Delete a vector type; its vectors go with it (foreign key)."""
    conn.execute("DELETE FROM vector_types WHERE id = ?", (type_id,))


def put_vectors(conn: apsw.Connection, vtype: dict, content_ids: list[int], rows: np.ndarray) -> None:
    """Store (or replace) the vectors of these contents, converted to the type's dtype, and raise its version."""
    data = rows.astype(DTYPES[vtype["dtype"]], copy=False)
    conn.executemany("INSERT INTO vectors(type_id, content_id, data) VALUES (?, ?, ?) "
                     "ON CONFLICT DO UPDATE SET data = excluded.data",
                     [(vtype["id"], c, data[i].tobytes()) for i, c in enumerate(content_ids)])
    conn.execute("UPDATE vector_types SET version = version + 1 WHERE id = ?", (vtype["id"],))


def contents_without_vectors(conn: apsw.Connection, type_id: int) -> list[int]:
    """The ids of the contents with no vector of this type, ascending."""
    return [r[0] for r in conn.execute(
        "SELECT c.id FROM contents c WHERE NOT EXISTS "
        "(SELECT 1 FROM vectors v WHERE v.type_id = ? AND v.content_id = c.id) ORDER BY c.id", (type_id,))]


def contents_with_vectors(conn: apsw.Connection, type_id: int, among: list[int] | None = None) -> list[int]:
    """The ids of the contents (of `among`, else all) with a vector of this type, ascending."""
    if among is None:
        rows = conn.execute("SELECT content_id FROM vectors WHERE type_id = ? ORDER BY content_id", (type_id,))
    else:
        rows = conn.execute(
            "SELECT v.content_id FROM json_each(?) s JOIN vectors v ON v.type_id = ? AND v.content_id = s.value "
            "ORDER BY v.content_id", (json.dumps(sorted(set(among))), type_id))
    return [r[0] for r in rows]


def vector_blobs(conn: apsw.Connection, type_id: int, content_ids: list[int]) -> dict[int, bytes]:
    """The stored vectors of a type of those of these contents that have one: {content id: blob}."""
    return dict(conn.execute(
        "SELECT v.content_id, v.data FROM json_each(?) s JOIN vectors v ON v.type_id = ? AND v.content_id = s.value",
        (json.dumps(content_ids), type_id)).fetchall())


def stored_vectors(conn: apsw.Connection, vtype: dict) -> tuple[np.ndarray, np.ndarray]:
    """Every vector of a type as stored, by content id: (content ids sorted, rows)."""
    rows = conn.execute("SELECT content_id, data FROM vectors WHERE type_id = ? ORDER BY content_id",
                        (vtype["id"],)).fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return ids, as_rows(vtype, [r[1] for r in rows])


def insert_machine_property(conn: apsw.Connection, name: str, type: str = "multi-tag") -> int:
    """A new per-content property of this type marked machine-made, after the others; its id."""
    position = conn.execute("SELECT coalesce(max(position), 0) + 1 FROM properties").fetchone()[0]
    conn.execute("INSERT INTO properties(name, type, scope, position, machine) VALUES (?, ?, 'content', ?, 1)",
                 (name, type, position))
    return conn.last_insert_rowid()


def tag_ids(conn: apsw.Connection, property_id: int) -> dict[str, int]:
    """The tags of a property: {name: id}."""
    return dict(conn.execute("SELECT name, id FROM tags WHERE property_id = ?", (property_id,)).fetchall())


def prune_machine_tags(conn: apsw.Connection, property_name: str) -> None:
    """Delete the tags no target has any more from the machine-made property of this name."""
    conn.execute("DELETE FROM tags WHERE property_id = (SELECT id FROM properties WHERE name = ? AND machine) "
                 "AND NOT EXISTS (SELECT 1 FROM tag_values v WHERE v.tag_id = tags.id)", (property_name,))
