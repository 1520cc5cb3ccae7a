"""Clustering any set of images (the corpus, a filter, a group, a cluster) by their vectors.

Choices a user relies on:
- Images are clustered by content: files with the same bytes always land in the same cluster.
- Every image of the input is in exactly one cluster. An image without a vector of the type is an
  error naming it (run `imagier embed` first), never silently left out.
- k-means (FAISS, spherical: cosine) with k given, or chosen automatically as the k with the best
  silhouette on a sample (k from 2 to about sqrt(n), at most AUTO_K_MAX); HDBSCAN finds its own number
  of clusters and puts the images that fit none in one extra cluster marked `"noise": true`.
- Clusters are numbered from 1, largest first; the noise cluster comes last with number 0. Members
  are ordered by distance to their cluster's centre, nearest first. `score` is the cohesion: the mean
  similarity of the cluster's pairs of images, calibrated like every score (see calibration.py), and
  `similarity` that mean raw; a cluster of one image has cohesion 1.
- `save_as=PROPERTY` stores the clusters as tags "cluster 1", "cluster 2", ... of a tag property
  (created when missing) in one undoable operation whose params hold the provenance (algorithm,
  parameters, vector type and version). Sub-clustering the images of a tag (`parent="cluster 2"`)
  makes tags "cluster 2.1", "cluster 2.2", ... whose parent is "cluster 2".
- Clustering writes nothing until it has finished, so a cancelled run leaves the project unchanged
  and is resumed by running it again.
"""

from __future__ import annotations

import threading

import numpy as np

from ..errors import Conflict, InvalidInput, NotFound
from ..store.types import TAG_TYPES
from .similarity import check_count

METHODS = ("kmeans", "hdbscan")
AUTO_K_MAX = 30
SILHOUETTE_SAMPLE = 2_000
KMEANS_ITERATIONS = 20
SEED = 1234
# HDBSCAN's cost grows faster than n log n in high dimensions: beyond this, k-means (or a filter).
HDBSCAN_LIMIT = 50_000
HDBSCAN_DIMS = 32  # HDBSCAN runs on this many principal components: density estimates fail in 512-d


class ClusterList(list):
    """The clusters, with `provenance`: how they were made (what the operation log records)."""
    provenance: dict


