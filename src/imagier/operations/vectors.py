"""Vector types and vectors, and the model-made properties written with them (their SQL: store/vectors.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..checks import non_empty_name, whole_number
from ..errors import Conflict, InvalidInput, NotFound
from ..store import annotations as annotations_sql
from ..store import vectors as vectors_sql
from ..store.db import Database
from ..store.oplog import now
from ..store.types import PALETTE

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


class VectorStore:
    """The vector types and vectors of one project file; and the model-made properties written with them
    (the guesses of an embedder), which are derived data outside the undo log as vectors are."""

    def __init__(self, db: Database):
        self.db = db

    def vector_types(self) -> list[dict]:
        """Every vector type of the project: name, model, params, dim, dtype, metric, default, count."""
        return vectors_sql.vector_types(self.db.reader)

    def vector_type(self, name: str | None = None) -> dict:
        """One vector type by name, or the default one when name is None."""
        found = vectors_sql.vector_type(self.db.reader, name)
        if found is None:
            known = [t["name"] for t in self.vector_types()]
            what = f"no vector type named {name!r}" if name is not None else "no default vector type"
            raise NotFound(what + (f" (the project has: {', '.join(known)})" if known else
                                   " (the project has no vectors yet: run `imagier embed`)"), vector_type=name)
        return found

    def create_vector_type(self, name: str, model: str, dim: int, *, params: dict | None = None,
                           dtype: str = "float32", metric: str = "cosine", default: bool | None = None) -> dict:
        """Register a vector type; the first one becomes the default unless default=False. Creating a type
        that exists with the same model, params and shape returns it; a different one is a Conflict."""
        non_empty_name("vector type", name)
        if dtype not in vectors_sql.DTYPES:
            raise InvalidInput(f"unknown vector dtype {dtype!r}; use one of {', '.join(vectors_sql.DTYPES)}")
        if metric not in METRICS:
            raise InvalidInput(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
        whole_number("dim", dim)
        params_json = json.dumps(params or {}, sort_keys=True)
        with self.db.write() as conn:
            existing = vectors_sql.vector_type_definition(conn, name)
            if existing is not None:
                if existing != (model, params_json, dim, dtype, metric):
                    raise Conflict(f"a vector type named {name!r} exists with another model or parameters; "
                                   "delete it first or choose another name", vector_type=name)
            else:
                first = vectors_sql.vector_type_count(conn) == 0
                vectors_sql.insert_vector_type(conn, name, model, params_json, dim, dtype, metric, now())
                if default or (default is None and first):
                    vectors_sql.make_default(conn, name)
        return self.vector_type(name)

    def set_default_vector_type(self, name: str) -> dict:
        """Make this vector type the one similarity, clustering and duplicates use when none is named."""
        self.vector_type(name)
        with self.db.write() as conn:
            vectors_sql.make_default(conn, name)
        return self.vector_type(name)

    def delete_vector_type(self, name: str) -> None:
        """Delete a vector type and its vectors (they can be computed again)."""
        vtype = self.vector_type(name)
        with self.db.write() as conn:
            vectors_sql.delete_vector_type(conn, vtype["id"])

    def put_vectors(self, name: str, content_ids, rows: np.ndarray) -> int:
        """Store (or replace) the vectors of these contents in one transaction; returns how many."""
        vtype = self.vector_type(name)
        content_ids = [int(c) for c in content_ids]
        rows = np.asarray(rows)
        width = vectors_sql.row_width(vtype)
        if rows.ndim != 2 or rows.shape != (len(content_ids), width):
            raise InvalidInput(f"{name}: expected {len(content_ids)} vectors of {width} values, got an array of "
                               f"shape {rows.shape}", vector_type=name)
        if vtype["dtype"] != "bits" and not np.isfinite(rows).all():
            raise InvalidInput(f"{name}: vectors must be finite numbers", vector_type=name)
        with self.db.write() as conn:
            vectors_sql.put_vectors(conn, vtype, content_ids, rows)
        return len(content_ids)

    def contents_without_vectors(self, name: str) -> list[int]:
        """The content ids that have no vector of this type yet (what an embedding job still has to do)."""
        return vectors_sql.contents_without_vectors(self.db.reader, self.vector_type(name)["id"])

    def contents_with_vectors(self, name: str, among=None) -> list[int]:
        """The content ids (of `among`, else all) that have a vector of this type, in id order."""
        type_id = self.vector_type(name)["id"]
        return vectors_sql.contents_with_vectors(self.db.reader, type_id,
                                                 None if among is None else [int(c) for c in among])

    def vectors_of(self, name: str, content_ids) -> np.ndarray:
        """The vectors of these contents as stored (not normalised), in the order asked; a content without
        one is a NotFound."""
        vtype = self.vector_type(name)
        content_ids = [int(c) for c in content_ids]
        found = vectors_sql.vector_blobs(self.db.reader, vtype["id"], content_ids)
        missing = [c for c in content_ids if c not in found]
        if missing:
            raise NotFound(f"{name}: no vector yet for content {', '.join(map(str, missing[:10]))}"
                           " (run `imagier embed`)", vector_type=name, contents=missing[:100])
        return vectors_sql.as_rows(vtype, [found[c] for c in content_ids])

    def write_machine_tags(self, property_name: str, tags: dict[int, list[str]]) -> None:
        """Replace the tags of these contents in a per-content multi-tag property made by a model (the
        guesses of an embedder): {content id: [tag names]}. Creates the property, marked machine-made, and
        its tags as needed.

        Machine-made values are derived data, recomputed by the next embedding, so this write is NOT in
        the undo log (a log entry per batch of a 500,000-image corpus would bury the user's own steps).
        It joins the caller's transaction when there is one, so vectors and their guesses land together."""
        with self.db.write() as conn:
            prop_id = _machine_property(conn, property_name, "multi-tag")
            known = vectors_sql.tag_ids(conn, prop_id)
            for name in sorted({n for names in tags.values() for n in names} - set(known)):
                known[name] = annotations_sql.add_tag(conn, prop_id, name, PALETTE[len(known) % len(PALETTE)])
            annotations_sql.delete_tag_values(conn, prop_id, [int(c) for c in tags])
            annotations_sql.add_each_tag_value(conn, prop_id, [(int(c), known[n]) for c, names in tags.items()
                                                               for n in dict.fromkeys(names)])

    def write_machine_text(self, property_name: str, texts: dict[int, str]) -> None:
        """Replace the values of these contents in a per-content text property made by a model (the text read
        in images): {content id: text}, an empty text removing the value. Like `write_machine_tags`: the
        property is created marked machine-made, the write is outside the undo log and joins the caller's
        transaction."""
        with self.db.write() as conn:
            prop_id = _machine_property(conn, property_name, "text")
            annotations_sql.delete_values(conn, prop_id, [int(c) for c, text in texts.items() if not text])
            annotations_sql.set_each_value(conn, prop_id, [(int(c), text) for c, text in texts.items() if text])

    def prune_machine_tags(self, property_name: str) -> None:
        """Delete the tags of a machine-made property that no image has any more (classes guessed under an
        older threshold)."""
        with self.db.write() as conn:
            vectors_sql.prune_machine_tags(conn, property_name)

    def delete_machine_property(self, property_name: str) -> bool:
        """Delete a machine-made property with its tags and values, outside the undo log like its writes;
        whether there was one. A user's property of that name is a Conflict."""
        with self.db.write() as conn:
            found = annotations_sql.property_named(conn, property_name)
            if found is None:
                return False
            if not found["machine"]:
                raise Conflict(f"{property_name!r} is a property of the user's, not the model's guesses: "
                               "delete it as any other property", property=property_name)
            annotations_sql.delete_property(conn, found["id"])
            return True

    def stored_vectors(self, vtype: dict) -> tuple[np.ndarray, np.ndarray]:
        """Every vector of a type as stored, by content id: (content ids sorted, rows)."""
        return vectors_sql.stored_vectors(self.db.reader, vtype)


def _machine_property(conn, property_name: str, type: str) -> int:
    """The id of the machine-made property of this name and type, created when missing; Conflict when the
    name is a user's property or a machine-made one of another type."""
    found = annotations_sql.property_named(conn, property_name)
    if found is None:
        return vectors_sql.insert_machine_property(conn, property_name, type)
    if not found["machine"]:
        raise Conflict(f"the project has a property {property_name!r} of its own, so the model's "
                       f"results cannot be written; rename that property first", property=property_name)
    if found["type"] != type:
        raise Conflict(f"the machine-made property {property_name!r} is a {found['type']} property, not a "
                       f"{type} one; delete it first", property=property_name)
    return found["id"]
