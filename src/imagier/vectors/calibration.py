"""Calibrated scores: a similarity explained by its rank among the similarities of the corpus's pairs.

A raw cosine means different things for different models (EfficientNet features of two unrelated
photos are often 0.5, CLIP's 0.8) and different corpora. So each vector type, at each version, gets the
distribution of the similarities of random pairs of its images (all pairs when there are few), and
the `score` users see is the fraction of those pairs that are less similar:

    score 0.998  =  "more similar than 99.8% of pairs of images in this project"

That makes 0.9 mean the same in every project and for every model: the top 10% of pairs. Above the
most similar sampled pair, the score rises linearly to 1 at similarity 1 (identical), so the best
matches of a large corpus still rank apart instead of all being 1.0. `rank` is 1 - score: the
fraction of pairs as similar or more, readable where the score's digits run out (2e-05).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import SearchIndex

PAIRS = 100_000
PAIR_CHUNK = 16_384


@dataclass(frozen=True)
class Calibration:
    """The sorted similarities of a sample of pairs of one version of a vector type."""
    vector_type: str
    version: int
    similarities: np.ndarray
    all_pairs: bool

    def score(self, similarity):
        """The calibrated score of raw similarities: the fraction of the pairs less similar (see the module)."""
        raw = np.asarray(similarity, dtype=np.float64)
        sample = self.similarities
        if len(sample) == 0:  # one image: no pair to compare with, so the raw value is all there is
            return np.clip(raw, 0, 1)
        below = np.searchsorted(sample, raw, side="left") / len(sample)
        top, last = sample[-1], 1 - 0.5 / len(sample)
        above = last + (1 - last) * np.clip((raw - top) / max(1e-9, 1 - top), 0, 1)
        return np.where(raw > top, above, np.minimum(below, last))

    def explain(self, similarity: float) -> str:
        """A sentence for a researcher: what this similarity means in this project."""
        score = float(self.score(similarity))
        return (f"similarity {similarity:.3f} is higher than {100 * score:.{_digits(score)}f}% of "
                f"{'the' if self.all_pairs else 'a sample of'} pairs of images in this project")

    def summary(self) -> dict:
        """The distribution in a few numbers: pairs, mean and percentiles of the raw similarity."""
        sample = self.similarities
        quantiles = {f"p{q:g}": float(np.quantile(sample, q / 100)) if len(sample) else None
                     for q in (1, 10, 50, 90, 99, 99.9)}
        return {"vector_type": self.vector_type, "version": self.version, "pairs": len(sample),
                "all_pairs": self.all_pairs, "mean": float(sample.mean()) if len(sample) else None, **quantiles}


def _digits(score: float) -> int:
    """Enough decimals to tell the score from 100%."""
    gap = 1 - score
    return 1 if gap >= 0.01 else min(6, int(np.ceil(-np.log10(max(gap, 1e-9)))) - 1)


def calibrate(index: SearchIndex, pairs: int = PAIRS, seed: int = 0) -> Calibration:
    """The similarity distribution of random pairs of distinct rows (every pair when there are fewer)."""
    n = len(index)
    if n * (n - 1) // 2 <= pairs:
        first, second = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        first = rng.integers(0, n, pairs)
        second = (first + rng.integers(1, n, pairs)) % n  # never the row itself
    sims = np.empty(len(first), dtype=np.float32)
    for start in range(0, len(first), PAIR_CHUNK):
        end = start + PAIR_CHUNK
        a, b = index.vectors[first[start:end]], index.vectors[second[start:end]]
        sims[start:end] = np.einsum("ij,ij->i", a, b)
    vtype = index.matrix.type
    return Calibration(vtype["name"], vtype["version"], np.sort(index.similarity(sims)),
                       all_pairs=n * (n - 1) // 2 <= pairs)
