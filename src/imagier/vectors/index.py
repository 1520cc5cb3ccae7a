"""The nearest-neighbour module: top-k search over the vectors of one type (similarity, suggestions),
exact by matrix product, approximate (FAISS) beyond a size; and every row's nearest rows at once
(`nearest_rows`, the candidates of near-duplicates).

Both metrics become one: a cosine type searches its L2-normalised rows; a bit type (a perceptual hash)
is unpacked to +-1/sqrt(dim) per bit, whose inner products are 1 - 2 * hamming / dim, so the same
matrix product ranks by hamming distance. `similarity` turns an inner product into what users see:
the cosine, or 1 - hamming / dim for bits (both "1 = identical").

An index is derived data: built from a `Matrix` (one version of a type's vectors), kept in memory by
its owner and dropped when the vectors change. The ANN index is built lazily on the first search that
needs it (more than `ann_threshold` candidates), so a project that never gets that big never pays.
"""

from __future__ import annotations

import threading

import numpy as np

from ..operations.vectors import Matrix

# Exact search reads every row once per query: about 150 ms at 1M 512-d rows on a laptop core pair.
# Beyond this many candidates an approximate index answers in a few milliseconds instead.
ANN_THRESHOLD = 1_000_000
CHUNK_ROWS = 262_144  # rows per matrix product: big enough for BLAS, small enough for the cache of scores
# The approximate index returns this many more candidates than asked, re-ranked exactly from the rows.
RERANK_FACTOR = 8
NPROBE = 48
# Every row's nearest rows at once (what near-duplicates start from): exact up to this many rows (a few
# seconds); beyond, an inverted file index of the rows reduced to KNN_REDUCED_DIM dimensions by PCA,
# KNN_NPROBE lists probed.
EXACT_KNN = 20_000
KNN_REDUCED_DIM, KNN_NPROBE = 128, 8


def unit_rows(matrix: Matrix) -> np.ndarray:
    """The rows of a matrix as float32 vectors whose inner products rank by similarity (see the module)."""
    if matrix.type["metric"] == "cosine":
        return matrix.rows
    dim = matrix.type["dim"]
    bits = np.unpackbits(matrix.rows, axis=1, count=dim).astype(np.float32)
    return (bits * 2 - 1) / np.float32(np.sqrt(dim))


