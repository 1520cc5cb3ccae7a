"""Suggestions: images outside a group (say, every image tagged "cups" in "category") that probably
belong to it, ranked, to accept (the group's value is applied) or reject (never proposed again).

A candidate's raw score is the mean similarity to its NEAREST closest group members: near a few
members is stronger evidence than near the group's average, and a group of several kinds of cups
still finds each kind. Groups larger than GROUP_SAMPLE are represented by a fixed random sample of
their members, so one request costs at most n x GROUP_SAMPLE inner products. `score` is calibrated
like every score (see vectors/calibration.py). Images sharing a content with a member are members, not
suggestions; images without a vector cannot be suggested.
"""

from __future__ import annotations

import numpy as np

from ..checks import whole_number
from ..errors import InvalidInput
from ..operations.annotations import Annotations
from ..operations.files import Files
from ..operations.oplog import OpLog
from ..operations.query import Querying
from ..store import suggestions as suggestions_sql
from ..store.db import Database
from ..store.types import TAG_TYPES
from ..vectors.space import VectorSpace
from .similarity import Similarity

NEAREST = 3
GROUP_SAMPLE = 256
SCORE_CELLS = 8_000_000  # candidates x members scored at once (32 MB of float32)


class Suggestions:
    """Suggested members of a group of `annotations` (the images `querying` finds for a value), ranked
    through `vectors` and `similarity`; accepting and rejecting are undoable operations of `oplog`."""

    def __init__(self, db: Database, oplog: OpLog, vectors: VectorSpace, similarity: Similarity, files: Files,
                 querying: Querying, annotations: Annotations):
        self.db = db
        self.oplog = oplog
        self.vectors = vectors
        self.similarity = similarity
        self.files = files
        self.querying = querying
        self.annotations = annotations

    def suggestions(self, property: str, value, *, top_k: int = 20, filter=None,
                    vector_type: str | None = None) -> list[dict]:
        """Images not in the group `property` = `value` that probably belong to it, best first:
        [{"id", "path", "score", "similarity", "rank"}]; rejected ones are never proposed again."""
        whole_number("top_k", top_k)
        prop, members = self._suggestion_group(property, value)
        index = self.vectors.search_index(vector_type)
        member_rows = index.matrix.index_of(self.files.content_ids_of_files(members))
        member_rows = np.unique(member_rows[member_rows >= 0])
        if len(member_rows) == 0:
            raise InvalidInput(f"no image of {prop['name']} = {value!r} has a {index.matrix.type['name']!r} vector "
                               "yet: run `imagier embed` first", property=prop["name"], value=value)
        candidates, allowed = self.similarity.candidates(index, filter)
        rows = np.arange(len(index)) if candidates is None else candidates
        key = suggestions_sql.group_key(prop["name"], value)
        rejected = index.matrix.index_of(suggestions_sql.rejected(self.db.reader, key))
        rows = np.setdiff1d(rows, np.concatenate([member_rows, rejected[rejected >= 0]]))
        if len(member_rows) > GROUP_SAMPLE:
            member_rows = np.sort(np.random.default_rng(0).choice(member_rows, GROUP_SAMPLE, replace=False))
        dots = _nearest_mean(index.vectors, rows, index.vectors[member_rows])
        best = np.lexsort((rows, -dots))[:top_k]
        return self.similarity.scored_files(index, rows[best], index.similarity(dots[best]), allowed)[:top_k]

    def accept_suggestions(self, property: str, value, ids) -> int:
        """Give these images the group's value (a tag is added to a multi-tag property's other tags), as one
        undoable operation; returns the number of images."""
        prop, _ = self._suggestion_group(property, value)
        ids = list(ids)
        with self.oplog.record("accept_suggestions", f"accept {len(ids)} suggestion{'' if len(ids) == 1 else 's'} for {prop['name']} = {value}",
                               {"property": prop["name"], "value": value, "ids": ids[:1000]}):
            if prop["type"] in TAG_TYPES:
                return self.annotations.add_values(prop["id"], ids, value)
            return self.annotations.set_values(prop["id"], ids, value)

    def reject_suggestions(self, property: str, value, ids) -> int:
        """Remember that these images do not belong to the group `property` = `value`, so they are never
        suggested for it again (nor any file with the same bytes); returns how many were newly rejected.
        Undoable, like every decision of the user's."""
        prop, _ = self._suggestion_group(property, value)
        ids = list(ids)
        found = {f["id"]: f["content_id"] for f in self.files.files(ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise InvalidInput(f"no image with id {', '.join(map(str, missing[:10]))}", ids=missing[:100])
        with self.oplog.record("reject_suggestions", f"reject suggestions for {prop['name']} = {value}",
                               {"property": prop["name"], "value": value, "ids": ids}) as conn:
            return suggestions_sql.reject(conn, suggestions_sql.group_key(prop["name"], value), set(found.values()))

    def _suggestion_group(self, property: str, value) -> tuple[dict, list[int]]:
        """The group's property and its images; an error when the group has none."""
        prop = self.annotations.property(property)
        members = self.querying.query_ids({"property": prop["name"], "op": "eq", "value": value})
        if not members:
            raise InvalidInput(f"no image has {prop['name']} = {value!r}: a group needs members to be suggested "
                               "for", property=prop["name"], value=value)
        return prop, members


def _nearest_mean(vectors: np.ndarray, rows: np.ndarray, members: np.ndarray) -> np.ndarray:
    """For each row, the mean inner product with its NEAREST closest members."""
    nearest = min(NEAREST, len(members))
    out = np.empty(len(rows), dtype=np.float32)
    step = max(1, SCORE_CELLS // len(members))
    for start in range(0, len(rows), step):
        block = vectors[rows[start:start + step]] @ members.T
        out[start:start + step] = np.partition(block, -nearest, axis=1)[:, -nearest:].mean(axis=1)
    return out
