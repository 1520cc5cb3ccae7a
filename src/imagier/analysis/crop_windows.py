"""Candidates for crops: the pairs (copy, original) in which one picture is cut out of the other.

A crop of a painting, a gradient or a page moves its embedding far from its original's (measured on
the calibration half of the benchmark corpus: the original of a 45% crop of a page is the 39th nearest
image, of a painting's the 18th) and its perceptual hash further, so the nearest neighbours that
duplicates() starts from miss it. What a crop keeps is the layout of colours of the part it was cut
from. So each picture is described by its colour layout: its thumbnail in CIELAB averaged down to
CELLS x CELLS cells, brightness taken out; and so is each of its windows, squares of half to seven
eighths of its sides at every eighth of its width and height (WINDOW_SIDES, STRIDE), which is where a
crop of 45% to 90% of each side lies give or take a few percent. Each picture's layout is matched
against the other pictures' windows. Each picture with the picture whose window it matches best, and
each picture with the picture that best matches one of its windows (a crop's best match may be a
recoloured copy of its original, which the colours then refuse; its original's best match is the
crop), become candidate pairs: two more pairs per picture, at most, checked by matching.py like any
other.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from ..vectors.index import NearestRows

GRID = 64                         # side of the CIELAB grid a thumbnail is averaged down to
CELLS = 4                         # a layout is CELLS x CELLS cells of L, a and b: 48 numbers
WINDOW_SIDES = (32, 40, 48, 56)   # sides of the windows, in pixels of the grid: 1/2 to 7/8 of the picture
STRIDE = 8                        # between two windows' corners: an eighth of the picture
NEAREST = 3                       # layouts asked per window (the nearest may be the window's own picture)
CHUNK = 2048                      # thumbnails decoded at once
# Beyond this many pictures, an inverted file index answers the windows' queries: an exact search would
# compare every window of every picture with every picture (at 20,000 pictures, 2e10 products).
EXACT = 2000


def _windows() -> list[tuple[int, int, int]]:
    """(x, y, side) of the whole grid and of each window, the whole first."""
    return [(0, 0, GRID)] + [(x, y, side) for side in WINDOW_SIDES
                             for y in range(0, GRID - side + 1, STRIDE) for x in range(0, GRID - side + 1, STRIDE)]


WINDOWS = _windows()


def lab_grid(thumbnail: bytes) -> np.ndarray:
    """The picture as a GRID x GRID x 3 CIELAB array (uint8, OpenCV's scale), its aspect ratio ignored as a crop's
    is ignored: both are laid on the same square. Decoded at a fraction of its size (JPEG's own
    scaling), which is all the grid needs."""
    image = Image.open(io.BytesIO(thumbnail))
    image.draft("RGB", (GRID, GRID))
    rgb = np.asarray(image.convert("RGB"))
    return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB), (GRID, GRID), interpolation=cv2.INTER_AREA)


def _cell_edges(windows: list[tuple[int, int, int]]) -> tuple[np.ndarray, ...]:
    """Rows and columns where each cell of each window starts and ends: four (windows, CELLS^2) arrays."""
    steps = np.arange(CELLS + 1)
    starts_y, ends_y, starts_x, ends_x = [], [], [], []
    for x, y, side in windows:
        edges_y, edges_x = y + steps * (side // CELLS), x + steps * (side // CELLS)
        starts_y.append(np.repeat(edges_y[:-1], CELLS))
        ends_y.append(np.repeat(edges_y[1:], CELLS))
        starts_x.append(np.tile(edges_x[:-1], CELLS))
        ends_x.append(np.tile(edges_x[1:], CELLS))
    return tuple(np.array(v) for v in (starts_y, ends_y, starts_x, ends_x))


def layouts(grids: np.ndarray, windows: list[tuple[int, int, int]]) -> np.ndarray:
    """(pictures, windows, 48) unit vectors: each window of each grid averaged down to CELLS x CELLS
    (sums of an integral image), its mean lightness taken out (a crop is often brighter or darker on
    average than the whole) and its colour measured from grey (OpenCV's a and b are offset by 128)."""
    integral = np.zeros((len(grids), GRID + 1, GRID + 1, 3), np.int32)   # exact: the grid is whole levels
    integral[:, 1:, 1:] = grids.astype(np.int32).cumsum(axis=1).cumsum(axis=2)
    integral = integral.reshape(len(grids), -1, 3)
    y0, y1, x0, x1 = _cell_edges(windows)
    at = lambda y, x: integral[:, (y * (GRID + 1) + x).ravel()]
    sums = (at(y1, x1) - at(y0, x1) - at(y1, x0) + at(y0, x0)).reshape(len(grids), *y0.shape, 3)
    cells = sums.astype(np.float32) / ((y1 - y0) * (x1 - x0)).astype(np.float32)[None, :, :, None]  # (pictures, windows, cells, 3)
    cells[..., 0] -= cells[..., 0].mean(axis=2, keepdims=True)
    cells[..., 1:] -= 128.0
    flat = cells.reshape(len(grids), len(windows), -1)
    return flat / (np.linalg.norm(flat, axis=2, keepdims=True) + 1e-3)


def crop_pairs(contents: np.ndarray, thumbnails_of: Callable[[list[int]], dict[int, bytes]],
               workers: int = 1) -> set[tuple[int, int]]:
    """(content, content) pairs, smaller id first: each content with the other content one of whose
    windows its whole layout matches best, and with the other content whose whole layout matches one
    of its windows best. Contents without a thumbnail are left out. Two passes over
    the thumbnails (the whole layouts first, then the windows chunk by chunk) keep the memory to
    one chunk's windows; `workers` threads decode them."""
    with ThreadPoolExecutor(workers) as pool:
        return _crop_pairs(contents, lambda chunk: _grids(chunk, thumbnails_of, pool))


def _crop_pairs(contents: np.ndarray, grids_of) -> set[tuple[int, int]]:
    """crop_pairs, with `grids_of(chunk)` giving the contents of a chunk that have a thumbnail and their grids."""
    chunks = [contents[i:i + CHUNK].tolist() for i in range(0, len(contents), CHUNK)]
    ids, wholes = [], []
    for chunk in chunks:
        found, grids = grids_of(chunk)
        ids += found
        if found:
            wholes.append(layouts(grids, WINDOWS[:1])[:, 0])
    if len(ids) < 2:
        return set()
    ids = np.array(ids, dtype=np.int64)
    nearest = NearestRows(np.vstack(wholes), EXACT)
    best_score = np.full(len(ids), -np.inf, np.float32)
    best_partner = np.full(len(ids), -1, np.int64)
    best_crop_score = np.full(len(ids), -np.inf, np.float32)
    best_crop = np.full(len(ids), -1, np.int64)
    row_of = {c: i for i, c in enumerate(ids.tolist())}
    for chunk in chunks:
        found, grids = grids_of(chunk)
        if not found:
            continue
        windows = layouts(grids, WINDOWS[1:])
        scores, rows = nearest.search(windows.reshape(-1, windows.shape[2]), min(NEAREST, len(ids)))
        owners = np.repeat([row_of[c] for c in found], (len(WINDOWS) - 1) * rows.shape[1])
        _keep_best(best_score, best_partner, rows.ravel(), owners, scores.ravel())
        _keep_best(best_crop_score, best_crop, owners, rows.ravel(), scores.ravel())
    pairs = set()
    for partner in (best_partner, best_crop):
        have = partner >= 0
        a, b = ids[have], ids[partner[have]]
        pairs |= set(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()))
    return pairs


def _grids(chunk: list[int], thumbnails_of, pool: ThreadPoolExecutor) -> tuple[list[int], np.ndarray]:
    """The contents of the chunk that have a thumbnail, and their CIELAB grids."""
    thumbnails = thumbnails_of(chunk)
    found = [c for c in chunk if c in thumbnails]
    grids = list(pool.map(lab_grid, (thumbnails[c] for c in found)))
    return found, np.array(grids, dtype=np.uint8).reshape(-1, GRID, GRID, 3)


def _keep_best(best_score: np.ndarray, best_partner: np.ndarray, rows: np.ndarray, owners: np.ndarray,
               scores: np.ndarray) -> None:
    """For each of `rows` matched with one of `owners` at `scores` (pictures as rows of the index),
    keep the best-matching owner seen so far (-1 for a missing answer of the index)."""
    valid = (rows >= 0) & (owners >= 0) & (rows != owners) & np.isfinite(scores)
    rows, owners, scores = rows[valid], owners[valid], scores[valid]
    order = np.lexsort((-scores, rows))
    first = np.ones(len(order), bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    rows, owners, scores = rows[order][first], owners[order][first], scores[order][first]
    better = scores > best_score[rows]
    best_score[rows[better]] = scores[better]
    best_partner[rows[better]] = owners[better]
