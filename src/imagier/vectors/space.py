"""The vectors of a project as analysis reads them: per vector type, the matrix in memory, its search
index and the calibration of its scores.

Each is derived data, built on first use and kept until the type's `version` changes (any write to its
vectors, from this process or another; store/vectors.py raises it), so opening a project loads nothing.
"""

from __future__ import annotations

import numpy as np

from ..errors import NotFound
from ..operations.vectors import Matrix, VectorStore
from .calibration import Calibration, calibrate
from .index import ANN_THRESHOLD, SearchIndex


class VectorSpace:
    """The matrices, search indexes and calibrations of the vector types of `store`."""

    def __init__(self, store: VectorStore):
        self.store = store
        # Searches over more candidates than this use the approximate (FAISS) index; a project (or a test)
        # may set its own.
        self.ann_threshold = ANN_THRESHOLD
        self._matrices: dict[str, Matrix] = {}
        self._indexes: dict[str, SearchIndex] = {}
        self._calibrations: dict[tuple[int, int], Calibration] = {}

    def matrix(self, name: str | None = None) -> Matrix:
        """The vectors of a type (the default one when None) as one in-memory matrix, kept while unchanged."""
        vtype = self.store.vector_type(name)
        cached = self._matrices.get(vtype["name"])
        if cached is not None and cached.type["version"] == vtype["version"] and cached.type["id"] == vtype["id"]:
            return cached
        ids, data = self.store.stored_vectors(vtype)
        if vtype["metric"] == "cosine":
            data = data.astype(np.float32)
            norms = np.linalg.norm(data, axis=1, keepdims=True)
            data = data / np.where(norms == 0, 1, norms)
        matrix = self._matrices[vtype["name"]] = Matrix(vtype, ids, data)
        return matrix

    def search_index(self, vector_type: str | None = None) -> SearchIndex:
        """The search index of a vector type's current vectors (kept while they are unchanged); NotFound
        when the type has no vectors yet."""
        matrix = self.matrix(vector_type)
        if len(matrix.content_ids) == 0:
            raise NotFound(f"vector type {matrix.type['name']!r} has no vectors yet: run `imagier embed`",
                           vector_type=matrix.type["name"])
        index = self._indexes.get(matrix.type["name"])
        if index is None or index.matrix is not matrix or index.ann_threshold != self.ann_threshold:
            index = self._indexes[matrix.type["name"]] = SearchIndex(matrix, self.ann_threshold)
        return index

    def calibration(self, index: SearchIndex) -> Calibration:
        """How the similarities of random pairs are distributed in this index: what turns a similarity
        into a score."""
        key = (index.matrix.type["id"], index.matrix.type["version"])
        if key not in self._calibrations:
            self._calibrations.clear()  # one version per type is ever asked for again; drop the stale ones
            self._calibrations[key] = calibrate(index)
        return self._calibrations[key]

    def delete_vector_type(self, name: str) -> None:
        """Delete a vector type and its vectors (they can be computed again), and its matrix from memory."""
        self.store.delete_vector_type(name)
        self._matrices.pop(name, None)
