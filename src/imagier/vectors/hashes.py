"""Cheap image signatures used like any other vector type: a perceptual hash, a colour histogram and a
greyscale layout. They need no model, so they are computed as fast as thumbnails can be decoded."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .base import Embedder

HASH_SIDE, HASH_BITS_SIDE = 32, 8
HSV_BINS = (8, 4, 4)
GREY_SIDE = 16


def _dct_matrix(n: int) -> np.ndarray:
    k, x = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return np.cos(np.pi * (2 * x + 1) * k / (2 * n))


_DCT = _dct_matrix(HASH_SIDE)


def phash_bits(image: Image.Image) -> np.ndarray:
    """The 64-bit DCT perceptual hash (the algorithm of `imagehash.phash`) as 64 booleans: the image in
    32 x 32 grey, its 2-D DCT, and whether each of the 8 x 8 lowest frequencies is above their median."""
    grey = np.asarray(image.convert("L").resize((HASH_SIDE, HASH_SIDE), Image.Resampling.LANCZOS), dtype=np.float64)
    low = (_DCT @ grey @ _DCT.T)[:HASH_BITS_SIDE, :HASH_BITS_SIDE]
    return (low > np.median(low)).ravel()


class PHash(Embedder):
    """64-bit perceptual hash, packed in 8 bytes, compared by Hamming distance (near-duplicates)."""

    name = model = "phash"
    params = {"size": HASH_SIDE, "bits": HASH_BITS_SIDE ** 2}
    dim = HASH_BITS_SIDE ** 2
    dtype = "bits"
    metric = "hamming"

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        return np.packbits(np.array([phash_bits(i) for i in images], dtype=bool).reshape(len(images), -1), axis=1)


class ColourHistogram(Embedder):
    """An HSV histogram (8 hues x 4 saturations x 4 values). Rows are square roots of the bin fractions, so
    the cosine of two rows is the Bhattacharyya coefficient of the two colour distributions."""

    name = model = "colour"
    params = {"space": "HSV", "bins": list(HSV_BINS)}
    dim = int(np.prod(HSV_BINS))
    dtype = "float32"
    metric = "cosine"

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        rows = np.empty((len(images), self.dim), dtype=np.float32)
        shifts = [8 - int(np.log2(b)) for b in HSV_BINS]
        for i, image in enumerate(images):
            hsv = np.asarray(image.convert("RGB").convert("HSV")).reshape(-1, 3)
            h, s, v = (hsv[:, c] >> shifts[c] for c in range(3))
            bins = (h.astype(np.int64) * HSV_BINS[1] + s) * HSV_BINS[2] + v
            counts = np.bincount(bins, minlength=self.dim)
            rows[i] = np.sqrt(counts / counts.sum())
        return rows


class GreyLayout(Embedder):
    """The image as a 16 x 16 greyscale thumbnail minus its mean brightness, so the cosine of two rows is
    the correlation of their light and dark layouts (insensitive to overall brightness and contrast)."""

    name = model = "grey"
    params = {"size": GREY_SIDE}
    dim = GREY_SIDE * GREY_SIDE
    dtype = "float32"
    metric = "cosine"

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        grey = np.array([np.asarray(i.convert("L").resize((GREY_SIDE, GREY_SIDE), Image.Resampling.BOX),
                                    dtype=np.float32).ravel() for i in images]).reshape(len(images), self.dim)
        return (grey - grey.mean(axis=1, keepdims=True)) / 255.0
