"""Calibrate the thresholds of the near-duplicate check on the calibration half of the corpus only.

    python benchmarks/calibrate_duplicates.py [--seed 0]

For every candidate pair of the calibration half (the pairs `duplicates()` would verify), the signals of
matching.py: whether the keypoint check accepts it, the whole-frame SSIM (as is and mirrored), the
crop SSIM (each picture searched in the other), the smooth agreement (the grey levels of shaded cells,
as they are, whole or one inside the other) and, for the crop, the gap between the median colours of
the two pictures where they overlap. Copies of one picture are positives, everything else
negatives. A false pair merges two families into one group (with 11 pictures each, 121 false pairs), so
each threshold is set well above the highest negative: halfway to the median positive; the figures
printed say what recall each signal adds at that threshold. The colour gap is an upper bound: halfway
between the pairs of one picture whose colours were not edited and the pairs of different pictures that
the crop signal nearly accepts. Copy the thresholds printed into matching.py (FRAME_SSIM, CROP_SSIM,
SMOOTH_AGREEMENT, COLOUR_GAP), then run bench_duplicates.py, which reports the other half.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_duplicates as bench  # noqa: E402
import imagier  # noqa: E402
from imagier.analysis import duplicates as dup  # noqa: E402
from imagier.analysis import matching  # noqa: E402

def signals(project, truth: dict[str, dict]) -> list[dict]:
    """Every candidate pair of the project with its label and signals."""
    matrix = project.vectors.matrix("efficientnet-lite0")
    names = {i: Path(p).name for i, p in project.all_paths()}
    files_of = project.images.file_ids_of_contents(matrix.content_ids.tolist())
    family = {c: truth[names[fs[0]]]["family"] for c, fs in files_of.items()}
    pairs = sorted(project.duplicate_finder._duplicate_candidates(matrix, matrix.content_ids, dup.NEIGHBOURS,
                                                 dup.MIN_SIMILARITY["cosine"], dup.CLOSEST_SIMILARITY["cosine"]))
    facts = {f["content_id"]: f for f in project.files([fs[0] for fs in files_of.values()])}
    thumbs = project.images.thumbnails_of(list(files_of))
    features = {c: matching.features(Image.open(io.BytesIO(thumbs[c])), (facts[c]["width"], facts[c]["height"]))
                for c in files_of}
    rows = []
    for a, b in pairs:
        fa, fb = features[a], features[b]
        same, mirrored = matching.frame_similarity(fa, fb)
        corr = matching.coarse_correlation(fa.frame, fb.frame)
        corr_m = matching.coarse_correlation(fa.frame, fb.frame[:, ::-1])
        crop, b_to_a = matching.crop_signal(fa, fb)
        smooth = matching.smooth_signal(fa, fb)[0]
        rows.append({"smooth": smooth, "a": names[files_of[a][0]], "b": names[files_of[b][0]], "positive": family[a] == family[b],
                     "keypoints": matching._aligned(fa, fb) is not None, "frame": same, "mirrored": mirrored, "corr": corr, "corr_m": corr_m,
                     "crop": crop, "colour_gap": None if b_to_a is None else matching.colour_gap(fa, fb, b_to_a),
                     "colours_edited": any(truth[names[files_of[c][0]]]["edit"] == "colour" for c in (a, b))})
    return rows


def threshold(rows: list[dict], signal, name: str) -> float:
    """Halfway between the highest negative and the median of the positives above it that keypoints
    miss: the widest margin on both sides, so a negative of another corpus a little above this one's
    highest, or a positive a little below, does not cross it."""
    negatives = sorted(((signal(r), r["a"], r["b"]) for r in rows if not r["positive"]), reverse=True)
    top = negatives[0][0] if negatives else 0.0
    above = [signal(r) for r in rows if r["positive"] and not r["keypoints"] and signal(r) > top]
    chosen = round((top + float(np.median(above))) / 2, 2) if above else round(top + 0.1, 2)
    positives = [r for r in rows if r["positive"] and not r["keypoints"]]
    added = sum(1 for r in positives if signal(r) >= chosen)
    print(f"{name}: highest negatives {[(round(v, 3), a, b) for v, a, b in negatives[:3]]}")
    print(f"{name}: threshold {chosen}; of the {len(positives)} pairs of one picture that keypoints miss, "
          f"it accepts {added} ({len(above)} lie above the highest negative)")
    return chosen


def colour_threshold(rows: list[dict], crop: float, near: float = 0.6) -> float:
    """The largest colour gap the crop signal accepts: halfway between the largest gap of a pair of one
    picture whose colours no edit changed among those the crop signal accepts, and the smallest gap of
    a pair of different pictures that the crop signal comes near to accepting (at `near` or above)."""
    same = [r["colour_gap"] for r in rows if r["positive"] and not r["colours_edited"] and r["crop"] >= crop]
    different = [r["colour_gap"] for r in rows if not r["positive"] and r["crop"] >= near and r["colour_gap"]]
    chosen = round((max(same) + min(different)) / 2, 1)
    recoloured = [r for r in rows if r["positive"] and r["colours_edited"] and r["crop"] >= crop and not r["keypoints"]]
    print(f"COLOUR_GAP: largest gap of one picture's crops, colours unedited: {max(same):.1f}; smallest of different "
          f"pictures with a crop signal of {near} or more: {min(different):.1f}; threshold {chosen} (of the "
          f"{len(recoloured)} pairs with a recoloured copy that the crop signal accepts, it refuses "
          f"{sum(r['colour_gap'] > chosen for r in recoloured)}: their copies join through the others)")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=bench.SEED)
    args = parser.parse_args()
    workdir = bench.HERE / "out" / "duplicates"
    truth = bench.corpus(workdir, args.seed)["files"]
    with imagier.open(bench.project_of(workdir, args.seed, "calibration")) as project:
        rows = signals(project, truth)
    positives = [r for r in rows if r["positive"]]
    print(f"{len(rows)} candidate pairs, {len(positives)} of one picture; keypoints accept "
          f"{sum(r['keypoints'] for r in positives)} of these and "
          f"{sum(r['keypoints'] for r in rows if not r['positive'])} others")
    frame = threshold(rows, lambda r: max(r["frame"], r["mirrored"]), "FRAME_SSIM")
    crop = threshold(rows, lambda r: r["crop"], "CROP_SSIM")
    # Over every candidate pair, though verification asks it only of pairs with a plain picture: so
    # that its threshold is set against all the pictures that could ever reach it.
    smooth = threshold(rows, lambda r: r["smooth"], "SMOOTH_AGREEMENT")
    missed = [r for r in positives if not r["keypoints"] and max(r["frame"], r["mirrored"]) < frame and r["crop"] < crop
              and r["smooth"] < smooth]
    print(f"positives no signal accepts: {len(missed)}")
    for r in missed:
        print(f"  {r['a']} ~ {r['b']}: frame {r['frame']:.3f} mirrored {r['mirrored']:.3f} crop {r['crop']:.3f}")
    colour = colour_threshold(rows, crop)
    print(f"FRAME_SSIM = {frame}\nCROP_SSIM = {crop}\nSMOOTH_AGREEMENT = {smooth}\nCOLOUR_GAP = {colour}")


if __name__ == "__main__":
    main()
