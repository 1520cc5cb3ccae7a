"""imagier's own clustering, similarity, text search and embedders, declared as a plugin like any other
(the plugin "imagier"): each action only calls the Project operation that does the work."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from .._version import __version__  # noqa: F401  (the plugin's version, listed by `imagier plugins`)
from . import Range, VectorType, action
from ..vectors.multilingual import NAME as MULTILINGUAL
from ..vectors.registry import get_embedder


def _clusters(clusters) -> list[dict]:
    return [{"name": "unclustered" if c["noise"] else f"cluster {c['cluster']}", "ids": c["ids"], "score": c["score"]}
            for c in clusters]


@action(kind="group", label="Clusters (k-means)")
def kmeans(ctx, k: Annotated[int | None, Range(1, 1000)] = None, vector_type: VectorType | None = None,
           text_weight: Annotated[float, Range(0, 1)] = 0.0) -> list[dict]:
    """Clusters of similar images by k-means on their vectors; every image in exactly one cluster.

    Args:
        k: how many clusters (empty: chosen automatically, by the best silhouette).
        vector_type: the vectors to compare (empty: the project's default).
        text_weight: the weight of the words read in the images (OCR) against the pictures, for memes:
            0 pictures only, 1 words only.
    """
    return _clusters(ctx.project.cluster(ids=ctx.ids, k=k, method="kmeans", vector_type=vector_type,
                                         text_weight=text_weight, cancel=ctx.cancel_event))


@action(kind="group", label="Clusters (HDBSCAN)")
def hdbscan(ctx, min_cluster_size: Annotated[int | None, Range(2, 10_000)] = None,
            vector_type: VectorType | None = None, text_weight: Annotated[float, Range(0, 1)] = 0.0) -> list[dict]:
    """Clusters found by density (HDBSCAN), which chooses their number; images that fit none form one
    "unclustered" group.

    Args:
        min_cluster_size: the smallest cluster (empty: about 5% of the images, between 2 and 50).
        vector_type: the vectors to compare (empty: the project's default).
        text_weight: the weight of the words read in the images (OCR) against the pictures, for memes:
            0 pictures only, 1 words only.
    """
    return _clusters(ctx.project.cluster(ids=ctx.ids, method="hdbscan", min_cluster_size=min_cluster_size,
                                         vector_type=vector_type, text_weight=text_weight,
                                         cancel=ctx.cancel_event))


@action(kind="similar", label="Similar images")
def similar(ctx, top_k: Annotated[int, Range(1, 10_000)] = 20, min_score: Annotated[float | None, Range(0, 1)] = None,
            vector_type: VectorType | None = None) -> list[dict]:
    """The images most similar to the chosen ones (a group is compared by its mean), best first.

    Args:
        top_k: how many images.
        min_score: leave out images with a lower calibrated score (0.99: more similar than 99% of pairs).
        vector_type: the vectors to compare (empty: the project's default).
    """
    if not ctx.ids:
        raise ValueError("choose the images to compare with (a group, the selection, or --id / --path)")
    return ctx.project.similar(ctx.ids, top_k=top_k, min_score=min_score, filter=ctx.filter,
                               vector_type=vector_type)


@action(kind="similar", label="Text search")
def search(ctx, text: str, top_k: Annotated[int, Range(1, 10_000)] = 50, vector_type: VectorType | None = None,
           any_language: bool = False) -> list[dict]:
    """The images that best match a text (with CLIP vectors; else the words are looked up among the
    EfficientNet-Lite0 labels).

    Args:
        text: what to look for, such as "a cat on a sofa".
        top_k: how many images.
        vector_type: the vectors to search (empty: a CLIP type, else the labels).
        any_language: encode the text with the multilingual encoder (CLIP vectors searched in French, German...).
    """
    return ctx.project.search(text, top_k=top_k, filter=ctx.filter, vector_type=vector_type,
                              text_model=MULTILINGUAL if any_language else None)


# The embedders: each makes a vector type of its name, for every image that lacks one.

@action(kind="embed", name="efficientnet-lite0", label="Embed with EfficientNet-Lite0")
def efficientnet(ctx):
    """The offline image model (ImageNet weights ship with imagier); also writes the `ImageNet guess` property."""
    return get_embedder("efficientnet-lite0")


@action(kind="embed", label="Embed with a perceptual hash")
def phash(ctx):
    """A 64-bit perceptual hash (near-duplicates)."""
    return get_embedder("phash")


@action(kind="embed", label="Embed colour histograms")
def colour(ctx):
    """An HSV colour histogram (images of the same colours)."""
    return get_embedder("colour")


@action(kind="embed", label="Embed greyscale layouts")
def grey(ctx):
    """A 16 x 16 greyscale layout (images of the same composition)."""
    return get_embedder("grey")


@action(kind="embed", label="Embed with CLIP ViT-B/32")
def clip(ctx, model_path: Path | None = None, int8: bool = False):
    """CLIP ViT-B/32 (text search by meaning). Its model files come from a folder, else $IMAGIER_CLIP_PATH,
    else the model hub.

    Args:
        model_path: the folder of the model's files (onnx/vision_model.onnx, onnx/text_model.onnx, tokenizer.json).
        int8: use the int8 encoders (faster, slightly less precise).
    """
    return get_embedder("clip-vit-b32-int8" if int8 else "clip-vit-b32", model_path)
