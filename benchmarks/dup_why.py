"""Why `duplicates()` verifies and joins what it does: which candidate signal proposed each pair
(EfficientNet's k nearest, its few closest, pHash's nearest, the crop windows) and which verification
signal accepted it (keypoints, the whole frame as it is, untrimmed, mirrored or turned, the crop search,
keypoints mirrored), with what the two files are.

    nice python benchmarks/dup_why.py scale 10000        # the first 10,000 files of dup_scale.py's project
    nice python benchmarks/dup_why.py corpus 0 calibration   # a half of bench_duplicates.py's corpus

Writes benchmarks/out/why-<what>.json (every candidate pair: its signals, the verification's verdict,
the accepting signal and what the files are) and prints the counts.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections import Counter
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


def explain(project, contents: np.ndarray, kind_of) -> list[dict]:
    """Each candidate pair with its candidate signals, the verification's verdict and accepting signal,
    and `kind_of(path a, path b)`."""
    candidates = candidate_signals(project, contents)
    files_of = project.images.file_ids_of_contents(contents.tolist())
    facts = {f["content_id"]: f for f in project.files([fs[0] for fs in files_of.values()])}
    paths = dict(project.all_paths())
    features: dict[tuple[int, bool], matching.Features] = {}

    def features_of(c: int, mirror: bool = False) -> matching.Features:
        if (c, mirror) not in features:
            image = Image.open(io.BytesIO(project.images.thumbnails_of([c])[c]))
            features[c, mirror] = matching.features(image, (facts[c]["width"], facts[c]["height"]), mirror=mirror)
        return features[c, mirror]
    rows = []
    start = time.process_time()
    for n, ((a, b), facts_of_pair) in enumerate(sorted(candidates.items())):
        match = matching.verify(features_of(a), features_of(b), lambda: features_of(b, True))
        signal = accepting_signal(features_of(a), features_of(b), lambda: features_of(b, True)) if match else None
        rows.append({"a": paths[files_of[a][0]], "b": paths[files_of[b][0]], **facts_of_pair,
                     "relation": match.relation if match else None, "accepted_by": signal,
                     "kind": kind_of(paths[files_of[a][0]], paths[files_of[b][0]])})
        if len(features) > 20_000:   # the pairs come in id order: old pictures are seldom asked again
            features.clear()
        if n % 2000 == 0:
            print(f"{n:,} of {len(candidates):,} pairs, {time.process_time() - start:.0f} s CPU", flush=True)
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


def corpus_kind(truth: dict[str, dict]):
    def kind(a: str, b: str) -> str:
        return "copies" if truth[Path(a).name]["family"] == truth[Path(b).name]["family"] else "different pictures"
    return kind


def main() -> None:
    what = sys.argv[1]
    if what == "scale":
        n = int(sys.argv[2])
        chunks = json.loads(dup_scale.CHUNKS.read_text())
        chosen, files = dup_scale.selection(chunks, n)
        kinds = dup_scale.pair_kinds()
        with imagier.open(dup_scale.PROJECT) as project:
            ids = project.query_ids(chosen)
            contents = np.array(sorted(project.images.content_ids_of_files(ids)), dtype=np.int64)
            rows = explain(project, contents, kinds)
        name = f"scale-{files}"
    else:
        seed, half = int(sys.argv[2]), sys.argv[3]
        workdir = HERE / "out" / "duplicates"
        truth = bench.corpus(workdir, seed)["files"]
        with imagier.open(bench.project_of(workdir, seed, half)) as project:
            contents = project.vectors.matrix("efficientnet-lite0").content_ids
            rows = explain(project, contents, corpus_kind(truth))
        name = f"corpus-{seed}-{half}"
    out = HERE / "out" / f"why-{name}.json"
    out.write_text(json.dumps(rows))
    print("\n".join(summary(rows)))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
