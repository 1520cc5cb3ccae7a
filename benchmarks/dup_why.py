"""Why `duplicates()` verifies and joins what it does: which candidate signal proposed each pair
(EfficientNet's k nearest, its few closest, pHash's nearest, the crop windows) and which verification
signal accepted it (keypoints, the whole frame as it is, untrimmed, mirrored or turned, the crop search,
keypoints mirrored), with what the two files are.

    nice python benchmarks/dup_why.py scale 10000 [DIR]  # the first 10,000 files of dup_scale.py's project
    nice python benchmarks/dup_why.py corpus 0 calibration   # a half of bench_duplicates.py's corpus
    python benchmarks/dup_why.py phash out/why-scale-5000.json calibration   # pHash-only pairs, kept or not
    nice python benchmarks/dup_why.py replay 15000   # feature computations per image for caches of some sizes

SAMPLE=N verifies only the pairs pHash alone proposed, those of two of the corpus's files, and one
in N of the others. Writes benchmarks/out/why-<what>.json (every candidate pair: its signals, the verification's verdict,
the accepting signal and what the files are) and prints the counts.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_duplicates as bench  # noqa: E402
import dup_scale  # noqa: E402
import imagier  # noqa: E402
from common import HERE  # noqa: E402
from imagier.analysis import crop_windows, matching  # noqa: E402
from imagier.analysis import duplicates as dup  # noqa: E402
from imagier.vectors.index import unit_rows  # noqa: E402


def candidate_signals(project, contents: np.ndarray) -> dict[tuple[int, int], dict]:
    """Every candidate pair of `contents` with the signals that proposed it and the two similarities."""
    matrix = project.vectors.matrix("efficientnet-lite0")
    phash = project.vectors.matrix("phash")
    proposed = {
        "efficientnet": dup._neighbour_pairs(matrix, contents, dup.NEIGHBOURS, dup.MIN_SIMILARITY["cosine"]),
        "closest": dup._neighbour_pairs(matrix, contents, dup.CLOSEST, dup.CLOSEST_SIMILARITY["cosine"]),
        "phash": dup._neighbour_pairs(phash, contents, dup.NEIGHBOURS, dup.MIN_SIMILARITY["hamming"]),
        "windows": crop_windows.crop_pairs(contents, project.images.thumbnails_of, 2),
    }
    pairs = sorted(set().union(*proposed.values()))
    a, b = np.array(pairs).T
    cosine = np.einsum("ij,ij->i", *(unit_rows(matrix)[matrix.index_of(x)] for x in (a, b)))
    hashes = unit_rows(phash)
    hamming = (1 + np.einsum("ij,ij->i", *(hashes[phash.index_of(x)] for x in (a, b)))) / 2
    return {p: {"signals": [name for name, found in proposed.items() if p in found], "cosine": float(c),
                "phash": float(h)} for p, c, h in zip(pairs, cosine, hamming)}


def accepting_signal(a: matching.Features, b: matching.Features, mirrored_b) -> str | None:
    """The signal of matching.verify that accepts the pair, in verify's order; None when none does."""
    if matching._aligned(a, b) is not None:
        return "keypoints"
    need = matching.FRAME_SSIM
    if matching.structural_agreement(a.frame, b.frame, need) >= need:
        return "frame"
    if matching.structural_agreement(a.whole, b.whole, need) >= need:
        return "frame untrimmed"
    if matching.structural_agreement(a.frame, b.frame[:, ::-1], need) >= need:
        return "frame mirrored"
    if any(matching._turned_agreement(a, b, angle, need) >= need for angle in matching.ROTATIONS):
        return "frame turned"
    if matching._crop_match(a, b) is not None:
        return "crop"
    if matching._aligned(a, mirrored_b()) is not None:
        return "keypoints mirrored"
    return None


