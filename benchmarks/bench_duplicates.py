"""Near-duplicates: quality on a corpus of real pictures and edited copies, against a plain pHash; the
similar-images figure; and the cost per image at scale.

    nice python benchmarks/bench_duplicates.py [--seed 0] [--scale 10000,100000] [--timed 3861]
        [--write-results]

The corpus (dup_corpus.py) holds four kinds of real pictures (photographs, paintings and abstract or
gradient wallpapers, rendered documents and screenshots, memes), each with ten edited copies; it needs
the Debian packages `mate-backgrounds gnome-backgrounds plasma-workspace-wallpapers lomiri-wallpapers
desktop-base` and fonts (`fonts-dejavu-core`, better with `fonts-liberation fonts-freefont-ttf`). It is
built once per seed under benchmarks/out/duplicates/, in two halves by family: the calibration half, on
which calibrate_duplicates.py sets matching.py's thresholds, and the report half. Another seed gives
another corpus made the same way (other crops, captions, qualities, splits).

`--scale N,N...` times `duplicates()` per stage on a project of N real thumbnails, most of them not copies
of each other (dup_scale.py: the corpus and tiles of the wallpapers, imported and embedded once). `--timed N` times
`duplicates()` itself on a project of about N real files (the corpus's pictures, slightly resized round
after round, with their edited copies; built once), at one, two and all of its rounds.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import time
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import dup_corpus  # noqa: E402
import dup_scale  # noqa: E402
import imagier  # noqa: E402
from common import HERE, machine, write_results  # noqa: E402
from imagier.analysis import crop_windows  # noqa: E402
from imagier.analysis import duplicates as dup  # noqa: E402
from imagier.analysis import matching  # noqa: E402

HEADING = "## Near-duplicates"
PHASH_THRESHOLD = 10
SEED = 0
SIMILAR_TOP = 6
NOTES = """\
Notes: candidates are each image's 10 nearest neighbours at cosine >= 0.75 and its 3 nearest at cosine >= 0.5 (crops and
borders of paintings and gradients move their embedding further), plus pHash neighbours, plus each
image with the one whose window its colour layout matches best and the one whose layout matches one
of its windows best (crop_windows.py: crops that every embedding moves too far). Misses left: crops of
pages (found only at a scale within 2-3% of their own, or never made candidates with their family),
nearly plain crops (any plain rectangle of their colour would match them), text over plain pictures
(the lettering is most of their detail), and the few copies whose candidates never met their family."""


def corpus(workdir: Path, seed: int) -> dict[str, dict]:
    """The corpus of this seed (built once): {file name: truth}, its two halves in two folders."""
    folder = workdir / f"corpus-{seed}"
    truth_file = folder / "truth.json"
    if not truth_file.exists():
        shutil.rmtree(folder, ignore_errors=True)
        flat = folder / "all"
        truth, dropped = dup_corpus.build(flat, seed)
        for name, t in truth.items():
            (folder / t["half"]).mkdir(exist_ok=True)
            (flat / name).rename(folder / t["half"] / name)
        flat.rmdir()
        truth_file.write_text(json.dumps({"files": truth, "dropped": dropped}, indent=1))
    return json.loads(truth_file.read_text())


def project_of(workdir: Path, seed: int, half: str) -> Path:
    """The project of one half (imported and embedded once)."""
    path = workdir / f"corpus-{seed}-{half}.imagier"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        with imagier.open(partial) as project:
            project.import_folders([workdir / f"corpus-{seed}" / half])
            project.embed("efficientnet-lite0")
            project.embed("phash")
        partial.rename(path)
    return path


def scores(predicted: set, truth_pairs: set) -> dict[str, float]:
    hits = len(predicted & truth_pairs)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth_pairs) if truth_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pairs": len(predicted)}


def breakdown(predicted: set, names: dict[int, str], truth: dict[str, dict]) -> dict:
    """Pairwise precision, recall, F1 overall and per kind of picture; per edit, the share of copies
    grouped with their original."""
    of = {i: truth[n] for i, n in names.items()}
    truth_pairs = {frozenset((a, b)) for a, b in combinations(sorted(names), 2)
                   if of[a]["family"] == of[b]["family"]}
    result = {"all": scores(predicted, truth_pairs), "kinds": {}, "edits": {}}
    for kind in dup_corpus.KINDS:
        inside = {i for i in names if of[i]["kind"] == kind}
        result["kinds"][kind] = scores({p for p in predicted if p & inside}, {p for p in truth_pairs if p <= inside})
    original = {of[i]["family"]: i for i in names if of[i]["edit"] == "original"}
    for edit in dup_corpus.EDITS:
        copies = [i for i in names if of[i]["edit"] == edit]
        found = sum(frozenset((i, original[of[i]["family"]])) in predicted for i in copies)
        result["edits"][edit] = {"recall": found / len(copies) if copies else 1.0, "missed": len(copies) - found,
                                 "copies": len(copies)}
    return result


def quality(workdir: Path, seed: int, half: str, truth: dict[str, dict]) -> dict:
    with imagier.open(project_of(workdir, seed, half)) as project:
        names = {i: Path(p).name for i, p in project.all_paths()}
        start = time.perf_counter()
        groups = project.duplicates()
        seconds = time.perf_counter() - start
        ours = {frozenset(p) for g in groups for p in combinations(g["ids"], 2)}
        checks = len(project.duplicate_finder.checked_pairs)
        relations: dict[str, int] = {}
        for g in groups:
            for p in g["pairs"]:
                relations[p["relation"]] = relations.get(p["relation"], 0) + 1
        wrong = sorted({(names[a], names[b]) for a, b in map(sorted, ours)
                        if truth[names[a]]["family"] != truth[names[b]]["family"]})
        return {"files": len(names), "families": len({truth[n]["family"] for n in names.values()}),
                "ours": breakdown(ours, names, truth), "phash": breakdown(plain_phash(project), names, truth),
                "seconds": seconds, "checks": checks, "relations": relations, "wrong": wrong,
                "similar": similar_share(project, names, truth), "vectors": project.vectors.matrix("efficientnet-lite0")}


def plain_phash(project) -> set:
    """Every pair of files within the usual Hamming distance of each other's pHash."""
    hashes = project.vectors.matrix("phash")
    files_of = project.images.file_ids_of_contents(hashes.content_ids)
    bits = np.unpackbits(hashes.rows, axis=1)
    distances = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    found = set()
    for i, j in zip(*np.nonzero(np.triu(distances <= PHASH_THRESHOLD, 1))):
        found |= {frozenset((a, b)) for a in files_of[int(hashes.content_ids[i])]
                  for b in files_of[int(hashes.content_ids[j])]}
    return found


