"""The embedders a project can use, by name: each makes one kind of vector (a vector type) from images.

An embedder is a subclass of `base.Embedder`: its attributes and an `embed` method. Adding one is one call:

    from imagier.vectors.registry import register
    register("clip-vit-b32", lambda: ClipImageEmbedder())

Built-in embedders are registered in `_register_builtins` at the end of this module (one line each).
The factory runs only when the embedder is asked for, so registering costs nothing (no model is loaded).
Names are matched case-insensitively; a project's vector type is named after the embedder that made it.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Callable

from ..errors import InvalidInput
from .base import Embedder

_FACTORIES: dict[str, Callable[[], Embedder]] = {}
_made: dict[str, Embedder] = {}


def register(name: str, factory: Callable[[], Embedder]) -> None:
    """Make an embedder available under `name` (its vector type's name)."""
    _FACTORIES[name.lower()] = factory
    _made.pop(name.lower(), None)


def names() -> list[str]:
    """The registered embedders' names."""
    _register_builtins()
    return sorted(_FACTORIES)


def get_embedder(name: str, model_path: str | Path | None = None) -> Embedder:
    """The embedder of this name (or of the vector type of this name), made once per process; with
    `model_path`, one loaded from that folder (for models whose weights come from a folder, like CLIP)."""
    _register_builtins()
    key = name.lower() if isinstance(name, str) else None
    if key not in _FACTORIES:
        raise InvalidInput(f"unknown model {name!r}; the models are: {', '.join(names())}", model=name)
    factory = _FACTORIES[key]
    if model_path is not None:
        if "model_path" not in inspect.signature(factory).parameters:
            raise InvalidInput(f"the model {name!r} is built in and takes no model folder (--model-path is for "
                               f"models whose weights are downloaded, such as clip-vit-b32)", model=name)
        return factory(model_path=model_path)
    if key not in _made:
        _made[key] = factory()
    return _made[key]


@functools.cache
def _register_builtins() -> None:
    # On first use rather than on import: registering costs nothing until an embedder is asked for.
    from . import clip, hashes
    from .efficientnet import NAME, EfficientNetLite0
    register(NAME, EfficientNetLite0)
    register("phash", hashes.PHash)
    register("colour", hashes.ColourHistogram)
    register("grey", hashes.GreyLayout)
    register(clip.NAME, clip.ClipEmbedder)
    register(f"{clip.NAME}-int8", lambda model_path=None: clip.ClipEmbedder(model_path, int8=True))

