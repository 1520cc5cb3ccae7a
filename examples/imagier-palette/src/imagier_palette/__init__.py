"""Colour palettes for imagier: a property, a grouping, an embedding and a similarity (see README.md).

Each image's palette is its thumbnail reduced to COLOURS colours by median cut: the colours, as RGB in
0..1, with their share of the pixels, largest first.
"""

from __future__ import annotations

import colorsys
from typing import Annotated

import numpy as np
from PIL import Image

from imagier.plugins import Embedder, Range, action

__version__ = "0.1.0"

COLOURS = 5
VECTOR_TYPE = "palette"


def palette(image: Image.Image, colours: int = COLOURS) -> tuple[np.ndarray, np.ndarray]:
    """(colours x 3 RGB in 0..1, their shares), largest share first; padded with zero shares."""
    small = image.convert("RGB").resize((64, 64))
    quantised = small.quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    counts = quantised.getcolors(colours) or []
    rgb = np.asarray(quantised.getpalette()[:3 * colours], dtype=np.float32).reshape(-1, 3) / 255
    found = sorted(((count, rgb[index]) for count, index in counts), key=lambda c: -c[0])
    shares = np.zeros(colours, np.float32)
    values = np.zeros((colours, 3), np.float32)
    total = sum(count for count, _ in found)
    for n, (count, value) in enumerate(found):
        shares[n], values[n] = count / total, value
    return values, shares


def colour_name(rgb) -> str:
    """A plain name for an RGB colour in 0..1."""
    hue, saturation, value = colorsys.rgb_to_hsv(*map(float, rgb))
    if value < 0.2:
        return "black"
    if saturation < 0.15:
        return "white" if value > 0.85 else "grey"
    degrees = hue * 360
    if 15 <= degrees < 45 and value < 0.6:
        return "brown"
    for limit, name in ((15, "red"), (45, "orange"), (70, "yellow"), (165, "green"), (195, "cyan"),
                        (255, "blue"), (290, "purple"), (345, "pink"), (361, "red")):
        if degrees < limit:
            return name
    return "red"


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(float(c) * 255):02x}" for c in rgb)


@action(kind="execute", label="Dominant colour", timeout=600)
def dominant_colour(ctx, colour_property: str = "dominant colour", names_property: str = "colours",
                    min_share: Annotated[float, Range(0.05, 1.0)] = 0.2) -> dict:
    """Write each image's dominant colour and the names of its main colours.

    Args:
        colour_property: the colour property that receives the dominant colour (created when missing).
        names_property: the multi-tag property that receives the names of the main colours (created when missing).
        min_share: a colour is named when it covers at least this share of the image.
    """
    project = ctx.project
    wanted = ((colour_property, "colour"), (names_property, "multi-tag"))
    existing = {p["name"]: p["type"] for p in project.properties()}
    for name, kind in wanted:  # checked before the work, so a wrong property fails at once
        if name in existing and existing[name] != kind:
            raise ValueError(f"the property {name!r} is a {existing[name]} property, not a {kind} one")
    dominant, names = {}, {}
    for done, (image_id, image) in enumerate(ctx.images(), start=1):
        ctx.check_cancelled()
        values, shares = palette(image)
        dominant[image_id] = _hex(values[0])
        names[image_id] = sorted({colour_name(v) for v, s in zip(values, shares) if s >= min_share})
        if done % 50 == 0:
            ctx.progress(done, len(ctx.ids))
    # Every write comes last, so the project's write lock is held for a moment rather than the whole run.
    # They join the run's transaction: one undoable step, kept only if the whole run succeeds.
    for name, kind in wanted:
        if name not in existing:
            project.create_property(name, kind)
    project.set_many(colour_property, dominant)
    project.set_many(names_property, names)
    return {"message": f"wrote the dominant colour of {len(dominant)} images", "images": len(dominant)}


@action(kind="group", label="Group by dominant colour")
def by_colour(ctx) -> list[dict]:
    """Groups of images by the name of their dominant colour, largest group first."""
    groups: dict[str, list[int]] = {}
    for image_id, image in ctx.images():
        values, _ = palette(image)
        groups.setdefault(colour_name(values[0]), []).append(image_id)
    return [{"name": name, "ids": ids} for name, ids in sorted(groups.items(), key=lambda g: -len(g[1]))]


class PaletteEmbedder(Embedder):
    """Each image's palette as one vector: the colours' RGB then their shares (COLOURS x 4 numbers)."""
    name = VECTOR_TYPE
    model = f"imagier-palette median-cut {__version__}"
    params = {"colours": COLOURS, "size": 64}
    dim = COLOURS * 4
    dtype = "float32"
    metric = "cosine"

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        rows = []
        for image in images:
            values, shares = palette(image)
            rows.append(np.concatenate([values.ravel(), shares]))
        return np.asarray(rows, dtype=np.float32)


@action(kind="embed", name="palette", label="Embed palettes")
def palette_vectors(ctx) -> Embedder:
    """Store the palette of every image that has none yet (the vector type "palette")."""
    return PaletteEmbedder()


def palette_distance(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """How far each candidate's palette is from the query's (rows of PaletteEmbedder): each colour of one
    is matched with the nearest colour of the other, weighted by its share, both ways; 0 = same colours."""
    def split(rows):
        return rows[:, :COLOURS * 3].reshape(-1, COLOURS, 3), rows[:, COLOURS * 3:]
    q_rgb, q_share = split(query[None, :])
    c_rgb, c_share = split(candidates)
    gaps = np.linalg.norm(c_rgb[:, :, None, :] - q_rgb[:, None, :, :], axis=-1)  # (n, candidate colour, query colour)
    towards_query = (gaps.min(axis=2) * c_share).sum(axis=1)
    towards_candidate = (gaps.min(axis=1) * q_share).sum(axis=1)
    return (towards_query + towards_candidate) / 2


@action(kind="similar", label="Similar palettes")
def similar_palette(ctx, top_k: Annotated[int, Range(1, 1000)] = 20) -> list[dict]:
    """The images whose colour palettes are closest to the chosen images' palettes (needs the "palette"
    vectors: run "Embed palettes" first).

    Args:
        top_k: how many images.
    """
    project = ctx.project
    if not ctx.ids:
        raise ValueError("choose the images whose palette to match")
    query = ctx.vectors(VECTOR_TYPE)
    candidates = [f for f in ctx.files(project.query_ids(ctx.filter)) if f["id"] not in set(ctx.ids)]
    rows = project.vectors_of(VECTOR_TYPE, [f["content_id"] for f in candidates])
    distance = np.mean([palette_distance(q, rows) for q in query], axis=0)
    score = 1 - distance / np.sqrt(3)  # the largest distance between two RGB colours is sqrt(3)
    best = np.argsort(-score, kind="stable")[:top_k]
    return [{"id": candidates[i]["id"], "score": float(score[i])} for i in best]