class SearchIndex:
    """Top-k inner-product search over the rows of one version of a vector type."""

    def __init__(self, matrix: Matrix, ann_threshold: int = ANN_THRESHOLD):
        self.matrix = matrix
        self.vectors = unit_rows(matrix)
        self.ann_threshold = ann_threshold
        self._ann = None
        self._ann_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def hamming(self) -> bool:
        return self.matrix.type["metric"] == "hamming"

    def similarity(self, dots):
        """The similarity users see for inner products of these vectors: cosine, or 1 - hamming / dim."""
        return (1 + dots) / 2 if self.hamming else dots

    def dots(self, query: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Inner products of one query vector with the given rows (all rows when None), chunked."""
        source = self.vectors if rows is None else None
        count = len(self.vectors) if rows is None else len(rows)
        out = np.empty(count, dtype=np.float32)
        for start in range(0, count, CHUNK_ROWS):
            end = min(start + CHUNK_ROWS, count)
            block = source[start:end] if source is not None else self.vectors[rows[start:end]]
            np.dot(block, query, out=out[start:end])
        return out

    def search(self, query: np.ndarray, k: int, candidates: np.ndarray | None = None,
               exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k rows with the largest inner product with `query`, best first, and those products.

        `candidates` (sorted row numbers) restricts the search to those rows; `exclude` (row numbers)
        leaves rows out. A query may be the mean of several vectors: ranking by it is ranking by the
        mean inner product with each of them."""
        query = np.ascontiguousarray(query, dtype=np.float32)
        excluded = np.asarray(exclude if exclude is not None else [], dtype=np.int64)
        searched = len(self.vectors) if candidates is None else len(candidates)
        if k <= 0 or searched == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if searched > self.ann_threshold:
            return self._search_ann(query, k, candidates, excluded)
        scores = self.dots(query, candidates)
        if candidates is None:
            scores[excluded] = -np.inf
            return _top(scores, k)
        rows = np.asarray(candidates, dtype=np.int64)
        scores[np.isin(rows, excluded)] = -np.inf
        return _top(scores, k, rows)

    # ---- approximate search --------------------------------------------------------------------------

    def ann(self):
        """The FAISS index (built on first use): an inverted file of 8-bit scalar-quantised vectors, a
        quarter of the rows' memory; its answers are re-ranked exactly from the float rows."""
        with self._ann_lock:
            if self._ann is None:
                self._ann = _build_ivf(self.vectors)
            return self._ann

    def _search_ann(self, query, k, candidates, excluded) -> tuple[np.ndarray, np.ndarray]:
        import faiss
        index = self.ann()
        wanted = min(len(self.vectors), (k + len(excluded)) * RERANK_FACTOR)
        params = faiss.SearchParametersIVF(nprobe=NPROBE)
        if candidates is not None:
            selector = faiss.IDSelectorBatch(np.asarray(candidates, dtype=np.int64))
            params = faiss.SearchParametersIVF(nprobe=NPROBE, sel=selector)
        _, found = index.search(query[None, :], wanted, params=params)
        found = found[0][found[0] >= 0]
        found = found[~np.isin(found, excluded)]
        return _top(self.dots(query, found), k, found)


def _top(scores: np.ndarray, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k best finite scores, best first, as (rows, scores); `rows` names the scores (default: 0..n-1)."""
    best = np.argpartition(scores, -k)[-k:] if len(scores) > k else np.arange(len(scores))
    best = best[np.isfinite(scores[best])]
    ids, values = (best if rows is None else rows[best]), scores[best]
    order = np.lexsort((ids, -values))  # ties by row, so results are stable
    return ids[order], values[order]


def nearest_rows(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner products and rows of each row's k nearest rows (itself among them)."""
    return NearestRows(vectors).search(vectors, k)


class NearestRows:
    """The k nearest rows of a set of vectors for many queries at once, asked in as many batches as the
    caller likes (the index is built once).

    Exact for small sets (up to `exact_up_to` rows: fewer when each row is asked about many times). Beyond, an inverted file index over the rows centred and reduced by PCA:
    embeddings of photos all point roughly one way (their cosines are rarely below 0.5), so without
    centring k-means puts most rows in a few lists and every probe reads them all. Near copies stay
    nearest in the reduced space; their inner products are then computed exactly from the rows."""

    def __init__(self, vectors: np.ndarray, exact_up_to: int = EXACT_KNN):
        import faiss
        self.vectors = vectors
        n, dim = vectors.shape
        self.pca = None
        if n <= exact_up_to:
            self.index = faiss.IndexFlatIP(dim)
            self.index.add(vectors)
            return
        rng = np.random.default_rng(0)
        lists = int(max(1, min(4 * np.sqrt(n), n // 39)))   # FAISS wants 39 points a list to train
        sample = vectors[np.sort(rng.choice(n, size=min(n, lists * 40), replace=False))]
        self.pca = faiss.PCAMatrix(dim, min(dim, KNN_REDUCED_DIM))
        self.pca.train(sample)
        reduced = self._reduced(vectors)
        self.index = faiss.IndexIVFFlat(faiss.IndexFlatIP(reduced.shape[1]), reduced.shape[1], lists,
                                        faiss.METRIC_INNER_PRODUCT)
        self.index.train(reduced[np.sort(rng.choice(n, size=min(n, lists * 40), replace=False))])
        self.index.add(reduced)
        self.index.nprobe = KNN_NPROBE

    def _reduced(self, rows: np.ndarray) -> np.ndarray:
        import faiss
        reduced = np.vstack([self.pca.apply(rows[i:i + 65536]) for i in range(0, len(rows), 65536)])
        faiss.normalize_L2(reduced)
        return reduced

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Inner products and rows of each query's k nearest rows."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.pca is None:
            return self.index.search(queries, k)
        _, neighbours = self.index.search(self._reduced(queries), k)
        scores = np.full(neighbours.shape, -np.inf, dtype=np.float32)
        for i in range(0, len(queries), 4096):
            block = neighbours[i:i + 4096]
            found = block >= 0
            scores[i:i + 4096][found] = np.einsum("ij,ij->i", np.repeat(queries[i:i + 4096], k, axis=0)[found.ravel()],
                                                 self.vectors[block[found]])
        return scores, neighbours


def _build_ivf(vectors: np.ndarray):
    import faiss
    n, dim = vectors.shape
    # sqrt(n) lists trained on 40 points each: training and adding stay within seconds at 1M rows
    # (FAISS wants at least 39 points a list), and NPROBE lists are a few percent of the rows.
    lists = int(max(1, min(np.sqrt(n), n // 39)))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(n, size=min(n, lists * 40), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    return index
