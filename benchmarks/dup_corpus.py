"""The near-duplicate evaluation corpus: real pictures of four kinds, each with ten edited copies.

Kinds of picture (one family per source picture):
- "photo": scikit-image's sample photographs, Debian's MATE nature wallpapers, the photographs among the
  Ubuntu/Lomiri and KDE Plasma wallpapers;
- "art": paintings, abstract and gradient-heavy wallpapers (GNOME, MATE abstract and desktop, Plasma,
  Lomiri, Debian's desktop-base GRUB pictures);
- "document": pages and screenshots rendered here from text that Debian ships (licences, Python source);
- "meme": photographs (not used by any other family) with caption bars or outlined text in several fonts.

Edits: crop (45-90% of each side), caption bar, overlaid text, resize (to 1/4 - 1/2), JPEG quality
10-40, greyscale, mirror, border or letterbox, rotation (1-5 degrees), colour shift. Every parameter is
drawn per family from a seeded generator, so one seed gives one corpus and another seed a different
held-out one.

The packages ship some pictures twice (one wallpaper in several sizes or aspect ratios, the same
drawing under two names): `distinct_sources` finds them with a check of its own (correlation of the
centred, size-normalised grey pictures and of their edges, which owes nothing to imagier) and keeps one.

Families are split into two halves (calibration, report) by a seeded shuffle within each kind.
"""

from __future__ import annotations

import glob
import random
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

SOURCE_SIDE = 1024
EDITS = ("crop", "caption", "text", "resize", "jpeg", "grey", "mirror", "border", "rotate", "colour")
KINDS = ("photo", "art", "document", "meme")
SAME_PICTURE = 0.93     # correlation above which two sources are taken for one picture
PLAIN = 8.0             # grey levels: a source whose grey spreads less is a plain backdrop, not a picture

SKIMAGE_PHOTOS = ["astronaut", "camera", "chelsea", "coffee", "coins", "hubble_deep_field", "immunohistochemistry",
                  "moon", "motorcycle_left", "rocket", "retina", "brick", "grass", "gravel", "cell"]
BACKGROUNDS = Path("/usr/share/backgrounds")
PLASMA = Path("/usr/share/wallpapers")
DESKTOP_BASE = Path("/usr/share/desktop-base")
PLASMA_PHOTOS = {"Autumn": "art", "BytheWater": "photo", "ColdRipple": "photo", "ColorfulCups": "photo",
                 "DarkestHour": "photo", "EveningGlow": "photo", "FallenLeaf": "photo", "Grey": "photo",
                 "Kite": "photo", "OneStandsOut": "photo", "Path": "photo", "summer_1am": "photo"}
# The drawn ones among the Ubuntu/Lomiri backgrounds; the others are photographs.
LOMIRI_ART = {"Fossa_by_Jasper_Roks", "Infinite-Sea_by_Aury88", "Painting-Colors_by__herobrine7gamer",
              "analogpattern_by_Peter_Nerlich", "umang_by_Abhishek_Mudgal", "lomiri-default-background",
              "warty-final-ubuntu"}
FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation",
             "/usr/share/fonts/truetype/freefont"]
PACKAGES = "mate-backgrounds gnome-backgrounds plasma-workspace-wallpapers lomiri-wallpapers desktop-base"
WORDS = ("when the code works on the first try", "nobody:", "me at 3 am", "ARCHIVE 1987 NO. 42", "EXHIBIT B",
         "monday again", "this is fine", "expectation vs reality", "summer 2019", "do not distribute",
         "property of the museum", "sample only", "draft", "my face when", "one does not simply")


@dataclass
class Source:
    name: str
    kind: str
    image: Image.Image


def fonts() -> list[str]:
    """The TrueType fonts of the installed font packages (DejaVu at least)."""
    found = sorted(p for d in FONT_DIRS for p in glob.glob(f"{d}/*.ttf") if "Math" not in p)
    if not found:
        raise SystemExit("no TrueType fonts: apt-get install fonts-dejavu-core")
    return found


