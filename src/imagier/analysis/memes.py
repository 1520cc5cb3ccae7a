"""Memes: the words read in the pictures (OCR, ocr/) beside the pictures, for clustering and near-duplicates.

- The text of an image is its words (store/ocr.py) as a character n-gram TF-IDF: fragments of words, so
  that a misread letter or a lost accent costs a few n-grams, not the word. For clustering, it is reduced
  by SVD to TEXT_DIMS columns and weighed against the image vectors (`with_text`): images without text
  keep only their picture, so they still cluster by picture.
- Near-duplicate detection (duplicates.py) hands its candidate and verified pairs to `relate`, which
  names two more relations among images that both hold text: "same template", the pictures agree once
  the text regions (the stored word boxes) are masked but the words differ; "same text", the words agree
  but the pictures, text masked, do not. Pictures are compared on their thumbnails, each word's box
  painted over with the colour around it (a caption bar becomes plain and is trimmed off with the
  picture's plain borders), in grey at FRAME x FRAME, the masked pixels of either left out.

Images never read (`imagier ocr`) or read without text take no part: their pairs stay as the pictures
alone decided.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from ..operations.files import Files
from ..store import ocr as ocr_sql
from ..store.db import Database
from ..vectors.index import nearest_rows
from .matching import Match

TEXT_DIMS = 128           # columns of the reduced text vectors clustering sees
NGRAMS = (2, 4)           # lengths of the character n-grams, within words
SEED = 1234
TEXT_NEIGHBOURS = 10      # each text's nearest texts asked whether they hold the same words
FRAME = 32                # side of the grey frames compared, text masked
GROW = 0.25               # a word's box grows by this share of its height on each side (outline, accents)
PLAIN_LEVELS, PLAIN_SHARE = 12.0, 0.97   # a plain row or column: this share of it within these grey levels
MIN_PICTURE = 0.3         # share of a frame that must be left unmasked to tell two pictures apart
# Relations the pictures' verification names that keep the frame: a caption the two share can fool it into
# them, so the masked pictures may overrule them. A "crop of" or "mirrored" copy with the same words stays
# one (the masked frames, not aligned, cannot tell); with other words it is "same template" when the masked
# frames agree (a caption bar above one of them reads as a crop).
FRAME_KEEPING = {"same", "overlay", "resized", "greyscale"}
# Set on the calibration half of benchmarks/bench_memes.py's corpus (84 images, 2,556 pairs of captioned
# ones), in the middle of the gap between the kinds of pair: the texts of other captions reach a cosine of
# 0.13, those of one caption 1.00; the masked frames of other photographs reach 0.84, those of one photograph
# (rescaled, recaptioned) 1.00.
SAME_WORDS = 0.55         # cosine of the two texts' TF-IDF from which the words are the same
SAME_PICTURE = 0.92       # correlation of the masked frames from which the pictures are the same


class Memes:
    """The words read in the images of `files` (their readings in `db`), as vectors and as relations."""

    def __init__(self, db: Database, files: Files):
        self.db = db
        self.files = files

    def words(self, content_ids) -> dict[int, list[dict]]:
        """The words read in these contents, {content id: [{"line", "text", "confidence", "x", "y", "w",
        "h"}]}, for those that were read and hold text."""
        found = ocr_sql.words_of_contents(self.db.reader, [int(c) for c in content_ids])
        return {c: words for c, words in found.items() if words}

    def text_vectors(self, content_ids) -> np.ndarray | None:
        """One row of TEXT_DIMS float32 per content: its text's reduced TF-IDF, of unit length, or zeros
        without text; None when none of them holds text."""
        content_ids = [int(c) for c in content_ids]
        words = self.words(content_ids)
        if not words:
            return None
        texted = [i for i, c in enumerate(content_ids) if c in words]
        rows = np.zeros((len(content_ids), TEXT_DIMS), dtype=np.float32)
        rows[texted] = _reduced(_tfidf([_text(words[content_ids[i]]) for i in texted]))
        return rows

    def relate(self, contents, candidates, verified: list[tuple[int, int, Match]]) -> list[tuple[int, int, Match]]:
        """The verified pairs (content ids, smaller first, with their match), with "same template" and
        "same text" named among `contents` (see the module): pairs of `candidates` (the pairs the pictures'
        vectors proposed) and of texts near each other, both of whose images hold text."""
        words = self.words(contents)
        texted = sorted(words)
        if len(texted) < 2:
            return verified
        tfidf = _tfidf([_text(words[c]) for c in texted])
        row = {c: i for i, c in enumerate(texted)}
        pairs = {(a, b) for a, b in candidates if a in row and b in row}
        pairs |= {(texted[i], texted[j]) for i, j in _text_neighbours(tfidf)}
        by_pair = {(a, b): match for a, b, match in verified}
        frames = _Frames(self.files, words)
        for a, b in sorted(pairs):
            relation = _relation(float(tfidf[row[a]].multiply(tfidf[row[b]]).sum()),
                                 frames.agreement(a, b), by_pair.get((a, b)))
            if relation is not None:
                by_pair[(a, b)] = relation
        return [(a, b, match) for (a, b), match in sorted(by_pair.items())]


def with_text(vectors: np.ndarray, text: np.ndarray, weight: float) -> np.ndarray:
    """Image vectors (unit rows) and text vectors (unit rows, or zeros without text) as one unit row each,
    whose inner product is (1 - weight) x the pictures' + weight x the texts' for two images with text;
    an image without text keeps its picture alone."""
    has_text = np.linalg.norm(text, axis=1) > 0
    picture_share = np.where(has_text, np.sqrt(1 - weight), 1.0).astype(np.float32)
    return np.hstack([vectors * picture_share[:, None], text * np.float32(np.sqrt(weight))]).astype(np.float32)


def _relation(words: float, picture: float | None, match: Match | None) -> Match | None:
    """The relation of a pair from the cosine of its texts, the agreement of its masked pictures (None when
    too little is left unmasked: then the pictures' own verification decides) and that verification."""
    same_picture = (match is not None) if picture is None else picture >= SAME_PICTURE
    if words >= SAME_WORDS and not same_picture and (match is None or match.relation in FRAME_KEEPING):
        return Match("same text", False, round(words, 4), 0)
    if words < SAME_WORDS and same_picture:
        return Match("same template", False, round(match.score if picture is None else picture, 4), 0)
    return None


def _text(words: list[dict]) -> str:
    return " ".join(w["text"] for w in words)


def _tfidf(texts: list[str]):
    """The texts' character n-gram TF-IDF: a sparse matrix of unit rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    return TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, strip_accents="unicode", sublinear_tf=True,
                           dtype=np.float32).fit_transform(texts)


def _reduced(tfidf) -> np.ndarray:
    """The rows of a TF-IDF matrix in TEXT_DIMS columns, unit length: exact inner products when the rows or
    the n-grams are at most TEXT_DIMS, else those of the truncated SVD (latent semantic analysis)."""
    if min(tfidf.shape) <= TEXT_DIMS:
        u, s, _ = np.linalg.svd(tfidf.toarray(), full_matrices=False)
    else:
        from sklearn.utils.extmath import randomized_svd
        u, s, _ = randomized_svd(tfidf, TEXT_DIMS, random_state=SEED)
    reduced = np.zeros((tfidf.shape[0], TEXT_DIMS), dtype=np.float32)
    kept = min(TEXT_DIMS, len(s))
    reduced[:, :kept] = u[:, :kept] * s[:kept]
    norms = np.linalg.norm(reduced, axis=1, keepdims=True)
    return reduced / np.maximum(norms, 1e-12)


def _text_neighbours(tfidf) -> set[tuple[int, int]]:
    """(row, row) pairs, smaller first, of each text's nearest texts that may hold the same words (their
    reduced cosine close to SAME_WORDS; the exact cosine decides)."""
    reduced = np.ascontiguousarray(_reduced(tfidf))
    scores, neighbours = nearest_rows(reduced, min(TEXT_NEIGHBOURS + 1, len(reduced)))
    source = np.repeat(np.arange(len(reduced)), neighbours.shape[1])
    keep = (neighbours.ravel() >= 0) & (scores.ravel() >= SAME_WORDS - 0.1) & (neighbours.ravel() != source)
    a, b = source[keep], neighbours.ravel()[keep]
    return set(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()))


class _Frames:
    """Each image's grey frame with its text painted over and plain borders trimmed, and the mask of its
    text, made once per image from its thumbnail."""

    def __init__(self, files: Files, words: dict[int, list[dict]]):
        self.files = files
        self.words = words
        self.made: dict[int, tuple[np.ndarray, np.ndarray] | None] = {}

    def frame(self, content_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(frame, mask), or None for a content without a thumbnail."""
        if content_id not in self.made:
            data = self.files.thumbnails_of([content_id]).get(content_id)
            grey = None if data is None else np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32)
            self.made[content_id] = None if grey is None else _masked_frame(grey, self.words[content_id])
        return self.made[content_id]

    def agreement(self, a: int, b: int) -> float | None:
        """The correlation of the two frames outside the text of either; None when too little is left (or
        a thumbnail is missing)."""
        if self.frame(a) is None or self.frame(b) is None:
            return None
        (frame_a, mask_a), (frame_b, mask_b) = self.frame(a), self.frame(b)
        keep = ~(mask_a | mask_b)
        if keep.mean() < MIN_PICTURE:
            return None
        x, y = frame_a[keep] - frame_a[keep].mean(), frame_b[keep] - frame_b[keep].mean()
        spread = float(np.sqrt((x * x).sum() * (y * y).sum()))
        return float((x * y).sum() / spread) if spread > 0 else None


