"""What every embedder is: the base class of the built-in embedders and of plugins' ones.

It lives apart from the registry (registry.py), which imports the built-in embedders by name: they
import this module, and nothing here imports them back.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


class Embedder:
    """What every embedder provides. `embed` returns one row per image, ready for `put_vectors`:
    `dim` floats for float16/float32 types, ceil(dim / 8) packed bytes for "bits" types."""

    name: str  # the vector type's name, e.g. "efficientnet-lite0"
    model: str  # the model that makes the vectors
    params: dict = {}  # what else decides the vectors (weights' hash, sizes): recorded with the vector type
    dim: int
    dtype: str  # "float32", "float16" or "bits"
    metric: str  # "cosine" or "hamming"
    makes_labels = False  # whether `labels` gives labels

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        raise NotImplementedError

    def labels(self, rows: np.ndarray) -> list[list[str]] | None:
        """Automatic labels for the images of these vectors (the `labels` property), or None if the model
        gives none."""
        return None

    def embed_and_label(self, images: list[Image.Image]) -> tuple[np.ndarray, list[list[str]] | None]:
        """`embed` and `labels` at once; a model whose labels fall out of the same run overrides it."""
        rows = self.embed(images)
        return rows, self.labels(rows)