def explain(project, contents: np.ndarray, kind_of, sample: int = 1) -> list[dict]:
    """Each candidate pair with its candidate signals, the verification's verdict and accepting signal,
    and `kind_of(path a, path b)`. With `sample` > 1, only the pairs that pHash alone proposed, the
    pairs of two of the corpus's files and a seeded one in `sample` of the others are verified (each
    row says which: "sampled")."""
    candidates = candidate_signals(project, contents)
    files_of = project.images.file_ids_of_contents(contents.tolist())
    all_paths = dict(project.all_paths())
    rng = np.random.default_rng(0)

    def wanted(pair, facts_of_pair) -> bool:
        a, b = (all_paths[files_of[c][0]] for c in pair)
        return facts_of_pair["signals"] == ["phash"] or "/corpus/" in a and "/corpus/" in b
    chosen = {}
    for pair, facts_of_pair in sorted(candidates.items()):
        if wanted(pair, facts_of_pair):
            chosen[pair] = {**facts_of_pair, "sampled": False}
        elif rng.integers(sample) == 0:
            chosen[pair] = {**facts_of_pair, "sampled": sample > 1}
    print(f"{len(candidates):,} candidate pairs, {len(chosen):,} verified", flush=True)
    candidates = chosen
    facts = {f["content_id"]: f for f in project.files([fs[0] for fs in files_of.values()])}
    paths = dict(project.all_paths())
    features: dict[tuple[int, bool], matching.Features] = {}
    feature_seconds = []   # process CPU of each computation of a picture's features

    def features_of(c: int, mirror: bool = False) -> matching.Features:
        if (c, mirror) not in features:
            begin = time.process_time()
            image = Image.open(io.BytesIO(project.images.thumbnails_of([c])[c]))
            features[c, mirror] = matching.features(image, (facts[c]["width"], facts[c]["height"]), mirror=mirror)
            feature_seconds.append(time.process_time() - begin)
        return features[c, mirror]
    rows = []
    start = time.process_time()
    for n, ((a, b), facts_of_pair) in enumerate(sorted(candidates.items())):
        plain = features_of(a), features_of(b)
        mirrored_before = (b, True) in features
        spent = len(feature_seconds)
        begin = time.process_time()
        match = matching.verify(*plain, lambda: features_of(b, True))
        # The check's own CPU, less the mirrored features it may have had computed.
        seconds = time.process_time() - begin - sum(feature_seconds[spent:])
        wants_mirror = mirrored_before or (b, True) in features
        signal = accepting_signal(*plain, lambda: features_of(b, True)) if match else None
        rows.append({"a": paths[files_of[a][0]], "b": paths[files_of[b][0]], "ids": [a, b], **facts_of_pair,
                     "relation": match.relation if match else None, "accepted_by": signal,
                     "kind": kind_of(paths[files_of[a][0]], paths[files_of[b][0]]),
                     "check_ms": round(seconds * 1000, 3), "mirror_used": wants_mirror and signal in (None, "keypoints mirrored")})
        if len(features) > 20_000:   # the pairs come in id order: old pictures are seldom asked again
            features.clear()
        if n % 2000 == 0:
            print(f"{n:,} of {len(candidates):,} pairs, {time.process_time() - start:.0f} s CPU", flush=True)
    print(f"features: {len(feature_seconds):,} computations, {1000 * sum(feature_seconds) / max(1, len(feature_seconds)):.2f} "
          f"ms of CPU each; checks: {sum(r['check_ms'] for r in rows) / max(1, len(rows)):.2f} ms of CPU a pair")
    return rows


def summary(rows: list[dict]) -> list[str]:
    """Counts: candidate pairs by kind and by their signals; joins by kind and accepting signal."""
    lines = [f"{len(rows):,} candidate pairs"]
    for label, counter in (
            ("candidates by kind of pair", Counter(r["kind"] for r in rows)),
            ("candidates by signals", Counter("+".join(r["signals"]) for r in rows)),
            ("joined, by kind and accepting signal", Counter((r["kind"], r["accepted_by"]) for r in rows if r["relation"])),
            ("joined, by kind and candidate signals", Counter((r["kind"], "+".join(r["signals"])) for r in rows
                                                              if r["relation"]))):
        lines.append(label + ":")
        lines += [f"  {count:7,}  {key}" for key, count in counter.most_common()]
    return lines


