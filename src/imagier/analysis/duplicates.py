"""Near-duplicates: groups of the same picture under crop, caption, resize, recompression, greyscale,
mirror or border.

Never an n x n comparison: candidate pairs are the k nearest neighbours of every image (FAISS) in the
chosen vector type (vectors/index.py) and, when the project has one, in its perceptual hash, kept when they are similar
enough to be worth a look; and each image with the one it looks most like a crop of and the one that
looks most like a crop of it, by the colour layout of its windows (crop_windows.py: a crop of a painting or a page moves every embedding too far). Each candidate is then verified on the two pictures (matching.py): local
features, which find crops and captions that global signatures miss and reject distinct photos of
similar scenes, then, for pictures with little texture (paintings, gradients, soft focus), the
structural agreement of the whole frames (also mirrored) and of the smaller picture found inside the
larger.
Files with identical bytes share one content and are duplicates without any check. Groups are the
connected components of the verified pairs.

Verification results are kept on the Duplicates part of the project object, keyed by the two contents'
hashes, so a run that was cancelled (or asked again with another filter) does not check the same pair twice.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np
from PIL import Image

from ..checks import number_between, whole_number
from ..errors import InvalidInput
from ..operations.files import Files
from ..operations.query import Querying
from ..vectors.index import nearest_rows, unit_rows
from ..vectors.space import VectorSpace
from . import crop_windows, matching
from .memes import Memes

NEIGHBOURS = 10
# Candidates less similar than this are not verified: for a cosine type the cosine, for a hash
# 1 - hamming / bits (0.75: at most 16 of 64 bits differ).
MIN_SIMILARITY = {"cosine": 0.75, "hamming": 0.75}
# And each image's few nearest neighbours down to a lower similarity: a crop of a painting or a
# gradient, or a wide border, moves its embedding further than a crop of a photo moves its (measured
# on the calibration half of the benchmark corpus: the nearest neighbour of 112 of 118 crops and borders
# is a copy of the same picture, but 14 of these lie below 0.75).
CLOSEST, CLOSEST_SIMILARITY = 3, {"cosine": 0.5, "hamming": 0.75}
# A perceptual-hash neighbour that the embedding did not propose is verified when the hashes nearly
# agree (1 - hamming / bits at least PHASH_ALONE: 6 of 64 bits differ at most) or when the embedding
# finds the two at least PHASH_COSINE alike. Among the 5,000 files of benchmarks/dup_scale.py's
# project, the copies that pHash alone proposes in the corpus's calibration half lie at a cosine of
# 0.394 and above; the pairs of different pictures it proposes, at 0.06 to 0.9 (a quarter of them
# below 0.35, which are dropped: 4% of all candidate pairs).
PHASH_ALONE, PHASH_COSINE = 0.9, 0.35
CHUNK = 256               # pairs verified between two looks at `cancel`
# Bytes of pictures' features kept in memory during a run: 15,000 to 26,000 of them (40-70 kB each, their
# frames kept 8-bit; a picture and its mirror are two), so that a picture met again later in the walk is
# seldom computed twice.
FEATURE_CACHE_BYTES = 1 << 30


class Duplicates:
    """Near-duplicates among the images `querying` selects: candidates from the matrices of `vectors`,
    verified on the thumbnails of `files`, with the relations of the words read in them (`memes`).
    `checked_pairs` remembers every verified pair, {(hash, hash): match or None}, for the life of the
    project object."""

    def __init__(self, vectors: VectorSpace, files: Files, querying: Querying, memes: Memes):
        self.vectors = vectors
        self.files = files
        self.querying = querying
        self.memes = memes
        self.checked_pairs: dict[tuple[str, str], matching.Match | None] = {}

    def duplicates(self, *, vector_type: str | None = None, filter=None, k: int = NEIGHBOURS,
                   min_similarity: float | None = None, workers: int = 2,
                   progress: Callable[[dict], None] | None = None,
                   cancel: threading.Event | None = None) -> list[dict]:
        """Groups of images that show the same picture: [{"ids": [file ids], "pairs": [{"a", "b",
        "relation", "score"}]}], largest first. A pair reads "a <relation> b": "identical" (same bytes),
        "same" (recompressed), "resized", "crop of", "bordered", "greyscale", "mirrored", "overlay"
        (a caption or text added), and between images whose text was read (`imagier ocr`; memes.py) "same
        template" (the pictures agree once their text is masked, the words differ) and "same text" (the
        words agree, the pictures do not); score (0..1) is how well the aligned pictures agree: the share
        of aligned pixels that agree when keypoints aligned them, else their structural agreement (for
        "same text", how well the words agree).

        Candidates are the `k` nearest neighbours of each image in `vector_type` (the default one when
        None) with at least `min_similarity` (by default, also the 3 nearest down to a cosine of 0.5),
        plus those of the project's perceptual hash ("phash") when it has one (unless the embedding finds
        them unlike and their hashes do not nearly agree), plus each image with the
        one whose window its colour layout matches best (a crop) and the one whose colour layout
        matches one of its windows best; `filter` restricts the images looked at. `cancel` stops between
        chunks of pairs (checked pairs are remembered: asking again resumes); progress gets {"stage",
        "done", "total", "prepared"} (pairs verified of all, and pictures whose features were computed)."""
        matrix = self._checked_matrix(vector_type, k, workers)
        file_ids = self.querying.query_ids(filter) if filter is not None else [i for i, _ in self.files.all_paths()]
        files_of = self.files.file_ids_of_contents(self.files.content_ids_of_files(file_ids))
        chosen = set(file_ids)
        files_of = {c: [f for f in fs if f in chosen] for c, fs in files_of.items()}
        contents = np.array(sorted(files_of), dtype=np.int64)
        threshold = _threshold(matrix, min_similarity)
        closest = CLOSEST_SIMILARITY[matrix.type["metric"]] if min_similarity is None else threshold
        candidates = self._duplicate_candidates(matrix, contents, k, threshold, closest, workers)
        verified = self._verify(sorted(candidates), files_of, workers, progress, cancel)
        return _groups(files_of, self.memes.relate(contents.tolist(), candidates, verified))

    def check_duplicates(self, *, vector_type: str | None = None, filter=None, k: int = NEIGHBOURS,
                         workers: int = 2) -> None:
        """Refuse, before a search starts in the background, what `duplicates` would refuse once running:
        a bad k or workers, an unknown vector type or one without vectors, a bad filter."""
        self._checked_matrix(vector_type, k, workers)
        self.querying.check_selection(filter)

    def _checked_matrix(self, vector_type: str | None, k: int, workers: int):
        whole_number("k", k)
        whole_number("workers", workers)
        matrix = self.vectors.matrix(vector_type)
        name = matrix.type["name"]
        if len(matrix.content_ids) == 0:
            raise InvalidInput(f"the vector type {name!r} has no vectors yet: run `imagier embed --model {name}` "
                               "first", vector_type=name)
        return matrix

    def _duplicate_candidates(self, matrix, contents: np.ndarray, k: int, threshold: float,
                              closest: float, workers: int = 1) -> set[tuple[int, int]]:
        """The pairs of contents worth verifying: the neighbours of each in the vectors, and each with
        the picture it looks most like a crop of (crop_windows.py, its thumbnails decoded by `workers`
        threads)."""
        return (self._neighbour_candidates(matrix, contents, k, threshold, closest)
                | crop_windows.crop_pairs(contents, self.files.thumbnails_of, workers))

    def _neighbour_candidates(self, matrix, contents: np.ndarray, k: int, threshold: float,
                              closest: float) -> set[tuple[int, int]]:
        """Neighbours in `matrix` (the k nearest at `threshold`, the CLOSEST nearest at `closest`) and
        in the perceptual hash."""
        candidates = _neighbour_pairs(matrix, contents, k, threshold)
        if closest < threshold:
            candidates |= _neighbour_pairs(matrix, contents, min(k, CLOSEST), closest)
        for other in self.vectors.store.vector_types():
            if other["model"] == "phash" and other["name"] != matrix.type["name"] and other["count"]:
                hashes = self.vectors.matrix(other["name"])
                found = _neighbour_pairs(hashes, contents, k, MIN_SIMILARITY["hamming"]) - candidates
                candidates |= _alike_enough(found, hashes, matrix)
        return candidates

    # ---- verification ---------------------------------------------------------------------------------

    def _verify(self, pairs: list[tuple[int, int]], files_of: dict[int, list[int]], workers: int,
                progress, cancel) -> list[tuple[int, int, matching.Match]]:
        """The candidate pairs (content ids) that show the same picture, with how they relate."""
        checker = _PairChecker(self.files, self.checked_pairs, {c for p in pairs for c in p}, files_of)
        pairs = _cache_friendly(pairs)
        verified = []
        with ThreadPoolExecutor(workers) as pool:
            for start in range(0, len(pairs), CHUNK):
                if cancel is not None and cancel.is_set():
                    break
                chunk = pairs[start:start + CHUNK]
                for pair, match in zip(chunk, pool.map(checker.check, chunk)):
                    if match is not None:
                        verified.append((*pair, match))
                if progress is not None:
                    progress({"stage": "verify", "done": start + len(chunk), "total": len(pairs),
                              "prepared": checker.prepared})
        return verified

    def copies_among(self, content_id: int, others: list[int]) -> dict[int, tuple[matching.Match, bool]]:
        """Which of `others` (content ids) show the same picture as `content_id`: {other: (match,
        whether the match reads "other <relation> content_id")}. Checked pairs are remembered as for
        duplicates()."""
        contents = {content_id, *others}
        checker = _PairChecker(self.files, self.checked_pairs, contents, self.files.file_ids_of_contents(list(contents)))
        found = {}
        for other in others:
            pair = (min(content_id, other), max(content_id, other))
            match = checker.check(pair)
            if match is not None:
                found[other] = (match, (pair[0] == other) != match.swapped)
        return found



def _cache_friendly(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The pairs in an order that finds more pictures' features still in the cache: a breadth-first
    walk of the graph of candidate pairs (Cuthill-McKee: each component from a picture of fewest
    candidates, neighbours by their number of candidates), each pair checked when the walk reaches the
    later of its two pictures, so the two pictures of a pair are numbered close together. In the order
    of their ids, a picture's pairs are spread over the whole run (its neighbours are anywhere), and
    once the cache (FEATURE_CACHE_BYTES) is full most of them compute the features again: at 25,000
    images five times as often as the least (benchmarks/RESULTS.md, near-duplicates at scale)."""
    neighbours: dict[int, list[int]] = {}
    for a, b in pairs:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    degree = {content: len(others) for content, others in neighbours.items()}
    position: dict[int, int] = {}
    for start in sorted(neighbours, key=lambda c: (degree[c], c)):
        if start in position:
            continue
        position[start] = len(position)
        queue = deque([start])
        while queue:
            for n in sorted(neighbours[queue.popleft()], key=lambda c: (degree[c], c)):
                if n not in position:
                    position[n] = len(position)
                    queue.append(n)
    return sorted(pairs, key=lambda p: (max(position[p[0]], position[p[1]]), min(position[p[0]], position[p[1]])))


