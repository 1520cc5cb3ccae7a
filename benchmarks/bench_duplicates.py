"""Near-duplicates: quality on real photographs and edited copies, against a plain pHash; and the cost at scale.

    python benchmarks/bench_duplicates.py [--scale N] [--write-results]

The corpus is built from real photographs: scikit-image's sample photos and, when installed, Debian's
MATE wallpapers (`apt-get install mate-backgrounds`, in /usr/share/backgrounds/mate/). Each source gets
edited copies: crops (80%, 60%, 45% of each side), a caption bar with text, a resize to a third, a
recompression at JPEG quality 15, greyscale, a mirror and a white border. The distinct sources, among
them a stereo pair (motorcycle left/right) and similar textures (brick, grass, gravel), are the
negatives. Scored pairwise: a pair of files is predicted a duplicate when both are in one group.

The scale part runs the candidate stage of `duplicates()` (k nearest neighbours of every vector, FAISS,
then the similarity prefilter) on N vectors: the corpus's real EfficientNet-Lite0 vectors plus random
vectors drawn from the same per-dimension distributions (so their cosines to each other look like those of
unrelated photos), and extrapolates the verification stage from its measured cost per pair and per image.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageDraw, ImageFont, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import imagier  # noqa: E402
from common import HERE, machine, write_results  # noqa: E402
from imagier.analysis import duplicates as dup  # noqa: E402
from imagier.store.vectors import Matrix  # noqa: E402

HEADING = "## Near-duplicates"
SKIMAGE = ["astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
           "immunohistochemistry", "moon", "motorcycle_left", "motorcycle_right", "page", "retina", "rocket",
           "text", "cell"]
WALLPAPERS = Path("/usr/share/backgrounds/mate")
# The photographs among the wallpapers (the abstract and desktop ones are drawn graphics, some of them
# transparent; Elephants comes in three sizes: one is enough).
WALLPAPER_PHOTOS = ["nature/*.jpg", "abstract/Elephants.jpg"]
SOURCE_SIDE = 1600
PHASH_THRESHOLD = 10
NOTES = """\
Notes: thumbnails suffice for the check (measured on these edits: ORB on the stored 256 px thumbnails,
enlarged to 512 px, finds as many true pairs as on the originals at 512 px, at a fraction of the decode
cost), so originals are never read. The candidate stage's recall against exact neighbours (this corpus among
20,000 vectors, exact search): 963 of 976 pairs (98.7%). The loss of recall is in 45% crops (a fifth of
the picture, often with too few keypoints in common) and borders on fine textures. Verification dominates at
scale when many images have candidates; the one-hour worst case assumes every one of 500,000 images has two
candidate pairs above the cosine prefilter, which only a corpus made mostly of copies would reach."""


def sources() -> dict[str, Image.Image]:
    found = {}
    for name in SKIMAGE:
        if not hasattr(skimage.data, name):
            continue
        pixels = getattr(skimage.data, name)()
        if pixels.dtype != np.uint8:
            pixels = (pixels * 255).astype(np.uint8) if pixels.max() <= 1 else pixels.astype(np.uint8)
        found[name] = Image.fromarray(pixels).convert("RGB")
    for name in ("motorcycle_left", "motorcycle_right"):
        found[name] = Image.open(Path(skimage.data.__file__).parent / f"{name}.png").convert("RGB")
    if WALLPAPERS.is_dir():
        for path in sorted(p for pattern in WALLPAPER_PHOTOS for p in WALLPAPERS.glob(pattern)):
            img = Image.open(path)
            img.draft("RGB", (SOURCE_SIDE, SOURCE_SIDE))
            img = img.convert("RGB")
            img.thumbnail((SOURCE_SIDE, SOURCE_SIDE))
            found[f"mate-{path.stem}"] = img
    else:
        print(f"note: {WALLPAPERS} is missing, so the corpus has only scikit-image's photos; for the full corpus "
              "run `apt-get install mate-backgrounds`", file=sys.stderr)
    return found


def edits(img: Image.Image) -> dict[str, Image.Image]:
    w, h = img.size
    out = {}
    for share in (80, 60, 45):
        cw, ch = w * share // 100, h * share // 100
        x, y = (w - cw) // 3, (h - ch) // 2
        out[f"crop{share}"] = img.crop((x, y, x + cw, y + ch))
    caption = img.copy()
    draw = ImageDraw.Draw(caption)
    draw.rectangle((0, h - h // 6, w, h), fill=(0, 0, 0))
    draw.text((w // 40, h - h // 7), "Archive 1987, no. 42", fill=(255, 255, 255),
              font=ImageFont.load_default(size=max(10, h // 12)))
    out["caption"] = caption
    out["resize"] = img.resize((max(1, w // 3), max(1, h // 3)), Image.Resampling.LANCZOS)
    low = io.BytesIO()
    img.save(low, "JPEG", quality=15)
    out["jpeg15"] = Image.open(low).convert("RGB")
    out["grey"] = ImageOps.grayscale(img)
    out["mirror"] = ImageOps.mirror(img)
    out["border"] = ImageOps.expand(img, border=max(w, h) // 10, fill=(255, 255, 255))
    return out


def build(folder: Path) -> dict[str, str]:
    """Write the corpus; returns {file name: its source}."""
    truth = {}
    for name, img in sources().items():
        img.save(folder / f"{name}.jpg", quality=90)
        truth[f"{name}.jpg"] = name
        for edit, copy in edits(img).items():
            copy.save(folder / f"{name}__{edit}.jpg", quality=90)
            truth[f"{name}__{edit}.jpg"] = name
    return truth


def scores(predicted: set, truth_pairs: set) -> dict[str, float]:
    hits = len(predicted & truth_pairs)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth_pairs) if truth_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pairs": len(predicted)}


def quality(workdir: Path) -> dict:
    folder = workdir / "corpus"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    truth = build(folder)
    path = workdir / "duplicates.imagier"
    path.unlink(missing_ok=True)
    with imagier.open(path) as project:
        project.import_folders([folder])
        project.embed("efficientnet-lite0")
        project.embed("phash")
        names = {i: Path(p).name for i, p in project.all_paths()}
        truth_pairs = {frozenset((a, b)) for a, b in combinations(sorted(names), 2)
                       if truth[names[a]] == truth[names[b]]}
        times, groups = [], None
        for _ in range(3):
            project.__dict__.pop("_duplicate_checks", None)  # each run checks every pair again
            start = time.perf_counter()
            groups = project.duplicates()
            times.append(time.perf_counter() - start)
        ours = {frozenset(p) for g in groups for p in combinations(g["ids"], 2)}
        checks = len(project._duplicate_checks)
        # A plain pHash: every pair of files within the usual Hamming distance.
        hashes = project.matrix("phash")
        files_of = project.file_ids_of_contents(hashes.content_ids)
        bits = np.unpackbits(hashes.rows, axis=1)
        distances = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
        phash = set()
        for i, j in zip(*np.nonzero(np.triu(distances <= PHASH_THRESHOLD, 1))):
            phash |= {frozenset((a, b)) for a in files_of[int(hashes.content_ids[i])]
                      for b in files_of[int(hashes.content_ids[j])]}
        embedding = project.matrix("efficientnet-lite0")
        relations = {}
        for g in groups:
            for p in g["pairs"]:
                relations[p["relation"]] = relations.get(p["relation"], 0) + 1
        stats = {"files": len(names), "sources": len(set(truth.values())), "truth": len(truth_pairs),
                 "ours": scores(ours, truth_pairs), "phash": scores(phash, truth_pairs),
                 "seconds": statistics.median(times), "checks": checks, "relations": relations,
                 "vectors": embedding, "missed": _missed(ours, truth_pairs, names)}
    return stats


def _missed(ours: set, truth_pairs: set, names: dict) -> dict[str, int]:
    """The files in no group, by edit."""
    grouped = {i for p in ours for i in p}
    missed: dict[str, int] = {}
    for i, name in names.items():
        if i not in grouped:
            edit = name.rsplit("__", 1)[1][:-4] if "__" in name else "original"
            missed[edit] = missed.get(edit, 0) + 1
    return missed


def scale(real: Matrix, n: int) -> dict:
    """The candidate stage on n vectors: the corpus's real ones plus per-dimension resamples of them."""
    rng = np.random.default_rng(0)
    extra = n - len(real.rows)
    rows = np.empty((n, real.rows.shape[1]), dtype=np.float32)
    rows[:len(real.rows)] = real.rows
    for d in range(rows.shape[1]):  # each dimension drawn from the real rows' values of that dimension
        rows[len(real.rows):, d] = real.rows[rng.integers(0, len(real.rows), size=extra), d]
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    ids = np.arange(1, n + 1, dtype=np.int64)
    matrix = Matrix(real.type, ids, rows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    pairs = dup._neighbour_pairs(matrix, ids, dup.NEIGHBOURS, dup.MIN_SIMILARITY["cosine"])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    real_pairs = sum(1 for a, b in pairs if a <= len(real.rows) and b <= len(real.rows))
    return {"n": n, "seconds": seconds, "pairs": len(pairs), "real_pairs": real_pairs,
            "images": len({c for p in pairs for c in p}), "peak_mb": peak, "before_mb": before}


def verification_costs(workdir: Path) -> dict:
    """The cost of the verification stage on the corpus: per image (decode + keypoints) and per pair."""
    from imagier.analysis import matching
    with imagier.open(workdir / "duplicates.imagier") as project:
        ids = [c for c in project.matrix("efficientnet-lite0").content_ids.tolist()]
        thumbs = project.thumbnails_of(ids)
        start = time.perf_counter()
        feats = [matching.features(Image.open(io.BytesIO(thumbs[c]))) for c in ids]
        per_image = (time.perf_counter() - start) / len(ids)
        rng = np.random.default_rng(1)
        pairs = rng.integers(0, len(feats), size=(300, 2))
        start = time.perf_counter()
        for a, b in pairs:
            matching.verify(feats[a], feats[b], lambda b=b: feats[b])
        per_pair = (time.perf_counter() - start) / len(pairs)
    return {"image_ms": per_image * 1000, "pair_ms": per_pair * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=100_000, help="vectors for the candidate stage")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    workdir = HERE / "out" / "duplicates"
    workdir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()

    q = quality(workdir)
    costs = verification_costs(workdir)
    s = scale(q["vectors"], args.scale)
    # At 500,000: an IVF index probes a fixed share of ~sqrt(n) lists of ~sqrt(n) rows, so the kNN stage
    # grows ~n^1.5. Verification costs keypoints once per image that is in some candidate pair and a check
    # per pair, on two threads (OpenCV releases the GIL); how many images have a candidate depends on how
    # many copies the corpus holds, so two cases: 10% and every image, with two candidate pairs each.
    knn_500k = s["seconds"] * (500_000 / s["n"]) ** 1.5
    verify_500k = {share: share * 500_000 * (costs["image_ms"] + 2 * costs["pair_ms"]) / 1000 / 2 for share in (0.1, 1.0)}
    rows = [
        ("imagier duplicates()", q["ours"]),
        (f"plain pHash, Hamming <= {PHASH_THRESHOLD}", q["phash"]),
    ]
    table = ["| method | precision | recall | F1 | predicted pairs |", "|---|---:|---:|---:|---:|"]
    table += [f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['pairs']} |" for name, r in rows]
    scale_table = [
        "| stage | figure |", "|---|---:|",
        f"| kNN (k={dup.NEIGHBOURS}) + prefilter on {s['n']:,} vectors (1280-d) | {s['seconds']:.1f} s |",
        f"| candidate pairs kept (cosine >= {dup.MIN_SIMILARITY['cosine']}) | {s['pairs']:,} "
        f"({s['real_pairs']:,} among the corpus's real vectors) |",
        f"| images in candidate pairs | {s['images']:,} |",
        f"| peak resident memory of the process | {s['peak_mb']:,.0f} MB ({s['before_mb']:,.0f} MB before the stage) |",
        f"| verification, per image (thumbnail decode + ORB) | {costs['image_ms']:.1f} ms |",
        f"| verification, per pair (match + RANSAC + pixel check, mirror retried) | {costs['pair_ms']:.1f} ms |",
        f"| 500,000 images: kNN + prefilter, extrapolated (~n^1.5) | {knn_500k / 60:.0f} min |",
        f"| 500,000 images: verification if 10% of the images have a candidate (2 pairs each), 2 threads | "
        f"{verify_500k[0.1] / 60:.0f} min |",
        f"| 500,000 images: verification if every image has a candidate (2 pairs each), 2 threads | "
        f"{verify_500k[1.0] / 60:.0f} min |",
    ]
    section = "\n".join([
        HEADING, "",
        f"Machine: {machine('opencv ' + __import__('cv2').__version__, 'faiss ' + __import__('faiss').__version__)}; "
        f"load average at the start {load[0]:.2f}.", "",
        f"Corpus: {q['sources']} real photographs (scikit-image's sample photos and Debian's MATE nature wallpapers) and 10 "
        f"edited copies of each (crops 80/60/45%, caption, resize to 1/3, JPEG quality 15, greyscale, mirror, "
        f"border): {q['files']} files, {q['truth']:,} true duplicate pairs. Candidates from EfficientNet-Lite0 "
        f"and pHash neighbours, each pair checked with ORB + RANSAC on the stored 256 px thumbnails. "
        f"`duplicates()` on the corpus: {q['seconds']:.1f} s (median of 3, {q['checks']:,} pairs checked).", "",
        *table, "",
        "Relations reported: " + ", ".join(f"{k} {v}" for k, v in sorted(q["relations"].items())) + ".",
        "Files in no group, by edit: " + (", ".join(f"{k} {v}" for k, v in sorted(q["missed"].items()))
                                                      or "none") + ".", "",
        f"At scale ({s['n']:,} vectors: the corpus's plus random ones drawn from the same per-dimension "
        "distributions):", "",
        *scale_table, "", NOTES,
    ])
    print(section)
    if args.write_results:
        write_results(section)


if __name__ == "__main__":
    main()
