"""Vector storage: vector types, one vector per content and type, as blobs in the project file.

Every write to a type's vectors raises its `version`, by which the matrices, search indexes and
calibrations kept in memory (vectors/space.py) know they are stale, whichever process wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..checks import non_empty_name, whole_number
from ..errors import Conflict, InvalidInput, NotFound
from .db import Database
from .oplog import now
from .types import PALETTE

DTYPES = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2"), "bits": np.dtype("u1")}
METRICS = ("cosine", "hamming")


@dataclass(frozen=True)
class Matrix:
    """The vectors of one type: content ids (sorted) and their rows. Cosine types are L2-normalised
    float32; bit types are packed uint8 (ceil(dim / 8) bytes a row)."""
    type: dict
    content_ids: np.ndarray
    rows: np.ndarray

    def index_of(self, content_ids) -> np.ndarray:
        """The row of each content id; -1 where the content has no vector."""
        content_ids = np.asarray(content_ids, dtype=np.int64)
        if len(self.content_ids) == 0:
            return np.full(len(content_ids), -1)
        rows = np.searchsorted(self.content_ids, content_ids).clip(max=len(self.content_ids) - 1)
        return np.where(self.content_ids[rows] == content_ids, rows, -1)


def _type_row(row) -> dict:
    return {"id": row[0], "name": row[1], "model": row[2], "params": json.loads(row[3]), "dim": row[4],
            "dtype": row[5], "metric": row[6], "default": bool(row[7]), "version": row[8], "count": row[9]}


_TYPE_SELECT = ("SELECT t.id, t.name, t.model, t.params, t.dim, t.dtype, t.metric, t.is_default, t.version, "
                "(SELECT count(*) FROM vectors v WHERE v.type_id = t.id) FROM vector_types t")


class VectorStore:
    """The vector types and vectors of one project file; and the model-made properties written with them
    (the guesses of an embedder), which are derived data outside the undo log as vectors are."""

    def __init__(self, db: Database):
        self.db = db

    def vector_types(self) -> list[dict]:
        """Every vector type of the project: name, model, params, dim, dtype, metric, default, count."""
        return [_type_row(r) for r in self.db.reader.execute(_TYPE_SELECT + " ORDER BY t.id")]

    def vector_type(self, name: str | None = None) -> dict:
        """One vector type by name, or the default one when name is None."""
        where, args = ("t.name = ?", (name,)) if name is not None else ("t.is_default = 1", ())
        row = self.db.reader.execute(f"{_TYPE_SELECT} WHERE {where}", args).fetchone()
        if row is None:
            known = [t["name"] for t in self.vector_types()]
            what = f"no vector type named {name!r}" if name is not None else "no default vector type"
            raise NotFound(what + (f" (the project has: {', '.join(known)})" if known else
                                   " (the project has no vectors yet: run `imagier embed`)"), vector_type=name)
        return _type_row(row)

    def create_vector_type(self, name: str, model: str, dim: int, *, params: dict | None = None,
                           dtype: str = "float32", metric: str = "cosine", default: bool | None = None) -> dict:
        """Register a vector type; the first one becomes the default unless default=False. Creating a type
        that exists with the same model, params and shape returns it; a different one is a Conflict."""
        non_empty_name("vector type", name)
        if dtype not in DTYPES:
            raise InvalidInput(f"unknown vector dtype {dtype!r}; use one of {', '.join(DTYPES)}")
        if metric not in METRICS:
            raise InvalidInput(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
        whole_number("dim", dim)
        params_json = json.dumps(params or {}, sort_keys=True)
        with self.db.write() as conn:
            row = conn.execute("SELECT model, params, dim, dtype, metric FROM vector_types WHERE name = ?",
                               (name,)).fetchone()
            if row is not None:
                if tuple(row) != (model, params_json, dim, dtype, metric):
                    raise Conflict(f"a vector type named {name!r} exists with another model or parameters; "
                                   "delete it first or choose another name", vector_type=name)
            else:
                first = conn.execute("SELECT count(*) FROM vector_types").fetchone()[0] == 0
                conn.execute("INSERT INTO vector_types(name, model, params, dim, dtype, metric, created) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", (name, model, params_json, dim, dtype, metric, now()))
                if default or (default is None and first):
                    self._make_default(conn, name)
        return self.vector_type(name)

    def set_default_vector_type(self, name: str) -> dict:
        """Make this vector type the one similarity, clustering and duplicates use when none is named."""
        self.vector_type(name)
        with self.db.write() as conn:
            self._make_default(conn, name)
        return self.vector_type(name)

    @staticmethod
    def _make_default(conn, name: str) -> None:
        conn.execute("UPDATE vector_types SET is_default = (name = ?)", (name,))

    def delete_vector_type(self, name: str) -> None:
        """Delete a vector type and its vectors (they can be computed again)."""
        vtype = self.vector_type(name)
        with self.db.write() as conn:
            conn.execute("DELETE FROM vector_types WHERE id = ?", (vtype["id"],))

    def put_vectors(self, name: str, content_ids, rows: np.ndarray) -> int:
        """Store (or replace) the vectors of these contents in one transaction; returns how many."""
        vtype = self.vector_type(name)
        content_ids = [int(c) for c in content_ids]
        rows = np.asarray(rows)
        width = (vtype["dim"] + 7) // 8 if vtype["dtype"] == "bits" else vtype["dim"]
        if rows.ndim != 2 or rows.shape != (len(content_ids), width):
            raise InvalidInput(f"{name}: expected {len(content_ids)} vectors of {width} values, got an array of "
                               f"shape {rows.shape}", vector_type=name)
        if vtype["dtype"] != "bits" and not np.isfinite(rows).all():
            raise InvalidInput(f"{name}: vectors must be finite numbers", vector_type=name)
        data = rows.astype(DTYPES[vtype["dtype"]], copy=False)
        with self.db.write() as conn:
            conn.executemany("INSERT INTO vectors(type_id, content_id, data) VALUES (?, ?, ?) "
                             "ON CONFLICT DO UPDATE SET data = excluded.data",
                             [(vtype["id"], c, data[i].tobytes()) for i, c in enumerate(content_ids)])
            conn.execute("UPDATE vector_types SET version = version + 1 WHERE id = ?", (vtype["id"],))
        return len(content_ids)

    def contents_without_vectors(self, name: str) -> list[int]:
        """The content ids that have no vector of this type yet (what an embedding job still has to do)."""
        vtype = self.vector_type(name)
        return [r[0] for r in self.db.reader.execute(
            "SELECT c.id FROM contents c WHERE NOT EXISTS "
            "(SELECT 1 FROM vectors v WHERE v.type_id = ? AND v.content_id = c.id) ORDER BY c.id", (vtype["id"],))]

    def contents_with_vectors(self, name: str, among=None) -> list[int]:
        """The content ids (of `among`, else all) that have a vector of this type, in id order."""
        vtype = self.vector_type(name)
        if among is None:
            rows = self.db.reader.execute("SELECT content_id FROM vectors WHERE type_id = ? ORDER BY content_id",
                                          (vtype["id"],))
        else:
            rows = self.db.reader.execute(
                "SELECT v.content_id FROM json_each(?) s JOIN vectors v ON v.type_id = ? AND v.content_id = s.value "
                "ORDER BY v.content_id", (json.dumps(sorted({int(c) for c in among})), vtype["id"]))
        return [r[0] for r in rows]

    def vectors_of(self, name: str, content_ids) -> np.ndarray:
        """The vectors of these contents as stored (not normalised), in the order asked; a content without
        one is a NotFound."""
        vtype = self.vector_type(name)
        content_ids = [int(c) for c in content_ids]
        found = dict(self.db.reader.execute(
            "SELECT v.content_id, v.data FROM json_each(?) s JOIN vectors v ON v.type_id = ? AND v.content_id = s.value",
            (json.dumps(content_ids), vtype["id"])).fetchall())
        missing = [c for c in content_ids if c not in found]
        if missing:
            raise NotFound(f"{name}: no vector yet for content {', '.join(map(str, missing[:10]))}"
                           " (run `imagier embed`)", vector_type=name, contents=missing[:100])
        width = (vtype["dim"] + 7) // 8 if vtype["dtype"] == "bits" else vtype["dim"]
        return np.frombuffer(b"".join(found[c] for c in content_ids),
                             dtype=DTYPES[vtype["dtype"]]).reshape(len(content_ids), width)

    def write_machine_tags(self, property_name: str, tags: dict[int, list[str]]) -> None:
        """Replace the tags of these contents in a per-content multi-tag property made by a model (the
        guesses of an embedder): {content id: [tag names]}. Creates the property, marked machine-made, and
        its tags as needed.

        Machine-made values are derived data, recomputed by the next embedding, so this write is NOT in
        the undo log (a log entry per batch of a 500,000-image corpus would bury the user's own steps).
        It joins the caller's transaction when there is one, so vectors and their guesses land together."""
        with self.db.write() as conn:
            row = conn.execute("SELECT id, machine FROM properties WHERE name = ?", (property_name,)).fetchone()
            if row is None:
                position = conn.execute("SELECT coalesce(max(position), 0) + 1 FROM properties").fetchone()[0]
                conn.execute("INSERT INTO properties(name, type, scope, position, machine) "
                             "VALUES (?, 'multi-tag', 'content', ?, 1)", (property_name, position))
                prop_id = conn.last_insert_rowid()
            elif not row[1]:
                raise Conflict(f"the project has a property {property_name!r} of its own, so the model's "
                               f"guesses cannot be written; rename that property first", property=property_name)
            else:
                prop_id = row[0]
            known = dict(conn.execute("SELECT name, id FROM tags WHERE property_id = ?", (prop_id,)).fetchall())
            for name in sorted({n for names in tags.values() for n in names} - set(known)):
                conn.execute("INSERT INTO tags(property_id, name, colour) VALUES (?, ?, ?)",
                             (prop_id, name, PALETTE[len(known) % len(PALETTE)]))
                known[name] = conn.last_insert_rowid()
            conn.execute("DELETE FROM tag_values WHERE property_id = ? AND target_id IN (SELECT value FROM json_each(?))",
                         (prop_id, json.dumps([int(c) for c in tags])))
            conn.executemany("INSERT INTO tag_values(property_id, target_id, tag_id) VALUES (?, ?, ?)",
                             [(prop_id, int(c), known[n]) for c, names in tags.items() for n in dict.fromkeys(names)])

    def prune_machine_tags(self, property_name: str) -> None:
        """Delete the tags of a machine-made property that no image has any more (classes guessed under an
        older threshold)."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM tags WHERE property_id = (SELECT id FROM properties WHERE name = ? AND machine) "
                         "AND NOT EXISTS (SELECT 1 FROM tag_values v WHERE v.tag_id = tags.id)", (property_name,))

    def delete_machine_property(self, property_name: str) -> bool:
        """Delete a machine-made property with its tags and values, outside the undo log like its writes;
        whether there was one. A user's property of that name is a Conflict."""
        with self.db.write() as conn:
            row = conn.execute("SELECT id, machine FROM properties WHERE name = ?", (property_name,)).fetchone()
            if row is None:
                return False
            if not row[1]:
                raise Conflict(f"{property_name!r} is a property of the user's, not the model's guesses: "
                               "delete it as any other property", property=property_name)
            conn.execute("DELETE FROM properties WHERE id = ?", (row[0],))
            return True

    def stored_vectors(self, vtype: dict) -> tuple[np.ndarray, np.ndarray]:
        """Every vector of a type as stored, by content id: (content ids sorted, rows)."""
        width = (vtype["dim"] + 7) // 8 if vtype["dtype"] == "bits" else vtype["dim"]
        rows = self.db.reader.execute("SELECT content_id, data FROM vectors WHERE type_id = ? ORDER BY content_id",
                                      (vtype["id"],)).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, np.frombuffer(b"".join(r[1] for r in rows), dtype=DTYPES[vtype["dtype"]]).reshape(len(rows), width)