class _PairChecker:
    """Verifies pairs of contents (thread-safe), computing each picture's features once (the last ones
    used kept, up to FEATURE_CACHE_BYTES; `prepared` counts the computations) and remembering results in
    `remembered`, keyed by the two contents' hashes."""

    def __init__(self, files: Files, remembered: dict, contents, files_of: dict[int, list[int]]):
        self.files = files
        self.facts = {f["content_id"]: f for f in files.files([files_of[c][0] for c in contents])}
        self.remembered = remembered
        self.features: OrderedDict[tuple[int, bool], matching.Features] = OrderedDict()
        self.cached_bytes = 0
        self.lock = threading.Lock()
        self.pending: dict[tuple[int, bool], Future] = {}
        self.prepared = 0

    def features_of(self, content_id: int, mirror: bool = False) -> matching.Features:
        key = (content_id, mirror)
        with self.lock:
            if key in self.features:
                self.features.move_to_end(key)
                return _expanded(self.features[key])
            # Pairs checked one after the other share pictures: a thread that needs a picture another
            # is preparing waits for it instead of computing the same features a second time.
            pending, mine = self.pending.get(key), False
            if pending is None:
                pending, mine = self.pending.setdefault(key, Future()), True
        if not mine:
            return pending.result()
        try:
            found = self._prepare(content_id, mirror)
        except BaseException as error:
            pending.set_exception(error)
            raise
        finally:
            with self.lock:
                del self.pending[key]
        pending.set_result(found)
        return found

    def _prepare(self, content_id: int, mirror: bool) -> matching.Features:
        fact = self.facts[content_id]
        image = Image.open(io.BytesIO(self.files.thumbnails_of([content_id])[content_id]))
        found = matching.features(image, (fact["width"], fact["height"]), mirror=mirror)
        kept = _compact(found)
        with self.lock:
            self.prepared += 1
            self.features[(content_id, mirror)] = kept
            self.cached_bytes += _size(kept)
            while self.cached_bytes > FEATURE_CACHE_BYTES and len(self.features) > 1:
                self.cached_bytes -= _size(self.features.popitem(last=False)[1])
        return found

    def check(self, pair: tuple[int, int]) -> matching.Match | None:
        a, b = pair
        key = (self.facts[a]["hash"], self.facts[b]["hash"])
        if key not in self.remembered:
            self.remembered[key] = matching.verify(self.features_of(a), self.features_of(b),
                                                   lambda: self.features_of(b, True))
        return self.remembered[key]


