"""The similarity map: every image placed in 2-D so that similar images lie close together.

t-SNE keeps neighbourhoods well but costs minutes beyond ~20,000 points on a laptop (sklearn's
Barnes-Hut took 19 s for 5,000 points and 10 s for 2,000 on this shared 2-core machine), so a map of
500,000 images is built from landmarks:
1. the vectors are reduced to PCA_DIMS principal components (fitted on a sample);
2. t-SNE lays out at most LANDMARKS of them, chosen at random (seeded, so a map is reproducible);
3. every other image goes where its NEIGHBOURS nearest landmarks (FAISS, exact) are, weighted by
   inverse squared distance, plus a little seeded jitter so images near one landmark do not stack.
Cost: seconds for the landmarks plus n x LANDMARKS x PCA_DIMS multiply-adds for the placement
(100,000 images of 512-d: PCA 1.2 s, placement 2.5 s).

A map is by content (files with the same bytes share a point) and kept in the project file with the
version of the vectors it was made from: it is computed once, and again only after new vectors.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from ..errors import Conflict, InvalidInput, NotFound
from ..store import layouts as layouts_sql
from ..store.db import Database
from ..vectors.space import VectorSpace

PCA_DIMS = 50
PCA_SAMPLE = 20_000
LANDMARKS = 2_000
NEIGHBOURS = 8
TSNE_ITERATIONS = 500
# A small map costs t-SNE next to nothing, and 500 iterations can leave its few points unsettled (with
# scikit-learn 1.9, a picture and its GIF copy among 14 images ended at opposite corners): give it more.
SMALL_MAP = 1_000
SMALL_MAP_ITERATIONS = 1_000
PLACE_CHUNK = 20_000
SEED = 1234


class Layout:
    """The similarity maps of a project file, made from the matrices of `vectors`; the maps read or made are
    kept, by vector type, in `_layouts` while their version is current."""

    def __init__(self, db: Database, vectors: VectorSpace):
        self.db = db
        self.vectors = vectors
        self._layouts: dict[int, tuple] = {}

    def layout(self, vector_type: str | None = None, *, compute: bool = True,
               progress: Callable[[dict], None] | None = None,
               cancel: threading.Event | None = None) -> dict:
        """The 2-D similarity map of a vector type (the default one when None): {"vector_type", "version",
        "params", "ids" (file ids, int64 array), "xy" (float32 array n x 2, in [0, 1]), "missing" (files
        without a vector, not on the map)}. Computed when missing or made from older vectors (unless
        compute=False: then a NotFound), and kept in the project file."""
        vtype = self.vectors.store.vector_type(vector_type)
        stored = self._stored_layout(vtype)
        if stored is None:
            if not compute:
                raise NotFound(f"the map of {vtype['name']!r} has not been computed yet", vector_type=vtype["name"])
            stored = self._compute_layout(vtype, progress, cancel)
        version, params, content_ids, coords = stored
        file_ids, file_contents = layouts_sql.files_and_contents(self.db.reader)
        rows = np.searchsorted(content_ids, file_contents).clip(max=max(len(content_ids) - 1, 0))
        placed = (content_ids[rows] == file_contents) if len(content_ids) else np.zeros(len(file_ids), bool)
        return {"vector_type": vtype["name"], "version": version, "params": params, "ids": file_ids[placed],
                "xy": coords[rows[placed]], "missing": int((~placed).sum())}

    def _stored_layout(self, vtype: dict):
        cached = self._layouts.get(vtype["id"])
        if cached is None or cached[0] != vtype["version"]:
            cached = layouts_sql.load(self.db.reader, vtype["id"])
            if cached is None or cached[0] != vtype["version"]:
                return None
            self._layouts[vtype["id"]] = cached
        return cached

    def _compute_layout(self, vtype: dict, progress, cancel):
        started = time.monotonic()
        matrix = self.vectors.matrix(vtype["name"])
        if len(matrix.content_ids) == 0:
            raise InvalidInput(f"the vector type {vtype['name']!r} has no vectors yet: run `imagier embed --model "
                               f"{vtype['name']}` first", vector_type=vtype["name"])

        n = len(matrix.content_ids)
        # One step for the PCA, a few for t-SNE (the slow part of a small map), one per chunk placed.
        steps = 1 + 4 + -(-max(0, n - LANDMARKS) // PLACE_CHUNK)
        done = 0

        def stage(name: str, weight: int = 1) -> None:
            nonlocal done
            if cancel is not None and cancel.is_set():
                raise Conflict("the map was cancelled; nothing was saved")
            if progress is not None:
                progress({"stage": name, "done": done, "total": steps})
            done += weight

        vectors = matrix.rows
        if vtype["dtype"] == "bits":
            vectors = np.unpackbits(vectors, axis=1)[:, :vtype["dim"]].astype(np.float32)
        stage("reduce")
        reduced = _pca(vectors, PCA_DIMS)
        rng = np.random.default_rng(SEED)
        landmarks = np.sort(rng.choice(n, size=min(n, LANDMARKS), replace=False))
        stage("landmarks", 4)
        anchor = _embed_landmarks(reduced[landmarks])
        coords = np.empty((n, 2), dtype=np.float32)
        coords[landmarks] = anchor
        others = np.setdiff1d(np.arange(n), landmarks)
        if len(others):
            import faiss
            index = faiss.IndexFlatL2(reduced.shape[1])
            index.add(np.ascontiguousarray(reduced[landmarks]))
            k = min(NEIGHBOURS, len(landmarks))
            spread = 0.01 * float(np.ptp(anchor, axis=0).max() or 1.0)
            for start in range(0, len(others), PLACE_CHUNK):
                stage("place")
                rows = others[start:start + PLACE_CHUNK]
                distances, nearest = index.search(np.ascontiguousarray(reduced[rows]), k)
                weights = 1.0 / (distances + 1e-6)
                weights /= weights.sum(axis=1, keepdims=True)
                coords[rows] = np.einsum("ij,ijk->ik", weights, anchor[nearest]) + \
                    rng.normal(0, spread, (len(rows), 2)).astype(np.float32)
        coords -= coords.min(axis=0)
        coords /= float(coords.max() or 1.0)
        params = {"method": "pca + t-sne of landmarks", "pca_dims": reduced.shape[1], "landmarks": len(landmarks),
                  "neighbours": NEIGHBOURS, "seed": SEED, "seconds": round(time.monotonic() - started, 2)}
        stage("save")
        stored = (vtype["version"], params, matrix.content_ids.copy(), coords)
        with self.db.write() as conn:
            layouts_sql.save(conn, vtype["id"], *stored)
        self._layouts[vtype["id"]] = stored
        return stored


def summary(found: dict) -> dict:
    """A map as reported without its points (the CLI's output, the result of the server's layout job)."""
    return {"vector_type": found["vector_type"], "version": found["version"], "params": found["params"],
            "points": len(found["ids"]), "missing": found["missing"]}


def _pca(vectors: np.ndarray, dims: int) -> np.ndarray:
    """The vectors on their first `dims` principal components (fitted on a sample of at most PCA_SAMPLE)."""
    mean = vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
    sample = vectors[:: max(1, len(vectors) // PCA_SAMPLE)] - mean
    _, _, components = np.linalg.svd(sample, full_matrices=False)
    components = np.ascontiguousarray(components[:min(dims, len(components))].T)
    reduced = np.empty((len(vectors), components.shape[1]), dtype=np.float32)
    # In chunks: centring 500,000 x 1280 vectors at once would copy 2.5 GB.
    for start in range(0, len(vectors), PLACE_CHUNK):
        reduced[start:start + PLACE_CHUNK] = (vectors[start:start + PLACE_CHUNK] - mean) @ components
    return reduced


def _embed_landmarks(points: np.ndarray) -> np.ndarray:
    """A 2-D t-SNE of the landmarks; for a handful of points, where t-SNE has no neighbourhoods to keep,
    their first two principal components."""
    n = len(points)
    if n < 6:
        flat = np.zeros((n, 2), dtype=np.float32)
        flat[:, :min(2, points.shape[1])] = points[:, :2]
        return flat
    from sklearn.manifold import TSNE
    perplexity = float(min(30.0, (n - 1) / 3))
    iterations = SMALL_MAP_ITERATIONS if n <= SMALL_MAP else TSNE_ITERATIONS
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=SEED, max_iter=iterations)
    return tsne.fit_transform(points).astype(np.float32)
