"""Similar images: for one image, a group of images, or an image file from outside the project.

Vectors belong to contents, results to files: every file of a matching content is listed with its
content's score (restricted to the filter's files when there is a filter). Files with the same bytes
as the query are not "similar", they are the same picture: they are left out, like the query itself
(`project.same_content(id)` lists them).

A group is ranked by the mean of its members' similarities to each candidate, which is the inner
product with the mean of their vectors, so a group query costs one search. Every result carries
`score` (calibrated, see vectors/calibration.py), `similarity` (the raw cosine, or 1 - hamming / dim for
hashes) and `rank` (1 - score: the fraction of the project's pairs at least as similar).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..checks import number_between, whole_number
from ..errors import InvalidInput, NotFound
from ..operations.files import Files
from ..operations.query import Querying
from ..vectors.embed import embed_file
from ..vectors.index import SearchIndex, unit_rows
from ..vectors.space import VectorSpace
from .duplicates import CLOSEST_SIMILARITY, Duplicates

Query = int | str | Path | list
# Beyond the results asked for, how many more of the nearest are looked at for copies of the query, so
# that a copy its vector places lower still comes first; and how many of the nearest at most are
# checked on the pictures (about 10 ms each the first time: the page asks for 60 results at once).
COPY_POOL, COPY_CHECKS = 10, 20


def _copy_fields(found) -> dict:
    """A similar result's "copy" (it shows the same picture as the query), its "relation" (the edit, as
    in duplicates()' pairs) and which of the two is "edited" ("result": the result is the query under
    that edit; "query": the other way round)."""
    if found is None:
        return {"copy": False, "relation": None, "edited": None}
    match, result_first = found
    return {"copy": True, "relation": match.relation, "edited": "result" if result_first else "query"}


class Similarity:
    """Similar images and the meaning of scores: search indexes and calibrations from `vectors`, files
    from `files`, candidates from `querying`, copies of the query checked by `duplicates`."""

    def __init__(self, vectors: VectorSpace, files: Files, querying: Querying, duplicates: Duplicates):
        self.vectors = vectors
        self.files = files
        self.querying = querying
        self.duplicates = duplicates

    def similar(self, query: Query, *, top_k: int = 20, min_score: float | None = None, filter=None,
                vector_type: str | None = None, may_read: Callable[[Path], Path] | None = None) -> list[dict]:
        """The images most similar to `query`, best first: [{"id", "path", "score", "similarity", "rank",
        "copy", "relation", "edited"}].

        `query` is an image id, a path of the project, a list of ids or paths (a group: ranked by mean
        similarity to its members), or an image file outside the project (embedded on the fly). The
        query's own images and files with the same bytes are left out. `filter` restricts the results
        to a view's images; `min_score` drops results with a lower calibrated score.

        For one image of the project, the results that show the same picture (a crop, a mirrored,
        captioned, recoloured... copy, checked on the pictures as duplicates() checks a pair) come
        first, with "copy": true, their "relation" and which of the two is "edited" ("result" or
        "query"); mere likeness follows ("copy": false). `may_read` (the server's rule) gives the path to
        read for an image file outside the project or raises Forbidden, before it is looked at: a refused
        path is neither read nor told apart from a missing one."""
        whole_number("top_k", top_k)
        if min_score is not None:
            number_between("min_score", min_score, 0, 1, "a calibrated score")
        index = self.vectors.search_index(vector_type)
        vector, exclude = self._query_vector(index, query, may_read)
        candidates, allowed = self.candidates(index, filter)
        rows, dots = index.search(vector, top_k + COPY_POOL, candidates, exclude)
        similarities = index.similarity(dots)
        copies = {}
        if len(exclude) == 1:  # one image of the project: its copies first
            rows, similarities, copies = self._copies_first(index, int(exclude[0]), rows, similarities)
        results = [{**r, **_copy_fields(copies.get(r["content_id"]))}
                   for r in self.scored_files(index, rows, similarities, allowed, with_content=True)[:top_k]]
        return [{k: v for k, v in r.items() if k != "content_id"} for r in results
                if min_score is None or r["score"] >= min_score]

    def _copies_first(self, index: SearchIndex, query_row: int, rows: np.ndarray, similarities: np.ndarray):
        """The results reordered so that those showing the same picture as the query (checked on the
        pictures, as duplicates() checks a pair) come first, each group in its order; and the copies
        found, {content id: (match, whether it reads "result <relation> query")}. Only the
        COPY_CHECKS nearest results at least as similar as duplicates()' nearest candidates are
        checked."""
        contents = index.matrix.content_ids[rows]
        threshold = CLOSEST_SIMILARITY[index.matrix.type["metric"]]
        worth = [int(c) for c, s in zip(contents[:COPY_CHECKS], similarities[:COPY_CHECKS]) if s >= threshold]
        copies = self.duplicates.copies_among(int(index.matrix.content_ids[query_row]), worth) if worth else {}
        first = np.array([int(c) in copies for c in contents], dtype=bool)
        order = np.concatenate([np.flatnonzero(first), np.flatnonzero(~first)])
        return rows[order], similarities[order], copies

    def calibration(self, vector_type: str | None = None) -> dict:
        """How similarities are distributed among random pairs of this project's images, for a vector
        type (the default one when None): the numbers behind every calibrated score."""
        return self.vectors.calibration(self.vectors.search_index(vector_type)).summary()

    def explain_similarity(self, similarity: float, vector_type: str | None = None) -> dict:
        """What a raw similarity means in this project: its calibrated score, rank and a sentence."""
        number_between("similarity", similarity, -1, 1, "a raw similarity")
        calibration = self.vectors.calibration(self.vectors.search_index(vector_type))
        score = float(calibration.score(similarity))
        return {"similarity": similarity, "score": score, "rank": 1 - score,
                "explanation": calibration.explain(similarity)}

    # ---- shared by clustering and suggestions ------------------------------------------------------

    def rows_of_files(self, index: SearchIndex, file_ids: list[int]) -> np.ndarray:
        """The index rows of these files' contents (distinct); an error naming files without a vector."""
        contents = self.files.content_ids_of_files(file_ids)
        rows = index.matrix.index_of(contents)
        if (rows < 0).any():
            missing = [c for c, r in zip(contents, rows) if r < 0]
            files = self.files.file_ids_of_contents(missing[:5])
            names = [f["path"] for f in self.files.files([ids[0] for ids in files.values()])]
            name = index.matrix.type["name"]
            raise InvalidInput(f"{len(missing)} image(s) have no {name!r} vector yet ({', '.join(names)}"
                               f"{', ...' if len(missing) > 5 else ''}): run `imagier embed` first",
                               vector_type=name, missing=len(missing))
        return np.unique(rows)

    def candidates(self, index: SearchIndex, filter) -> tuple[np.ndarray | None, set[int] | None]:
        """The rows a filter allows (None: all) and its file ids (None: all files)."""
        if filter is None:
            return None, None
        file_ids = self.querying.query_ids(filter)
        rows = index.matrix.index_of(self.files.content_ids_of_files(file_ids))
        return np.unique(rows[rows >= 0]), set(file_ids)

    def scored_files(self, index: SearchIndex, rows: np.ndarray, similarities: np.ndarray,
                      allowed: set[int] | None, with_content: bool = False) -> list[dict]:
        """Result rows (contents, best first) as the files that show them, with their scores (and
        their content's id, when asked)."""
        calibration = self.vectors.calibration(index)
        contents = index.matrix.content_ids[rows].tolist()
        files_of = self.files.file_ids_of_contents(contents)
        scores = calibration.score(similarities)
        results = []
        for content, similarity, score in zip(contents, similarities.tolist(), scores.tolist()):
            for file_id in files_of.get(content, []):
                if allowed is None or file_id in allowed:
                    results.append({"id": file_id, "score": score, "similarity": similarity, "rank": 1 - score,
                                    **({"content_id": content} if with_content else {})})
        paths = {f["id"]: f["path"] for f in self.files.files([r["id"] for r in results])}
        return [{"id": r["id"], "path": paths[r["id"]], **{k: v for k, v in r.items() if k != "id"}}
                for r in results]

    # ---- the query ---------------------------------------------------------------------------------

    def _query_vector(self, index: SearchIndex, query: Query,
                      may_read: Callable[[Path], Path] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The vector to search with and the rows to leave out (the query's own contents)."""
        if isinstance(query, (list, tuple)):
            if not query:
                raise InvalidInput("a group query needs at least one image")
            file_ids = [self._query_file(item, allow_outside=False) for item in query]
        else:
            found = self._query_file(query, allow_outside=True, may_read=may_read)
            if isinstance(found, Path):
                return self._embed_outside(index, found), np.empty(0, np.int64)
            file_ids = [found]
        rows = self.rows_of_files(index, file_ids)
        return index.vectors[rows].mean(axis=0), rows

    def _query_file(self, ref, allow_outside: bool, may_read: Callable[[Path], Path] | None = None) -> int | Path:
        """A file id of the project, or (when allowed, and `may_read` allows it) the path of an image file
        outside it."""
        if isinstance(ref, bool) or not isinstance(ref, (int, str, Path)):
            raise InvalidInput(f"an image is given by its id or its path, not {ref!r}")
        if isinstance(ref, int):
            return self.files.file(ref)["id"]
        text = str(ref)
        if text.strip().isdigit() and not Path(text).exists():
            return self.files.file(int(text))["id"]
        try:
            return self.files.file_id(text)
        except NotFound:
            if allow_outside:
                outside = Path(text).expanduser() if may_read is None else may_read(Path(text))
                if outside.is_file():
                    return outside
            raise

    def _embed_outside(self, index: SearchIndex, path: Path) -> np.ndarray:
        """Embed an image file that is not in the project, as a row of the index."""
        vtype = index.matrix.type
        raw = embed_file(path, vtype)
        if vtype["metric"] == "hamming":
            return unit_rows(type(index.matrix)(vtype, np.zeros(1, np.int64), raw.astype(np.uint8)))[0]
        vector = raw[0].astype(np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)