# The frames of matching.Features are 8-bit grey levels (averaged down from the 8-bit check image)
# held as float32 for the arithmetic: kept in the cache as uint8 (a quarter to a third of a picture's
# bytes less) and turned back into the same float32 values when used.
_EIGHT_BIT_FIELDS = ("frame", "whole")


def _compact(found: matching.Features) -> matching.Features:
    """The features as the cache keeps them: each frame 8-bit when that loses nothing."""
    narrowed = {}
    for name in _EIGHT_BIT_FIELDS:
        values = getattr(found, name)
        eight_bit = values.astype(np.uint8)
        if np.array_equal(eight_bit, values):
            narrowed[name] = eight_bit
    return dataclasses.replace(found, **narrowed)


def _expanded(kept: matching.Features) -> matching.Features:
    """The features as matching.py computes them, from the cache's form."""
    widened = {name: getattr(kept, name).astype(np.float32) for name in _EIGHT_BIT_FIELDS
               if getattr(kept, name).dtype == np.uint8}
    return dataclasses.replace(kept, **widened) if widened else kept


def _size(kept: matching.Features) -> int:
    """The bytes of a picture's features in the cache (their arrays; the rest is a few hundred)."""
    arrays = (getattr(kept, field.name) for field in dataclasses.fields(kept))
    return 512 + sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def _threshold(matrix, min_similarity) -> float:
    if min_similarity is None:
        return MIN_SIMILARITY[matrix.type["metric"]]
    return float(number_between("min_similarity", min_similarity, -1, 1))


