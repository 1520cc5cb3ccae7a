"""Calibrate the threshold above which EfficientNet-Lite0's top ImageNet class is shown as a guess.

No ImageNet validation set ships with imagier, so the calibration uses what does: scikit-image's sample
photographs, each with the ImageNet classes that name what is really in it (an empty set when no class
does: a retina, the Hubble deep field, text on a page), and edits of each (mirror, crops, greyscale, half
size, heavy JPEG, darker) as a researcher's corpus holds them. For every picture the top-1 class and its
probability are computed exactly as imagier does: the file is imported (its 256-pixel JPEG thumbnail, which
`imagier embed` reads), embedded, and the stored float16 vector goes through `class_scores`. The threshold printed is the lowest probability at which the top-1 guesses at or above it
are right at least TARGET of the time, with at least MIN_KEPT of them kept.

Run: `python benchmarks/calibrate_guesses.py` (a few seconds). Limits: a few hundred pictures of about
twenty scenes, and the edits of one scene are not independent; a corpus of other subjects (archives,
screenshots, film frames) may behave otherwise. The figure is a floor that keeps nonsense guesses away,
not a promise of ImageNet-grade accuracy.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageEnhance, ImageOps

from imagier.ingest.decode import decode
from imagier.vectors import efficientnet

TARGET = 0.9
MIN_KEPT = 10
DATA = Path(skimage.data.__file__).parent
CATS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}
# file of skimage.data -> the ImageNet classes that name what it shows (empty: none does)
TRUTH: dict[str, set[str]] = {
    "astronaut.png": {"space shuttle"},  # a shuttle model stands in the background; no class for a person
    "chelsea.png": CATS,
    "coffee.png": {"espresso", "cup", "coffee mug"},
    "rocket.jpg": {"missile", "projectile", "space shuttle"},
    "motorcycle_left.png": {"moped", "motor scooter", "crash helmet", "disk brake"},
    "motorcycle_right.png": {"moped", "motor scooter", "crash helmet", "disk brake"},
    "camera.png": {"tripod", "reflex camera", "Polaroid camera"},
    "clock_motion.png": {"wall clock", "analog clock"},
    "horse.png": {"sorrel"},
    "coins.png": set(), "brick.png": {"stone wall"}, "grass.png": set(), "gravel.png": set(),
    "hubble_deep_field.jpg": set(), "retina.jpg": set(), "moon.png": set(), "page.png": set(),
    "text.png": set(), "logo.png": set(), "color.png": set(), "ihc.png": set(), "cell.png": set(),
    "microaneurysms.png": set(), "chessboard_RGB.png": set(),
}


def edits(image: Image.Image) -> dict[str, Image.Image]:
    w, h = image.size
    jpeg = io.BytesIO()
    image.save(jpeg, "JPEG", quality=25)
    return {
        "original": image,
        "mirrored": ImageOps.mirror(image),
        "centre crop": image.crop((w // 6, h // 6, w - w // 6, h - h // 6)),
        "left crop": image.crop((0, 0, w * 2 // 3, h)),
        "greyscale": ImageOps.grayscale(image).convert("RGB"),
        "half size": image.resize((max(1, w // 2), max(1, h // 2))),
        "jpeg q25": Image.open(io.BytesIO(jpeg.getvalue())).convert("RGB"),
        "darker": ImageEnhance.Brightness(image).enhance(0.6),
    }


def thumbnail(image: Image.Image, folder: Path) -> Image.Image:
    """The thumbnail an import of the picture (saved losslessly) stores, which embedding reads."""
    path = folder / "picture.png"
    image.save(path)
    return Image.open(io.BytesIO(decode(str(path)).thumbnail)).convert("RGB")


def top1() -> list[tuple[str, str, str, float, bool]]:
    """(file, edit, class, probability, right) of every picture."""
    model = efficientnet.EfficientNetLite0()
    rows = []
    folder = Path(tempfile.mkdtemp())
    for name, truth in TRUTH.items():
        image = Image.open(DATA / name).convert("RGB")
        variants = edits(image)
        features = model.embed([thumbnail(v, folder) for v in variants.values()])
        scores = efficientnet.stored_scores(features)
        for edit, row in zip(variants, scores):
            best = int(row.argmax())
            label = efficientnet.CLASS_NAMES[best]
            rows.append((name, edit, label, float(row[best]), label in truth))
    return rows


def threshold(rows) -> float:
    """The lowest probability whose top-1 guesses at or above it are right at least TARGET of the time."""
    probabilities = sorted({p for *_, p, _ in rows})
    for t in probabilities:
        kept = [right for *_, p, right in rows if p >= t]
        if len(kept) >= MIN_KEPT and np.mean(kept) >= TARGET:
            return t
    return 1.0


def main() -> None:
    rows = top1()
    for name, edit, label, p, right in sorted(rows, key=lambda r: -r[3]):
        print(f"{p:6.3f} {'right' if right else 'WRONG'} {label:24} {name} ({edit})")
    t = threshold(rows)
    kept = [right for *_, p, right in rows if p >= t]
    print(f"\n{len(rows)} pictures; threshold {t:.3f}: {len(kept)} guesses kept, {np.mean(kept):.0%} right; "
          f"{sum(r[4] for r in rows)} top-1 guesses are right in all")
    for cut in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
        kept = [right for *_, p, right in rows if p >= cut]
        print(f"  at {cut:.1f}: {len(kept)} kept, {np.mean(kept) if kept else float('nan'):.0%} right")


if __name__ == "__main__":
    main()
