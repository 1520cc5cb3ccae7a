"""The near-duplicate check on the halves of a corpus, quickly: every candidate pair that `duplicates()`
would verify, verified once on one thread, grouped as `duplicates()` groups, scored as bench_duplicates.py
scores (pairwise P / R / F1 per kind, copies grouped with their original per edit), with the pairs of
different pictures that were joined and the copies left out of their family's group (and whether they
were ever a candidate with their original). No plain-pHash or similar-images figures: for those, and
the costs, run bench_duplicates.py.

    nice python benchmarks/dup_halves.py SEED [calibration] [report]
"""
import io
import sys
import time
from itertools import combinations
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_duplicates as bench
import imagier
from imagier.analysis import duplicates as dup, matching
from PIL import Image

def run(seed, half, verbose=True):
    w = bench.HERE / "out" / "duplicates"
    truth = bench.corpus(w, seed)["files"]
    with imagier.open(bench.project_of(w, seed, half)) as p:
        m = p.vectors.matrix("efficientnet-lite0")
        names = {i: Path(x).name for i, x in p.all_paths()}
        files_of = p.images.file_ids_of_contents(m.content_ids.tolist())
        pairs = sorted(p.duplicate_finder._duplicate_candidates(m, m.content_ids, dup.NEIGHBOURS, dup.MIN_SIMILARITY["cosine"], dup.CLOSEST_SIMILARITY["cosine"]))
        facts = {f["content_id"]: f for f in p.files([fs[0] for fs in files_of.values()])}
        thumbs = p.images.thumbnails_of(list(files_of))
    t = time.perf_counter()
    feats = {c: matching.features(Image.open(io.BytesIO(thumbs[c])), (facts[c]["width"], facts[c]["height"])) for c in files_of}
    mir = {}
    def mirrored(c):
        if c not in mir:
            mir[c] = matching.features(Image.open(io.BytesIO(thumbs[c])), (facts[c]["width"], facts[c]["height"]), mirror=True)
        return mir[c]
    verified = []
    for a, b in pairs:
        r = matching.verify(feats[a], feats[b], lambda b=b: mirrored(b))
        if r is not None:
            verified.append((a, b, r))
    secs = time.perf_counter() - t
    groups = dup._groups(files_of, verified)
    ours = {frozenset(pp) for g in groups for pp in combinations(g["ids"], 2)}
    res = bench.breakdown(ours, names, truth)
    fam = lambda c: truth[names[files_of[c][0]]]["family"]
    wrong = [(names[files_of[a][0]], names[files_of[b][0]], r) for a, b, r in verified if fam(a) != fam(b)]
    al = res["all"]
    print(f"seed {seed} {half}: P {al['precision']:.3f} R {al['recall']:.3f} F1 {al['f1']:.3f}  {secs:.0f}s {len(pairs)} pairs")
    for k, v in res["kinds"].items():
        print(f"  | kind: {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} |")
    for k, v in res["edits"].items():
        print(f"  | {k} | {v['recall']:.3f} | {v['missed']} of {v['copies']} |")
    for x in wrong:
        print("  WRONG", x)
    if verbose:
        # copies not grouped with their original
        orig = {truth[n]["family"]: i for i, n in names.items() if truth[n]["edit"] == "original"}
        cand = {frozenset(pp) for pp in pairs}
        content = {f: c for c, fs in files_of.items() for f in fs}
        for i, n in sorted(names.items(), key=lambda x: x[1]):
            tt = truth[n]
            if tt["edit"] == "original": continue
            o = orig[tt["family"]]
            if frozenset((i, o)) not in ours:
                iscand = frozenset((content[i], content[o])) in cand
                print(f"  MISS {n} ({tt['kind']}) cand={iscand}")
    return res, wrong

if __name__ == "__main__":
    seed = int(sys.argv[1]); halves = sys.argv[2:] or ["calibration", "report"]
    for h in halves:
        run(seed, h)
