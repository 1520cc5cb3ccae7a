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
  similarity of the cluster's pairs of images, calibrated like every score (see vectors/calibration.py), and
  `similarity` that mean raw; a cluster of one image has cohesion 1.
- `save_as=PROPERTY` stores the clusters as tags "cluster 1", "cluster 2", ... of a tag property
  (created when missing) in one undoable operation whose params hold the provenance (algorithm,
  parameters, vector type and version). Sub-clustering the images of a tag (`parent="cluster 2"`)
  makes tags "cluster 2.1", "cluster 2.2", ... whose parent is "cluster 2".
- `save_clusters` stores clusters already made (what the web page showed, sub-clusters included) the
  same way, so what is saved is exactly what the researcher reviewed, without clustering again.
- `text_weight` (0 to 1) clusters memes by picture and words together: each image's vector is joined by
  its OCR text's (memes.py), so that two images with text are as similar as (1 - w) x their pictures +
  w x their words; images without text keep their picture alone. Cohesion scores and the order of the
  members stay those of the pictures.
- Clustering writes nothing until it has finished, so a cancelled run leaves the project unchanged
  and is resumed by running it again.
"""

from __future__ import annotations

import threading

import numpy as np

from ..checks import number_between, whole_number
from ..errors import Conflict, InvalidInput, NotFound
from ..operations.annotations import Annotations
from ..operations.files import Files
from ..operations.oplog import OpLog
from ..operations.query import Querying
from ..store.types import TAG_TYPES
from ..vectors.space import VectorSpace
from .memes import Memes, with_text
from .similarity import Similarity

METHODS = ("kmeans", "hdbscan")
AUTO_K_MAX = 30
SILHOUETTE_SAMPLE = 2_000
KMEANS_ITERATIONS = 20
# k-means starts from k-means++ centres (each drawn far from those drawn before) and, up to this many images,
# starts over KMEANS_TRIES times and keeps its best partition: from random centres, two close images drawn as
# two centres split an obvious pair, and on the memes of bench_memes.py's calibration half two templates
# were merged and a third split (pairwise F1 0.79-0.89 with three seeds; 1.00 with these starts).
KMEANS_RETRY_UP_TO, KMEANS_TRIES = 10_000, 5
SEED = 1234
# HDBSCAN's cost grows faster than n log n in high dimensions: beyond this, k-means (or a filter).
HDBSCAN_LIMIT = 50_000
HDBSCAN_DIMS = 32  # HDBSCAN runs on this many principal components: density estimates fail in 512-d


class ClusterList(list):
    """The clusters, with `provenance`: how they were made (what the operation log records)."""
    provenance: dict


class Clustering:
    """Clusters of the images `querying` selects, by their vectors in `vectors` (files without one are named
    through `similarity`) and, with a text weight, the words read in them (`memes`), saved as tags of
    `annotations` in one undoable operation of `oplog`."""

    def __init__(self, vectors: VectorSpace, similarity: Similarity, files: Files, querying: Querying,
                 annotations: Annotations, oplog: OpLog, memes: Memes):
        self.vectors = vectors
        self.memes = memes
        self.similarity = similarity
        self.files = files
        self.querying = querying
        self.annotations = annotations
        self.oplog = oplog

    def cluster(self, filter=None, *, ids=None, k: int | None = None, method: str = "kmeans",
                vector_type: str | None = None, save_as: str | None = None, parent: str | None = None,
                min_cluster_size: int | None = None, text_weight: float = 0.0,
                cancel: threading.Event | None = None) -> ClusterList:
        """Cluster a set of images: those of `ids` (file ids), else of `filter`, else of the tag `parent`
        of the property `save_as`, else every image. Returns [{"cluster", "score", "similarity", "size",
        "ids", "paths"}] covering every input image once (see the module for the details), with
        `.provenance`. `save_as` saves them as tags of that property, as one undoable operation.
        `text_weight` (0 to 1) weighs the words read in the images (`imagier ocr`) against the pictures."""
        _check_options(k, method, save_as, parent, min_cluster_size, text_weight)
        files = self._cluster_input(filter, ids, save_as, parent)
        index = self.vectors.search_index(vector_type)
        contents = list(dict.fromkeys(f["content_id"] for f in files))
        rows = index.matrix.index_of(contents)
        if (rows < 0).any():
            self.similarity.rows_of_files(index, [f["id"] for f in files])  # raises, naming images without a vector
        vectors = index.vectors[rows]
        n = len(contents)
        if k is not None and k > n:
            raise InvalidInput(f"cannot make {k} clusters of {n} distinct image(s)", k=k, images=n)
        clustered = self._with_text(vectors, contents, text_weight)
        if method == "kmeans":
            chosen = k if k is not None else _auto_k(clustered, cancel)
            labels = _kmeans(clustered, chosen)
            params = {"k": chosen, "k_chosen": "given" if k is not None else "best silhouette"}
        else:
            size = min_cluster_size or max(2, min(50, n // 20))
            labels = _hdbscan(clustered, size)
            params = {"min_cluster_size": size}
        if text_weight:
            params.update(text_weight=text_weight, text="the words read in the images, character n-gram TF-IDF")
        if cancel is not None and cancel.is_set():
            raise Conflict("clustering was cancelled; nothing was saved")
        vtype = index.matrix.type
        provenance = {"algorithm": method, **params, "seed": SEED, "vector_type": vtype["name"],
                      "model": vtype["model"], "vector_type_version": vtype["version"], "images": len(files),
                      "filter": filter, "parent": parent}
        clusters = ClusterList(self._describe_clusters(index, vectors, labels, contents, files))
        if save_as is not None:
            provenance["property"] = save_as
            self.save_clusters(save_as, clusters, parent=parent, provenance=provenance)
        clusters.provenance = provenance
        return clusters

    def check_cluster(self, filter=None, *, ids=None, k: int | None = None, method: str = "kmeans",
                      vector_type: str | None = None, save_as: str | None = None, parent: str | None = None,
                      min_cluster_size: int | None = None, text_weight: float = 0.0) -> None:
        """Refuse, before a clustering starts in the background, what `cluster` would refuse once running:
        an unknown method, a bad k, min_cluster_size or text_weight, a bad filter, ids that are no image,
        an unknown vector type."""
        _check_options(k, method, save_as, parent, min_cluster_size, text_weight)
        self.querying.check_selection(filter, ids)
        self.vectors.store.vector_type(vector_type)

    def _with_text(self, vectors: np.ndarray, contents: list[int], text_weight: float) -> np.ndarray:
        """The vectors to cluster: the pictures', joined by their texts' when the text weighs anything."""
        if not text_weight:
            return vectors
        text = self.memes.text_vectors(contents)
        if text is None:
            raise InvalidInput("clustering by words needs the text in the images, and none of these holds any: "
                               "run `imagier ocr` first, or set the text weight to 0", text_weight=text_weight)
        return with_text(vectors, text, text_weight)

    def _cluster_input(self, filter, ids, save_as, parent) -> list[dict]:
        if ids is not None:
            files = self.files.existing_files(ids)
            if filter is not None:
                allowed = set(self.querying.query_ids(filter))
                files = [f for f in files if f["id"] in allowed]
        elif parent is not None:
            condition = {"property": save_as, "op": "eq", "value": parent}
            chosen = condition if filter is None else {"and": [filter, condition]}
            files = self.files.files(self.querying.query_ids(chosen))
        else:
            files = self.files.files(self.querying.query_ids(filter))
        if not files:
            raise InvalidInput("nothing to cluster: the selection has no images")
        return files

    def _describe_clusters(self, index, vectors, labels, contents, files) -> list[dict]:
        files_of: dict[int, list[dict]] = {}
        for f in sorted(files, key=lambda f: f["id"]):
            files_of.setdefault(f["content_id"], []).append(f)
        calibration = self.vectors.calibration(index)
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

    def save_clusters(self, property: str, clusters: list[dict], *, parent: str | None = None,
                      provenance: dict | None = None) -> list[dict]:
        """Save clusters as tags of the tag property `property` (created when missing) in one undoable
        operation whose params are `provenance` (how the clusters were made).

        Each cluster is {"ids": file ids, "cluster": its number, "noise": bool, "clusters": its
        sub-clusters (optional, the same shape, among its images)}; clusters of one level share no image.
        Tags are named "cluster N" ("unclustered" for noise), a sub-cluster's "cluster N.M" under its
        cluster's tag; with `parent` (a tag of the property) the top level is named "PARENT.N" under it.
        An image gets the tag of the deepest cluster holding it (a multi-tag property adds every level's
        tag). Sets "tag" in each cluster dict, sub-clusters included, and returns `clusters`."""
        named = _name_clusters(clusters, parent)
        if not named:
            raise InvalidInput("no clusters to save")
        self.files.existing_files(i for c, _ in named for i in c["ids"])
        label = f"save {len(named)} clusters as {property}" + (f" under {parent}" if parent else "")
        with self.oplog.record("cluster", label, {**(provenance or {}), "property": property}):
            try:
                prop = self.annotations.property(property)
            except NotFound:
                prop = self.annotations.create_property(property, "tag")
            if prop["type"] not in TAG_TYPES:
                raise InvalidInput(f"clusters are saved as tags, but {prop['name']!r} is a {prop['type']} property",
                                   property=prop["name"])
            existing = {t["name"] for t in self.annotations.tags(prop["id"])}
            if parent is not None and parent not in existing:
                raise NotFound(f"{prop['name']} has no tag {parent!r} to save the clusters under", tag=parent)
            clash = [c["tag"] for c, _ in named if c["tag"] in existing]
            if clash:
                raise Conflict(f"{prop['name']} already has tags {', '.join(clash[:5])}: save the clusters under "
                               "another property name, or delete those tags first", property=prop["name"])
            for c, above in named:
                self.annotations.create_tag(prop["id"], c["tag"], parents=[above] if above else ())
            if prop["type"] == "tag":
                # Parents come before their sub-clusters, so the deepest cluster's tag is the one kept.
                self.annotations.set_many(prop["id"], {i: c["tag"] for c, _ in named for i in c["ids"]})
            else:
                for c, _ in named:
                    self.annotations.add_values(prop["id"], c["ids"], [c["tag"]])
        return clusters


def _check_options(k: int | None, method: str, save_as: str | None, parent: str | None,
                   min_cluster_size: int | None, text_weight: float) -> None:
    number_between("text_weight", text_weight, 0, 1)
    if method not in METHODS:
        raise InvalidInput(f"unknown clustering method {method!r}; use one of {', '.join(METHODS)}", method=method)
    if k is not None:
        whole_number("k", k)
        if method == "hdbscan":
            raise InvalidInput("HDBSCAN finds its own number of clusters: leave k out, or use kmeans")
    if min_cluster_size is not None:
        whole_number("min_cluster_size", min_cluster_size, minimum=2)
    if parent is not None and save_as is None:
        raise InvalidInput("a parent tag is a tag of the save_as property: give save_as too")


def _name_clusters(clusters, parent: str | None) -> list[tuple[dict, str | None]]:
    """Check a tree of clusters and name each: [(cluster, its parent's tag)], parents first."""
    named: list[tuple[dict, str | None]] = []
    names: set[str] = set()

    def walk(level, above: str | None, within: set | None) -> None:
        if not isinstance(level, list):
            raise InvalidInput("clusters are a list of objects with ids")
        seen: dict[int, str] = {}
        for c in level:
            if not isinstance(c, dict) or not isinstance(c.get("ids"), list) or not c["ids"]:
                raise InvalidInput(f"a cluster needs a non-empty list of image ids: {str(c)[:80]}")
            noise = bool(c.get("noise"))
            number = c.get("cluster")
            if not noise and (not isinstance(number, int) or isinstance(number, bool) or number < 1):
                raise InvalidInput(f"a cluster's number is a positive integer, not {number!r}")
            suffix = "unclustered" if noise else str(number)
            c["tag"] = f"{above}.{suffix}" if above else ("unclustered" if noise else f"cluster {suffix}")
            for i in c["ids"]:
                if not isinstance(i, int) or isinstance(i, bool):
                    raise InvalidInput(f"image ids are integers, not {i!r}", cluster=c["tag"])
                if i in seen:
                    raise InvalidInput(f"image {i} is in both {seen[i]} and {c['tag']}: clusters of one level "
                                       "share no image", id=i)
                if within is not None and i not in within:
                    raise InvalidInput(f"image {i} of {c['tag']} is not among the images of {above}", id=i)
                seen[i] = c["tag"]
            if c["tag"] in names:
                raise InvalidInput(f"two clusters would both be named {c['tag']}", cluster=c["tag"])
            named.append((c, above))
            names.add(c["tag"])
            walk(c.get("clusters") or [], c["tag"], set(c["ids"]))

    walk(clusters, parent, None)
    return named


def _kmeans(vectors: np.ndarray, k: int) -> np.ndarray:
    if k == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    import faiss
    # FAISS trains on at most 256 points a centroid (a sample: fast at 500k) and warns below 39 a
    # centroid, which a small set of images is; the warning would only confuse a researcher.
    tries = KMEANS_TRIES if len(vectors) <= KMEANS_RETRY_UP_TO else 1
    kmeans = faiss.Kmeans(vectors.shape[1], k, niter=KMEANS_ITERATIONS, nredo=tries, seed=SEED, spherical=True,
                          init_method=faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS, verbose=False,
                          min_points_per_centroid=1)
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