def _alike_enough(pairs: set[tuple[int, int]], hashes, matrix) -> set[tuple[int, int]]:
    """The pairs of perceptual-hash neighbours worth verifying that the embedding `matrix` did not
    propose: those whose hashes nearly agree (PHASH_ALONE), and the others when the embedding finds
    them alike at least a little (PHASH_COSINE). In a large collection most pHash neighbours at 16 bits
    are pictures with a similar spread of light, unlike in every other way."""
    if not pairs or matrix.type["metric"] != "cosine":
        return pairs
    ordered = sorted(pairs)
    a, b = (np.array(side, dtype=np.int64) for side in zip(*ordered))
    bits = _pair_similarities(hashes, a, b)
    cosines = _pair_similarities(matrix, a, b)
    keep = (bits >= PHASH_ALONE) | (cosines >= PHASH_COSINE)
    return {pair for pair, kept in zip(ordered, keep) if kept}


def _pair_similarities(matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The similarity (cosine, or 1 - hamming / bits) of contents a[i] and b[i] in `matrix`; -1 for a
    pair one of whose contents has no vector there."""
    rows_a, rows_b = matrix.index_of(a), matrix.index_of(b)
    have = (rows_a >= 0) & (rows_b >= 0)
    unit = unit_rows(matrix)
    similarities = np.full(len(a), -1.0, dtype=np.float32)
    similarities[have] = np.einsum("ij,ij->i", unit[rows_a[have]], unit[rows_b[have]])
    if matrix.type["metric"] == "hamming":
        similarities[have] = (1 + similarities[have]) / 2
    return similarities


def _neighbour_pairs(matrix, contents: np.ndarray, k: int, threshold: float) -> set[tuple[int, int]]:
    """(content, content) pairs, smaller id first, of each content's k nearest neighbours among
    `contents` in this matrix whose similarity (cosine, or 1 - hamming / bits) reaches `threshold`."""
    rows = matrix.index_of(contents)
    have = rows >= 0
    ids, rows = contents[have], rows[have]
    if len(ids) < 2:
        return set()
    vectors = np.ascontiguousarray(unit_rows(matrix)[rows])
    scores, neighbours = nearest_rows(vectors, min(k + 1, len(ids)))
    if matrix.type["metric"] == "hamming":
        scores = (1 + scores) / 2  # the inner product of +-1/sqrt(bits) rows is 1 - 2 * hamming / bits
    source = np.repeat(np.arange(len(ids)), neighbours.shape[1])
    keep = (neighbours.ravel() >= 0) & (scores.ravel() >= threshold) & (neighbours.ravel() != source)
    a, b = ids[source[keep]], ids[neighbours.ravel()[keep]]
    return set(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()))


def _groups(files_of: dict[int, list[int]], verified) -> list[dict]:
    """Connected components (union-find) of the verified pairs and of files sharing a content."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    pairs_of: dict[int, list[tuple]] = {}
    for a, b, match in verified:
        parent[root(a)] = root(b)
    for a, b, match in verified:
        first, second = (b, a) if match.swapped else (a, b)
        pairs_of.setdefault(root(a), []).append(
            {"a": files_of[first][0], "b": files_of[second][0], "relation": match.relation,
             "score": round(match.score, 4)})
    members: dict[int, list[int]] = {}
    for content_id, files in files_of.items():
        if len(files) > 1 or content_id in parent:
            group = root(content_id)
            members.setdefault(group, []).extend(files)
            pairs_of.setdefault(group, []).extend(
                {"a": f, "b": files[0], "relation": "identical", "score": 1.0} for f in files[1:])
    groups = [{"ids": sorted(ids), "pairs": sorted(pairs_of.get(g, []), key=lambda p: (p["a"], p["b"]))}
              for g, ids in members.items() if len(ids) > 1]
    return sorted(groups, key=lambda g: (-len(g["ids"]), g["ids"][0]))