def components(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Each file of the pairs -> a representative of its connected component."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for a, b in pairs:
        parent[root(a)] = root(b)
    return {x: root(x) for x in parent}


def phash_only_effect(rows: list[dict], half: str, cosine_floor: float, sure: float) -> dict:
    """What dropping the pHash-only candidate pairs below `cosine_floor` (EfficientNet) and below `sure`
    (pHash) does: the pairs dropped, those the verification had accepted, and the pairwise recall and
    precision of the groups of the corpus's `half` (scale project: files named in truth.json)."""
    truth = json.loads((dup_scale.OUT / "truth.json").read_text())
    dropped = [r for r in rows if r["signals"] == ["phash"] and r["cosine"] < cosine_floor and r["phash"] < sure]
    gone = {(r["a"], r["b"]) for r in dropped}
    scores = {}
    for label, kept in (("all", rows), ("filtered", [r for r in rows if (r["a"], r["b"]) not in gone])):
        root = components([(Path(r["a"]).name, Path(r["b"]).name) for r in kept if r["relation"]])
        files = sorted(name for name, t in truth.items() if t["half"] == half)
        family = {name: truth[name]["family"] for name in files}
        found = [(x, y) for i, x in enumerate(files) for y in files[i + 1:]
                 if x in root and y in root and root[x] == root[y]]
        copies = sum(1 for i, x in enumerate(files) for y in files[i + 1:] if family[x] == family[y])
        right = sum(1 for x, y in found if family[x] == family[y])
        scores[label] = {"precision": round(right / max(1, len(found)), 4), "recall": round(right / max(1, copies), 4),
                         "pairs": len(found)}
    return {"dropped": len(dropped), "dropped_accepted": Counter(r["kind"] for r in dropped if r["relation"]),
            "dropped_by_kind": Counter(r["kind"] for r in dropped), **scores}


def replay(n: int, sizes=(4096, 8192, 26_000)) -> list[str]:
    """The candidate pairs of the first n files of dup_scale.py's project, walked in `_cache_friendly`'s
    order through an LRU cache of so many entries: the feature computations per image, with the mirrored
    features asked for no pair (a lower bound) and for every pair (an upper bound)."""
    chosen, files = dup_scale.selection(json.loads(dup_scale.CHUNKS.read_text()), n)
    cpu = time.process_time()
    with imagier.open(dup_scale.PROJECT) as project:
        contents = np.array(sorted(project.images.content_ids_of_files(project.query_ids(chosen))), dtype=np.int64)
        matrix = project.vectors.matrix("efficientnet-lite0")
        pairs = sorted(project.duplicate_finder._duplicate_candidates(
            matrix, contents, dup.NEIGHBOURS, dup.MIN_SIMILARITY["cosine"], dup.CLOSEST_SIMILARITY["cosine"], 2))
    cpu = time.process_time() - cpu
    order = dup._cache_friendly(pairs)

    def computations(entries: int, mirrored: bool) -> float:
        cache, computed = OrderedDict(), 0
        for a, b in order:
            for key in ((a, False), (b, False), *(((b, True),) if mirrored else ())):
                if key in cache:
                    cache.move_to_end(key)
                    continue
                computed += 1
                cache[key] = True
                if len(cache) > entries:
                    cache.popitem(last=False)
        return computed / len(contents)
    return [f"{files:,} files: {len(pairs):,} pairs, {len(pairs) / len(contents):.2f} per image, candidate stage "
            f"{cpu:.0f} s of CPU", *(f"  {entries:,} entries: {computations(entries, False):.2f} to "
                                     f"{computations(entries, True):.2f} computations per image" for entries in sizes)]


def corpus_kind(truth: dict[str, dict]):
    def kind(a: str, b: str) -> str:
        return "copies" if truth[Path(a).name]["family"] == truth[Path(b).name]["family"] else "different pictures"
    return kind


def main() -> None:
    what = sys.argv[1]
    sample = int(os.environ.get("SAMPLE", "1"))
    if what == "replay":
        print("\n".join(replay(int(sys.argv[2]))))
        return
    if what == "phash":
        rows = json.loads(Path(sys.argv[2]).read_text())
        for floor in (0.3, 0.4, 0.5, 0.6, 0.7):
            for sure in (0.875, 0.9, 0.95, 1.01):
                print(floor, sure, phash_only_effect(rows, sys.argv[3], floor, sure))
        return
    if what == "scale":
        n = int(sys.argv[2])
        if len(sys.argv) > 3:   # a project built by dup_scale.py and moved elsewhere
            dup_scale.OUT = Path(sys.argv[3])
            dup_scale.PROJECT, dup_scale.CHUNKS = dup_scale.OUT / "scale.imagier", dup_scale.OUT / "chunks.json"
        chunks = json.loads(dup_scale.CHUNKS.read_text())
        chosen, files = dup_scale.selection(chunks, n)
        kind_of = dup_scale.pair_kinds()
        truth = json.loads((dup_scale.OUT / "truth.json").read_text())

        def kinds(a: str, b: str) -> str:
            """The kind of pair, and for the corpus's pairs the half of the first file's family."""
            half = truth.get(Path(a).name, {}).get("half")
            return kind_of(a, b) + (f" ({half})" if half else "")
        with imagier.open(dup_scale.PROJECT) as project:
            ids = project.query_ids(chosen)
            contents = np.array(sorted(project.images.content_ids_of_files(ids)), dtype=np.int64)
            rows = explain(project, contents, kinds, sample)
        name = f"scale-{files}"
    else:
        seed, half = int(sys.argv[2]), sys.argv[3]
        workdir = HERE / "out" / "duplicates"
        truth = bench.corpus(workdir, seed)["files"]
        with imagier.open(bench.project_of(workdir, seed, half)) as project:
            contents = project.vectors.matrix("efficientnet-lite0").content_ids
            rows = explain(project, contents, corpus_kind(truth), sample)
        name = f"corpus-{seed}-{half}"
    out = HERE / "out" / f"why-{name}.json"
    out.write_text(json.dumps(rows))
    print("\n".join(summary(rows)))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