def similar_share(project, names: dict[int, str], truth: dict[str, dict]) -> float:
    """The share of an original's own edited copies among its SIMILAR_TOP most similar images (mean)."""
    shares = []
    for i, name in names.items():
        if truth[name]["edit"] == "original":
            top = project.similar(i, top_k=SIMILAR_TOP)
            shares.append(sum(truth[names[r["id"]]]["family"] == truth[name]["family"] for r in top) / SIMILAR_TOP)
    return float(np.mean(shares))


def scaled_project(workdir: Path, n: int) -> tuple[Path, list[int]]:
    """A project of about n real files (built once): the corpus's source pictures, each slightly resized
    by a seeded factor per round so that no two rounds share a file, with their ten edited copies, round
    after round (dup_corpus seeds 0, 1, ...) until n; and the number of files after each round."""
    path = workdir / f"scaled-{n}.imagier"
    rounds_file = path.with_suffix(".rounds.json")
    if path.exists() and rounds_file.exists():
        return path, json.loads(rounds_file.read_text())
    sources, _ = dup_corpus.all_sources(SEED)
    per_round = len(sources) * (1 + len(dup_corpus.EDITS))
    partial = path.with_suffix(".partial")  # an interrupted build resumes: its rounds are imported again
    counts = []
    with imagier.open(partial) as project:
        for seed in range(-(-n // per_round)):
            folder = workdir / "scaled-files" / f"round-{seed:02d}"
            if len(list(folder.glob("*.jpg"))) < per_round:
                factor = 1.0 - 0.02 * seed
                resized = [dup_corpus.Source(s.name, s.kind, s.image.resize(
                    (round(s.image.width * factor), round(s.image.height * factor)), Image.Resampling.LANCZOS))
                    for s in sources]
                dup_corpus.build(folder, seed, resized)
            project.import_folders([folder])
            project.embed("efficientnet-lite0")
            project.embed("phash")
            counts.append(len(project.all_paths()))
    partial.rename(path)
    rounds_file.write_text(json.dumps(counts))
    return path, counts


def timed_scale(workdir: Path, n: int) -> list[dict]:
    """duplicates() timed on a project of about n real files (scaled_project), on the first rounds
    (their files selected by a filter on the path) and on all of them: {"n", "seconds", "groups"}."""
    path, counts = scaled_project(workdir, n)
    points = []
    for rounds, count in enumerate(counts, 1):
        if rounds not in (1, 2, len(counts)):
            continue
        last = workdir / "scaled-files" / f"round-{rounds - 1:02d}"
        selection = None if rounds == len(counts) else {
            "or": [{"property": "path", "op": "startswith", "value": str(last.parent / f"round-{r:02d}")}
                   for r in range(rounds)]}
        with imagier.open(path) as project:
            start = time.perf_counter()
            groups = project.duplicates(filter=selection)
            seconds = time.perf_counter() - start
        points.append({"n": count, "seconds": seconds, "groups": len(groups)})
    return points


def verification_costs(workdir: Path, seed: int, truth: dict[str, dict]) -> dict:
    """The verification stage's costs on the report half's real thumbnails: per image (decode and
    features), and per candidate pair, for the whole check and for its keypoint part alone (what the
    check was before the frame and crop signals), over all candidate pairs and over the pairs of
    different pictures (which go through every signal)."""
    with imagier.open(project_of(workdir, seed, "report")) as project:
        matrix = project.vectors.matrix("efficientnet-lite0")
        ids = matrix.content_ids.tolist()
        pairs = sorted(project.duplicate_finder._duplicate_candidates(matrix, matrix.content_ids, dup.NEIGHBOURS,
                                                     dup.MIN_SIMILARITY["cosine"], dup.CLOSEST_SIMILARITY["cosine"]))
        thumbs = project.images.thumbnails_of(ids)
        files_of = project.images.file_ids_of_contents(ids)
        family = {c: truth[Path(project.file(fs[0])["path"]).name]["family"] for c, fs in files_of.items()}
    start = time.perf_counter()
    feats = {c: matching.features(Image.open(io.BytesIO(thumbs[c]))) for c in ids}
    per_image = (time.perf_counter() - start) / len(ids)
    mirrored = {c: matching.features(Image.open(io.BytesIO(thumbs[c])), mirror=True) for c in ids}

    def keypoints_only(a, b):
        return matching._aligned(feats[a], feats[b]) or matching._aligned(feats[a], mirrored[b])

    def full(a, b):
        return matching.verify(feats[a], feats[b], lambda: mirrored[b])
    different = [(a, b) for a, b in pairs if family[a] != family[b]]
    windows = crop_window_costs(project_of(workdir, seed, "report"))
    # The two checks pair by pair, in turn, so that a change of the machine's load weighs on both alike.
    seconds = {(name, label): 0.0 for name in ("keypoints", "full") for label in ("all", "different")}
    for a, b in pairs:
        for name, check in (("keypoints", keypoints_only), ("full", full)):
            start = time.perf_counter()
            check(a, b)
            spent = time.perf_counter() - start
            seconds[name, "all"] += spent
            if family[a] != family[b]:
                seconds[name, "different"] += spent
    per_pair = {(name, label): spent / max(1, len(pairs if label == "all" else different)) * 1000
                for (name, label), spent in seconds.items()}
    return {"image_ms": per_image * 1000, "pair_ms": per_pair["full", "all"],
            "keypoint_pair_ms": per_pair["keypoints", "all"], "different_ms": per_pair["full", "different"],
            "keypoint_different_ms": per_pair["keypoints", "different"], "different": len(different),
            "pairs_per_image": len(pairs) / len(ids), **windows}


def crop_window_costs(path: Path) -> dict:
    """The crop-window candidates (crop_windows.py) on a project: their process CPU time per image
    (decoding the thumbnails twice, the layouts, the search) and the pairs per image that no other
    candidate signal gives."""
    with imagier.open(path) as project:
        matrix = project.vectors.matrix("efficientnet-lite0")
        ids = matrix.content_ids
        start = time.process_time()
        windows = crop_windows.crop_pairs(ids, project.images.thumbnails_of)
        seconds = time.process_time() - start
        only = windows - project.duplicate_finder._neighbour_candidates(
            matrix, ids, dup.NEIGHBOURS, dup.MIN_SIMILARITY["cosine"], dup.CLOSEST_SIMILARITY["cosine"])
    return {"window_ms": seconds / len(ids) * 1000, "window_pairs_per_image": len(windows) / len(ids),
            "window_only_per_image": len(only) / len(ids)}


def half_section(name: str, q: dict) -> list[str]:
    ours, phash = q["ours"], q["phash"]
    lines = [f"### {name} half: {q['families']} families, {q['files']} files; `duplicates()` {q['seconds']:.1f} s "
             f"({q['checks']:,} pairs checked)", "",
             "| | imagier P | R | F1 | plain pHash P | R | F1 |", "|---|---:|---:|---:|---:|---:|---:|"]

    def row(label, a, b):
        return (f"| {label} | {a['precision']:.3f} | {a['recall']:.3f} | {a['f1']:.3f} | "
                f"{b['precision']:.3f} | {b['recall']:.3f} | {b['f1']:.3f} |")
    lines.append(row("**all pairs**", ours["all"], phash["all"]))
    for kind in dup_corpus.KINDS:
        lines.append(row(f"kind: {kind}", ours["kinds"][kind], phash["kinds"][kind]))
    lines += ["", "| edit: copies grouped with their original | imagier | missed | plain pHash |", "|---|---:|---:|---:|"]
    for edit in dup_corpus.EDITS:
        e, p = ours["edits"][edit], phash["edits"][edit]
        lines.append(f"| {edit} | {e['recall']:.3f} | {e['missed']} of {e['copies']} | {p['recall']:.3f} |")
    lines += ["", f"Similar images: share of an original's own copies among its {SIMILAR_TOP} most similar: "
              f"{q['similar']:.3f}.",
              "Relations reported: " + ", ".join(f"{k} {v}" for k, v in sorted(q["relations"].items())) + ".",
              f"Pairs of different pictures put in one group: {len(q['wrong'])}"
              + (" (" + "; ".join(f"{a} ~ {b}" for a, b in q["wrong"][:6]) + ")" if q["wrong"] else "") + ".", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=SEED, help="the corpus (another seed: another held-out corpus)")
    parser.add_argument("--scale", help="sizes (comma-separated: 10000,100000) at which duplicates() is timed on "
                        "real thumbnails (dup_scale.py; the project is built once, which takes hours at 100,000)")
    parser.add_argument("--timed", type=int, nargs="*", default=[3_861],
                        help="files of the project on which duplicates() is timed (three rounds of the corpus: 3,861)")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    workdir = HERE / "out" / "duplicates"
    workdir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    built = corpus(workdir, args.seed)
    truth = built["files"]
    halves = {half: quality(workdir, args.seed, half, truth) for half in ("calibration", "report")}
    costs = verification_costs(workdir, args.seed, truth)
    scale = dup_scale.run([int(n) for n in args.scale.split(",")]) if args.scale else []
    timed = [t for n in args.timed for t in timed_scale(workdir, n)]
    kinds = {k: sum(1 for t in truth.values() if t["kind"] == k and t["edit"] == "original") for k in dup_corpus.KINDS}
    section = "\n".join([
        HEADING, "",
        f"Machine: {machine('opencv ' + cv2.__version__, 'faiss ' + __import__('faiss').__version__)}; "
        f"load average (uptime) at the start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.", "",
        f"Corpus (benchmarks/dup_corpus.py, seed {args.seed}): {len(truth):,} files in "
        f"{sum(kinds.values())} families, one real picture each ({', '.join(f'{v} {k}' for k, v in kinds.items())})"
        f" and ten edited copies: {', '.join(dup_corpus.EDITS)}. Sources shipped twice, left out before the truth "
        f"was written: {'; '.join(f'{b} (= {a}, {c})' for a, b, c in built['dropped']) or 'none'}. Families are split "
        "into halves by a seeded shuffle within each kind; the thresholds of matching.py were calibrated on the "
        "calibration half only (benchmarks/calibrate_duplicates.py); the report half is the figure that counts. "
        "Scored pairwise: a pair of files is predicted a duplicate when both are in one group.", "",
        *half_section("Report", halves["report"]), *half_section("Calibration", halves["calibration"]),
        f"Cost, on the report half's real thumbnails: features {costs['image_ms']:.1f} ms per image; "
        f"verification {costs['pair_ms']:.2f} ms per candidate pair (keypoints alone, the check before the "
        f"frame and crop signals: {costs['keypoint_pair_ms']:.2f} ms, so {costs['pair_ms'] / costs['keypoint_pair_ms']:.2f}x); "
        f"on the {costs['different']} candidate pairs of different pictures, which go through every signal, "
        f"{costs['different_ms']:.2f} ms against {costs['keypoint_different_ms']:.2f} ms "
        f"({costs['different_ms'] / costs['keypoint_different_ms']:.2f}x); "
        f"{costs['pairs_per_image']:.1f} candidate pairs per image, of which the crop windows give "
        f"{costs['window_pairs_per_image']:.2f} ({costs['window_only_per_image']:.2f} that no other signal gives), "
        f"at {costs['window_ms']:.1f} ms of CPU per image.", "",
        *([dup_scale.DESCRIPTION, "", *scale, ""] if scale else []), NOTES, "",
        "Timed: `duplicates()` on a project of real files, the corpus's source pictures each slightly resized "
        "per round (2% smaller each round, so no file repeats) with their ten edited copies, round after round; "
        "the first rounds selected by a filter on the path (so the candidate stage and verification see only "
        "them), two threads, every pair verified afresh:", "",
        "| files | duplicates() | per file | groups |", "|---:|---:|---:|---:|",
        *(f"| {t['n']:,} | {t['seconds']:.1f} s | {t['seconds'] / t['n'] * 1000:.1f} ms | {t['groups']:,} |"
          for t in timed),
    ])
    print(section)
    if args.write_results:
        write_results(section)


if __name__ == "__main__":
    main()