def _load(path: Path | str) -> Image.Image:
    img = Image.open(path)
    img.draft("RGB", (SOURCE_SIDE, SOURCE_SIDE))
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        back = Image.new("RGBA", img.size, (32, 32, 32, 255))
        img = Image.alpha_composite(back, img)
    img = img.convert("RGB")
    img.thumbnail((SOURCE_SIDE, SOURCE_SIDE), Image.Resampling.LANCZOS)
    return img


def _largest(folder: Path) -> Path | None:
    rasters = [p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")]
    return max(rasters, key=lambda p: p.stat().st_size) if rasters else None


def skimage_photos() -> list[Source]:
    import skimage.data
    found = []
    for name in SKIMAGE_PHOTOS:
        if name == "motorcycle_left":
            pixels = np.asarray(Image.open(Path(skimage.data.__file__).parent / f"{name}.png").convert("RGB"))
        else:
            pixels = getattr(skimage.data, name)()
        if pixels.dtype != np.uint8:
            pixels = (pixels * 255).astype(np.uint8) if pixels.max() <= 1 else pixels.astype(np.uint8)
        found.append(Source(f"skimage-{name}", "photo", Image.fromarray(pixels).convert("RGB")))
    return found


def wallpapers() -> list[Source]:
    """The raster wallpapers of the installed packages, the largest file of each wallpaper."""
    found = []
    for path in sorted(BACKGROUNDS.glob("*.*")):
        if path.suffix.lower() in (".jpg", ".png"):
            found.append(Source(f"lomiri-{path.stem}", "art" if path.stem in LOMIRI_ART else "photo", _load(path)))
    for path in sorted((BACKGROUNDS / "gnome").glob("*.webp")):
        if path.stem.endswith("-d"):  # the dark variant of the "-l" drawing: one picture in other colours
            continue
        found.append(Source(f"gnome-{path.stem}", "art", _load(path)))
    for path in sorted((BACKGROUNDS / "mate").glob("*/*.*")):
        if path.suffix.lower() in (".jpg", ".png") and "_" not in path.stem:  # Elephants_1024x768...: sizes of one
            kind = "photo" if path.parent.name == "nature" or path.stem == "Elephants" else "art"
            found.append(Source(f"mate-{path.stem}", kind, _load(path)))
    for folder in sorted(PLASMA.glob("*/contents/images")):
        largest = _largest(folder)
        if largest is not None:
            name = folder.parents[1].name
            found.append(Source(f"plasma-{name}", PLASMA_PHOTOS.get(name, "art"), _load(largest)))
    for path in sorted(DESKTOP_BASE.glob("*-theme/grub/grub-16x9.png")):
        found.append(Source(f"debian-{path.parents[1].name}", "art", _load(path)))
    return found


def documents(rng: random.Random, count: int) -> list[Source]:
    """Pages and screenshots rendered from text files Debian ships: each a different text."""
    texts = sorted(p for p in glob.glob("/usr/share/common-licenses/*") if Path(p).is_file())
    code = sorted(glob.glob(str(Path(random.__file__).parent / "[a-m]*.py")))
    serif = [f for f in fonts() if "Serif" in f and "Bold" not in f] or fonts()
    mono = [f for f in fonts() if "Mono" in f and "Bold" not in f] or fonts()
    found = []
    for i in range(count):
        if i % 2 == 0:
            text = Path(texts[(i // 2) % len(texts)]).read_text(errors="replace")
            found.append(Source(f"doc-page-{i:02d}", "document", _page(text, rng.choice(serif), rng, i)))
        else:
            text = Path(code[(i * 7) % len(code)]).read_text(errors="replace")
            found.append(Source(f"doc-screen-{i:02d}", "document", _screen(text, rng.choice(mono), rng, i)))
    return found


def _page(text: str, font_path: str, rng: random.Random, i: int) -> Image.Image:
    """A printed page: a title and justified-looking paragraphs, black on off-white."""
    w, h = 850, 1100
    img = Image.new("RGB", (w, h), (250, 250, 246))
    draw = ImageDraw.Draw(img)
    body = ImageFont.truetype(font_path, rng.randint(15, 19))
    title = ImageFont.truetype(font_path, 30)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    start = (i * 37) % max(1, len(lines) - 60)
    draw.text((70, 60), lines[start].strip()[:45], fill=(20, 20, 20), font=title)
    y = 120
    for paragraph in lines[start + 1:start + 60]:
        for line in textwrap.wrap(paragraph.strip(), 80):
            draw.text((70, y), line, fill=(25, 25, 25), font=body)
            y += body.size + 6
            if y > h - 80:
                return img
        y += body.size // 2
    return img


def _screen(text: str, font_path: str, rng: random.Random, i: int) -> Image.Image:
    """A code editor's window: title bar, side bar, line numbers and code on a dark or light theme."""
    w, h = 1280, 800
    dark = i % 4 == 1
    back, fore = ((30, 30, 36), (210, 210, 200)) if dark else ((255, 255, 255), (30, 30, 30))
    img = Image.new("RGB", (w, h), back)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, w, 34), fill=(60, 60, 70) if dark else (225, 225, 230))
    side = rng.randint(180, 300)
    draw.rectangle((0, 34, side, h), fill=(40, 40, 48) if dark else (240, 240, 245))
    font = ImageFont.truetype(font_path, rng.randint(13, 16))
    lines = text.splitlines()
    start = (i * 53) % max(1, len(lines) - 60)
    for n, line in enumerate(lines[start:start + 46]):
        y = 44 + n * (font.size + 3)
        draw.text((side + 10, y), f"{start + n + 1:4d}", fill=(120, 120, 130), font=font)
        colour = (120, 190, 255) if line.lstrip().startswith(("def ", "class ")) else fore
        draw.text((side + 60, y), line[:110], fill=colour, font=font)
    for n in range(rng.randint(8, 20)):
        draw.text((14, 50 + n * 22), f"{'  ' * (n % 3)}module_{(i * 13 + n) % 97}.py", fill=fore, font=font)
    draw.text((12, 8), f"editor - {Path(str(i)).name}", fill=fore, font=font)
    return img


def meme(img: Image.Image, rng: random.Random, font_path: str) -> Image.Image:
    """A meme: the picture with a white caption bar above, or outlined white text at top and bottom."""
    w, h = img.size
    if rng.random() < 0.5:
        bar = h // 5
        out = Image.new("RGB", (w, h + bar), "white")
        out.paste(img, (0, bar))
        draw = ImageDraw.Draw(out)
        font = _fit(draw, rng.choice(WORDS), font_path, w - 40, bar // 2)
        draw.text((20, bar // 4), rng.choice(WORDS), fill="black", font=font)
        return out
    out = img.copy()
    draw = ImageDraw.Draw(out)
    for y, words in ((h // 20, rng.choice(WORDS).upper()), (h - h // 6, rng.choice(WORDS).upper())):
        font = _fit(draw, words, font_path, w - 40, h // 10)
        draw.text((20, y), words, fill="white", font=font, stroke_width=max(2, h // 200), stroke_fill="black")
    return out


def _fit(draw: ImageDraw.ImageDraw, words: str, font_path: str, width: int, size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(font_path, max(10, size))
    while size > 10 and draw.textlength(words, font=font) > width:
        size = int(size * 0.85)
        font = ImageFont.truetype(font_path, size)
    return font


def edit(img: Image.Image, name: str, rng: random.Random, font_paths: list[str]) -> tuple[Image.Image, int, dict]:
    """One edited copy: (picture, the JPEG quality to save it at, the parameters drawn)."""
    w, h = img.size
    if name == "crop":
        share = rng.uniform(0.45, 0.9)
        cw, ch = int(w * share), int(h * min(0.95, share * rng.uniform(0.9, 1.1)))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        return img.crop((x, y, x + cw, y + ch)), 90, {"share": round(share, 2)}
    if name == "caption":
        out, bar = img.copy(), int(h * rng.uniform(0.1, 0.18))
        draw = ImageDraw.Draw(out)
        top = rng.random() < 0.3
        y0 = 0 if top else h - bar
        fill = rng.choice([(0, 0, 0), (255, 255, 255), (200, 20, 20)])
        draw.rectangle((0, y0, w, y0 + bar), fill=fill)
        words = rng.choice(WORDS)
        font = _fit(draw, words, rng.choice(font_paths), w - 40, int(bar * 0.6))
        draw.text((20, y0 + bar // 5), words, fill=(0, 0, 0) if fill == (255, 255, 255) else (255, 255, 255), font=font)
        return out, 90, {"bar": round(bar / h, 2), "top": top}
    if name == "text":
        out = img.copy()
        draw = ImageDraw.Draw(out)
        words = rng.choice(WORDS)
        font = _fit(draw, words, rng.choice(font_paths), int(w * 0.7), int(h * rng.uniform(0.05, 0.1)))
        x, y = rng.randint(0, w // 4), rng.randint(0, int(h * 0.8))
        colour = rng.choice([(255, 255, 255), (0, 0, 0), (255, 220, 0)])
        draw.text((x, y), words, fill=colour, font=font, stroke_width=1, stroke_fill=(128, 128, 128))
        return out, 90, {"at": (x, y)}
    if name == "resize":
        factor = rng.uniform(0.25, 0.5)
        return img.resize((max(16, int(w * factor)), max(16, int(h * factor))), Image.Resampling.LANCZOS), 90, \
            {"factor": round(factor, 2)}
    if name == "jpeg":
        return img, rng.randint(10, 40), {}
    if name == "grey":
        return ImageOps.grayscale(img).convert("RGB"), 90, {}
    if name == "mirror":
        return ImageOps.mirror(img), 90, {}
    if name == "border":
        if rng.random() < 0.5:   # letterbox: bars above and below to a wide frame
            bar = int(h * rng.uniform(0.08, 0.2))
            out = Image.new("RGB", (w, h + 2 * bar), (0, 0, 0))
            out.paste(img, (0, bar))
            return out, 90, {"letterbox": bar}
        side = int(max(w, h) * rng.uniform(0.04, 0.12))
        return ImageOps.expand(img, side, rng.choice(["white", "black", (128, 128, 128)])), 90, {"border": side}
    if name == "rotate":
        angle = rng.uniform(1, 5) * rng.choice([-1, 1])
        return img.rotate(angle, Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0)), 90, \
            {"angle": round(angle, 1)}
    if name == "colour":
        out = ImageEnhance.Color(img).enhance(rng.uniform(0.4, 1.8))
        out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.75, 1.25))
        out = ImageEnhance.Contrast(out).enhance(rng.uniform(0.75, 1.3))
        r, g, b = out.split()
        shift = rng.choice([(1.15, 1.0, 0.85), (0.85, 1.0, 1.15), (1.0, 1.1, 0.9)])
        out = Image.merge("RGB", [c.point(lambda v, f=f: min(255, int(v * f))) for c, f in zip((r, g, b), shift)])
        return out, 90, {}
    raise ValueError(name)


def _signature(img: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """The centre (4:3) of a picture in grey at 48 x 36, and its edges, each centred and of unit norm."""
    w, h = img.size
    cw, ch = min(w, h * 4 // 3), min(h, w * 3 // 4)
    centre = img.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))
    grey = np.asarray(centre.convert("L").resize((48, 36), Image.Resampling.BOX), np.float32)
    edges = np.hypot(*np.gradient(grey))

    def unit(x):
        x = x.ravel() - x.mean()
        return x / (np.linalg.norm(x) + 1e-6)
    return unit(grey), unit(edges)


def plain(img: Image.Image) -> bool:
    """A backdrop of (nearly) one colour: any two such are alike, so it cannot stand for a picture of
    its own, and which of them are copies is not a question a picture answers."""
    small = img.convert("L").resize((256, 256 * img.height // img.width))
    return float(np.asarray(small, np.float32).std()) < PLAIN


def distinct_sources(sources: list[Source]) -> tuple[list[Source], list[tuple[str, str, float]]]:
    """The sources less the plain ones and the second of any two that show one picture (the same
    wallpaper twice, at another size, aspect or in its dark variant); and the ones dropped, with the
    picture they repeat and their correlation (or "plain")."""
    signatures = [_signature(s.image) for s in sources]
    kept, dropped = [], []
    for source, (grey, edges) in zip(sources, signatures):
        if plain(source.image):
            dropped.append(("plain", source.name, 0.0))
            continue
        twin = None
        for other, (g2, e2) in kept:
            score = max(abs(float(grey @ g2)), float(edges @ e2))
            if score > SAME_PICTURE:
                twin = (other.name, source.name, round(score, 3))
                break
        if twin:
            dropped.append(twin)
        else:
            kept.append((source, (grey, edges)))
    return [s for s, _ in kept], dropped


def all_sources(seed: int, documents_count: int = 16, memes_count: int = 14) -> tuple[list[Source], list]:
    """Every family's source picture (distinct), memes made from photographs set aside for them."""
    rng = random.Random(seed)
    pictures = skimage_photos() + wallpapers()
    pictures, dropped = distinct_sources(pictures)
    photos = [s for s in pictures if s.kind == "photo"]
    rng.shuffle(photos)
    meme_bases = {s.name for s in photos[:memes_count]}
    font_paths = fonts()
    found = []
    for s in pictures:
        if s.name in meme_bases:
            found.append(Source(s.name.replace("-", "-meme-", 1), "meme", meme(s.image, rng, rng.choice(font_paths))))
        else:
            found.append(s)
    return found + documents(rng, documents_count), dropped


def halves(names: list[str], kinds: dict[str, str], seed: int) -> dict[str, str]:
    """Family -> "calibration" or "report": a seeded shuffle within each kind, halved."""
    rng = random.Random(seed)
    half = {}
    for kind in KINDS:
        members = sorted(n for n in names if kinds[n] == kind)
        rng.shuffle(members)
        for i, name in enumerate(members):
            half[name] = "calibration" if i % 2 == 0 else "report"
    return half


def build(folder: Path, seed: int = 0, sources: list[Source] | None = None) -> tuple[dict[str, dict], list]:
    """Write every family (its original and one copy per edit) as JPEG files into folder; returns
    {file name: {"family", "kind", "edit", "half", "params"}} and the twin sources dropped."""
    folder.mkdir(parents=True, exist_ok=True)
    dropped = []
    if sources is None:
        sources, dropped = all_sources(seed)
    kinds = {s.name: s.kind for s in sources}
    half = halves(list(kinds), kinds, seed)
    font_paths = fonts()
    truth = {}
    for source in sources:
        rng = random.Random(f"{seed}-{source.name}")
        original = f"{source.name}.jpg"
        source.image.save(folder / original, quality=90)
        truth[original] = {"family": source.name, "kind": source.kind, "edit": "original",
                           "half": half[source.name], "params": {}}
        for name in EDITS:
            copy, quality, params = edit(source.image, name, rng, font_paths)
            file = f"{source.name}__{name}.jpg"
            copy.save(folder / file, quality=quality)
            truth[file] = {"family": source.name, "kind": source.kind, "edit": name,
                           "half": half[source.name], "params": {**params, "quality": quality}}
    return truth, dropped