def _masked_frame(grey: np.ndarray, words: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(FRAME x FRAME grey frame, its mask of text) of a picture: each word's box painted with the median
    of the pixels around it, then plain rows and columns trimmed off the edges."""
    height, width = grey.shape
    painted, mask = grey.copy(), np.zeros(grey.shape, dtype=bool)
    for w in words:
        pad = GROW * w["h"] * height
        x0, y0 = max(0, int(w["x"] * width - pad)), max(0, int(w["y"] * height - pad))
        x1, y1 = min(width, int(np.ceil((w["x"] + w["w"]) * width + pad))), min(height, int(np.ceil((w["y"] + w["h"]) * height + pad)))
        if x1 <= x0 or y1 <= y0:
            continue
        ring = grey[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2]
        painted[y0:y1, x0:x1] = np.median(ring)
        mask[y0:y1, x0:x1] = True
    top, bottom = _plain_ends(painted)
    left, right = _plain_ends(painted.T)
    if bottom - top < height * MIN_PICTURE or right - left < width * MIN_PICTURE:
        top, bottom, left, right = 0, height, 0, width  # all but plain: nothing to trim to
    frame = cv2.resize(painted[top:bottom, left:right], (FRAME, FRAME), interpolation=cv2.INTER_AREA)
    covered = cv2.resize(mask[top:bottom, left:right].astype(np.float32), (FRAME, FRAME), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(frame, (3, 3), 0), covered > 0.25


def _plain_ends(grey: np.ndarray) -> tuple[int, int]:
    """The first and past-the-last rows that are not plain, scanning in from both ends."""
    medians = np.median(grey, axis=1, keepdims=True)
    plain = (np.abs(grey - medians) <= PLAIN_LEVELS).mean(axis=1) >= PLAIN_SHARE
    detailed = np.flatnonzero(~plain)
    if len(detailed) == 0:
        return 0, len(grey)
    return int(detailed[0]), int(detailed[-1]) + 1