class Clustering:
    """Mixed into Project; expects the Similarity, Files, Querying and Annotations operations."""

    def cluster(self, filter=None, *, ids=None, k: int | None = None, method: str = "kmeans",
                vector_type: str | None = None, save_as: str | None = None, parent: str | None = None,
                min_cluster_size: int | None = None, cancel: threading.Event | None = None) -> ClusterList:
        """Cluster a set of images: those of `ids` (file ids), else of `filter`, else of the tag `parent`
        of the property `save_as`, else every image. Returns [{"cluster", "score", "similarity", "size",
        "ids", "paths"}] covering every input image once (see the module for the details), with
        `.provenance`. `save_as` saves them as tags of that property, as one undoable operation."""
        if method not in METHODS:
            raise InvalidInput(f"unknown clustering method {method!r}; use one of {', '.join(METHODS)}", method=method)
        if k is not None:
            check_count("k", k)
            if method == "hdbscan":
                raise InvalidInput("HDBSCAN finds its own number of clusters: leave k out, or use kmeans")
        if min_cluster_size is not None:
            check_count("min_cluster_size", min_cluster_size, 2)
        if parent is not None and save_as is None:
            raise InvalidInput("a parent tag is a tag of the save_as property: give save_as too")
        files = self._cluster_input(filter, ids, save_as, parent)
        index = self._search_index(vector_type)
        contents = list(dict.fromkeys(f["content_id"] for f in files))
        rows = index.matrix.index_of(contents)
        if (rows < 0).any():
            self._rows_of_files(index, [f["id"] for f in files])  # raises, naming images without a vector
        vectors = index.vectors[rows]
        n = len(contents)
        if k is not None and k > n:
            raise InvalidInput(f"cannot make {k} clusters of {n} distinct image(s)", k=k, images=n)
        if method == "kmeans":
            chosen = k if k is not None else _auto_k(vectors, cancel)
            labels = _kmeans(vectors, chosen)
            params = {"k": chosen, "k_chosen": "given" if k is not None else "best silhouette"}
        else:
            size = min_cluster_size or max(2, min(50, n // 20))
            labels = _hdbscan(vectors, size)
            params = {"min_cluster_size": size}
        if cancel is not None and cancel.is_set():
            raise Conflict("clustering was cancelled; nothing was saved")
        vtype = index.matrix.type
        provenance = {"algorithm": method, **params, "seed": SEED, "vector_type": vtype["name"],
                      "model": vtype["model"], "vector_type_version": vtype["version"], "images": len(files),
                      "filter": filter, "parent": parent}
        clusters = ClusterList(self._describe_clusters(index, vectors, labels, contents, files))
        if save_as is not None:
            provenance["property"] = save_as
            self._save_clusters(save_as, parent, clusters, provenance)
        clusters.provenance = provenance
        return clusters

    def _cluster_input(self, filter, ids, save_as, parent) -> list[dict]:
        if ids is not None:
            wanted = list(dict.fromkeys(ids))
            files = self.files(wanted)
            if len(files) != len(wanted):
                missing = sorted(set(wanted) - {f["id"] for f in files})
                raise NotFound(f"no image with id {', '.join(map(str, missing[:10]))}", ids=missing[:100])
            if filter is not None:
                allowed = set(self.query_ids(filter))
                files = [f for f in files if f["id"] in allowed]
        elif parent is not None:
            condition = {"property": save_as, "op": "eq", "value": parent}
            files = self.files(self.query_ids(condition if filter is None else {"and": [filter, condition]}))
        else:
            files = self.files(self.query_ids(filter))
        if not files:
            raise InvalidInput("nothing to cluster: the selection has no images")
        return files

    def _describe_clusters(self, index, vectors, labels, contents, files) -> list[dict]:
        files_of: dict[int, list[dict]] = {}
        for f in sorted(files, key=lambda f: f["id"]):
            files_of.setdefault(f["content_id"], []).append(f)
        calibration = self._calibration(index)
        found = []
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            block = vectors[members]
            centre = block.mean(axis=0)
            order = members[np.lexsort((members, -(block @ centre)))]
            m = len(members)
            # The mean inner product over distinct pairs, from the sum of the vectors: no m x m matrix.
            total = block.sum(axis=0)
            mean_dot = 1.0 if m == 1 else (float(total @ total) - float((block * block).sum())) / (m * (m - 1))
            similarity = float(index.similarity(mean_dot)) if m > 1 else 1.0
            members_files = [f for row in order for f in files_of[contents[row]]]
            found.append({"noise": bool(label < 0), "score": float(calibration.score(similarity)) if m > 1 else 1.0,
                          "similarity": similarity, "size": len(members_files),
                          "ids": [f["id"] for f in members_files], "paths": [f["path"] for f in members_files]})
        found.sort(key=lambda c: (c["noise"], -c["size"], -c["score"]))
        return [{"cluster": 0 if c["noise"] else number, **c} for number, c in enumerate(found, 1)]

    def _save_clusters(self, save_as: str, parent: str | None, clusters: list[dict], provenance: dict) -> None:
        label = f"save {len(clusters)} clusters as {save_as}" + (f" under {parent}" if parent else "")
        with self.oplog.record("cluster", label, provenance):
            try:
                prop = self.property(save_as)
            except NotFound:
                prop = self.create_property(save_as, "tag")
            if prop["type"] not in TAG_TYPES:
                raise InvalidInput(f"clusters are saved as tags, but {prop['name']!r} is a {prop['type']} property",
                                   property=prop["name"])
            existing = {t["name"] for t in self.tags(prop["id"])}
            for c in clusters:
                suffix = "unclustered" if c["noise"] else str(c["cluster"])
                c["tag"] = f"{parent}.{suffix}" if parent else ("unclustered" if c["noise"] else f"cluster {suffix}")
            clash = [c["tag"] for c in clusters if c["tag"] in existing]
            if clash:
                raise Conflict(f"{prop['name']} already has tags {', '.join(clash[:5])}: save the clusters under "
                               "another property name, or delete those tags first", property=prop["name"])
            for c in clusters:
                self.create_tag(prop["id"], c["tag"], parents=[parent] if parent else ())
            if prop["type"] == "tag":
                self.set_many(prop["id"], {i: c["tag"] for c in clusters for i in c["ids"]})
            else:
                for c in clusters:
                    self.add_values(prop["id"], c["ids"], [c["tag"]])


def _kmeans(vectors: np.ndarray, k: int) -> np.ndarray:
    if k == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    import faiss
    # FAISS trains on at most 256 points a centroid (a sample: fast at 500k) and warns below 39 a
    # centroid, which a small set of images is; the warning would only confuse a researcher.
    kmeans = faiss.Kmeans(vectors.shape[1], k, niter=KMEANS_ITERATIONS, seed=SEED, spherical=True,
                          verbose=False, min_points_per_centroid=1)
    kmeans.train(np.ascontiguousarray(vectors, dtype=np.float32))
    _, labels = kmeans.index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    return labels[:, 0].astype(np.int64)


def _auto_k(vectors: np.ndarray, cancel: threading.Event | None) -> int:
    """The k of best silhouette (cosine) on a sample, from 2 to about sqrt(n); 1 for under 3 images."""
    from sklearn.metrics import silhouette_score
    n = len(vectors)
    top = min(AUTO_K_MAX, n - 1, max(2, int(np.sqrt(n))))
    if top < 2:
        return 1
    rng = np.random.default_rng(SEED)
    sample = vectors[np.sort(rng.choice(n, size=min(n, SILHOUETTE_SAMPLE), replace=False))]
    distances = np.clip(1 - sample @ sample.T, 0, 2)
    np.fill_diagonal(distances, 0)
    best, best_score = 2, -np.inf
    for k in range(2, min(top, len(sample) - 1) + 1):
        if cancel is not None and cancel.is_set():
            break
        labels = _kmeans(sample, k)
        if len(np.unique(labels)) < 2:
            continue
        score = silhouette_score(distances, labels, metric="precomputed")
        if score > best_score:
            best, best_score = k, score
    return best


def _hdbscan(vectors: np.ndarray, min_cluster_size: int) -> np.ndarray:
    n = len(vectors)
    if n > HDBSCAN_LIMIT:
        raise InvalidInput(f"HDBSCAN on {n} images would take too long (at most {HDBSCAN_LIMIT}): use kmeans, "
                           "or cluster a filtered set", images=n)
    if n < min_cluster_size:
        return np.full(n, -1)  # too few images for any cluster: all of them are noise
    from sklearn.cluster import HDBSCAN
    centred = vectors - vectors.mean(axis=0)
    dims = min(HDBSCAN_DIMS, n, vectors.shape[1])
    _, _, components = np.linalg.svd(centred[:: max(1, n // 10_000)], full_matrices=False)
    reduced = centred @ components[:dims].T
    return HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(reduced)
