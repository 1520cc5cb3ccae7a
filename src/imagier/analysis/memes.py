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
THUMBNAIL_BATCH, PAIR_BATCH = 256, 4096   # thumbnails fetched, and pairs compared, at a time
GROW = 0.25               # a word's box grows by this share of its height on each side (outline, accents)
PLAIN_LEVELS, PLAIN_SHARE = 12.0, 0.97   # a plain row or column: this share of it within these grey levels
MIN_PICTURE = 0.3         # share of a frame that must be left unmasked to tell two pictures apart
# Relations the pictures' verification names that keep the frame: a caption the two share can fool it into
# them, so the masked pictures may overrule them. A "crop of" or "mirrored" copy with the same words stays
# one (the masked frames, not aligned, cannot tell); with other words it is "same template" when the masked
# frames agree (a caption bar above one of them reads as a crop).
FRAME_KEEPING = {"same", "overlay", "resized", "greyscale"}
# Set on the calibration half of benchmarks/bench_memes.py's corpus (84 images, 2,556 pairs of captioned
# ones). The texts of other captions reach a cosine of 0.13, those of one caption 1.00: the middle of the gap.
# The masked frames of other photographs reach 0.84 (9 pairs from 0.83, two wallpapers of one series), those
# of two copies of one photograph (each cropped, retoned, recaptioned) fall to 0.84 (1% below 0.86): the one
# threshold without an error on that half.
SAME_WORDS = 0.55         # cosine of the two texts' TF-IDF from which the words are the same
SAME_PICTURE = 0.84       # correlation of the masked frames from which the pictures are the same


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
        pairs = sorted(pairs)
        rows_a, rows_b = [row[a] for a, _ in pairs], [row[b] for _, b in pairs]
        frames, masks = _frames(self.files, words, texted)
        by_pair = {(a, b): match for a, b, match in verified}
        for (a, b), words_agree, picture in zip(pairs, _cosines(tfidf, rows_a, rows_b),
                                                _agreements(frames, masks, rows_a, rows_b)):
            relation = _relation(float(words_agree), None if np.isnan(picture) else float(picture),
                                 by_pair.get((a, b)))
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


def _cosines(tfidf, rows_a: list[int], rows_b: list[int]) -> np.ndarray:
    """The cosine of each pair of rows (rows_a[i], rows_b[i]) of a matrix of unit rows, in one product."""
    if not rows_a:
        return np.zeros(0)
    return np.asarray(tfidf[rows_a].multiply(tfidf[rows_b]).sum(axis=1)).ravel()


def _text_neighbours(tfidf) -> set[tuple[int, int]]:
    """(row, row) pairs, smaller first, of each text's nearest texts that may hold the same words (their
    reduced cosine close to SAME_WORDS; the exact cosine decides)."""
    reduced = np.ascontiguousarray(_reduced(tfidf))
    scores, neighbours = nearest_rows(reduced, min(TEXT_NEIGHBOURS + 1, len(reduced)))
    source = np.repeat(np.arange(len(reduced)), neighbours.shape[1])
    keep = (neighbours.ravel() >= 0) & (scores.ravel() >= SAME_WORDS - 0.1) & (neighbours.ravel() != source)
    a, b = source[keep], neighbours.ravel()[keep]
    return set(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()))


def _frames(files: Files, words: dict[int, list[dict]], content_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(frames, masks): each content's grey frame with its text painted over and plain borders trimmed, and
    the mask of its text, flattened, one row per content of `content_ids` (from its thumbnail, fetched a few
    hundred at a time; a content without a thumbnail is all mask)."""
    frames = np.zeros((len(content_ids), FRAME * FRAME), dtype=np.float32)
    masks = np.ones((len(content_ids), FRAME * FRAME), dtype=bool)
    for start in range(0, len(content_ids), THUMBNAIL_BATCH):
        chunk = content_ids[start:start + THUMBNAIL_BATCH]
        thumbnails = files.thumbnails_of(chunk)
        for i, content_id in enumerate(chunk, start):
            if content_id in thumbnails:
                grey = np.asarray(Image.open(io.BytesIO(thumbnails[content_id])).convert("L"), dtype=np.float32)
                frame, mask = _masked_frame(grey, words[content_id])
                frames[i], masks[i] = frame.ravel(), mask.ravel()
    return frames, masks


def _agreements(frames: np.ndarray, masks: np.ndarray, rows_a: list[int], rows_b: list[int]) -> np.ndarray:
    """The correlation of each pair of frames (rows_a[i], rows_b[i]) outside the text of either; NaN where
    less than MIN_PICTURE of the frame is left."""
    found = np.full(len(rows_a), np.nan)
    for start in range(0, len(rows_a), PAIR_BATCH):
        a, b = rows_a[start:start + PAIR_BATCH], rows_b[start:start + PAIR_BATCH]
        keep = ~(masks[a] | masks[b])
        count = keep.sum(axis=1)
        x, y = frames[a] * keep, frames[b] * keep
        safe = np.maximum(count, 1)
        x = (x - (x.sum(axis=1) / safe)[:, None]) * keep
        y = (y - (y.sum(axis=1) / safe)[:, None]) * keep
        spread = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
        enough = (count >= MIN_PICTURE * keep.shape[1]) & (spread > 0)
        found[start:start + len(a)] = np.where(enough, (x * y).sum(axis=1) / np.maximum(spread, 1e-12), np.nan)
    return found


def _masked_frame(grey: np.ndarray, words: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(FRAME x FRAME grey frame, its mask of text) of a picture: each word's box painted with the median
    of the pixels around it, then plain rows and columns trimmed off the edges."""
    height, width = grey.shape
    painted, mask = grey.copy(), np.zeros(grey.shape, dtype=bool)
    for w in words:
        x0, y0, x1, y1 = _pixel_box(w, width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        # The box and a margin: mostly the colour of the bar or of the picture behind, letters being thin.
        around = grey[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2]
        painted[y0:y1, x0:x1] = np.median(around)
        mask[y0:y1, x0:x1] = True
    top, bottom = _plain_ends(painted)
    left, right = _plain_ends(painted.T)
    if bottom - top < height * MIN_PICTURE or right - left < width * MIN_PICTURE:
        top, bottom, left, right = 0, height, 0, width  # all but plain: nothing to trim to
    frame = cv2.resize(painted[top:bottom, left:right], (FRAME, FRAME), interpolation=cv2.INTER_AREA)
    covered = cv2.resize(mask[top:bottom, left:right].astype(np.float32), (FRAME, FRAME), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(frame, (3, 3), 0), covered > 0.25


def _pixel_box(word: dict, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in pixels of a word's box (fractions of the picture), grown by GROW of its height."""
    pad = GROW * word["h"] * height
    return (max(0, int(word["x"] * width - pad)), max(0, int(word["y"] * height - pad)),
            min(width, int(np.ceil((word["x"] + word["w"]) * width + pad))),
            min(height, int(np.ceil((word["y"] + word["h"]) * height + pad))))


def _plain_ends(grey: np.ndarray) -> tuple[int, int]:
    """The first and past-the-last rows that are not plain, scanning in from both ends."""
    medians = np.median(grey, axis=1, keepdims=True)
    plain = (np.abs(grey - medians) <= PLAIN_LEVELS).mean(axis=1) >= PLAIN_SHARE
    detailed = np.flatnonzero(~plain)
    if len(detailed) == 0:
        return 0, len(grey)
    return int(detailed[0]), int(detailed[-1]) + 1
