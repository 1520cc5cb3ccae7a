"""Memes clustered by picture and words, and the `same template` / `same text` relations of near-duplicates.

    python benchmarks/bench_memes.py [--templates 12] [--captions 6] [--workers 2] [--calibrate] [--write-results]

The corpus is made in two halves that share nothing: each has its own templates (real photographs:
scikit-image's samples and Debian's wallpapers, as benchmarks/bench_ocr.py finds them) and its own captions.
In a half, each template is captioned `--captions` times with different words (in the fonts of Debian's font
packages that bench_ocr.py names, black on a white bar or white with a black outline on the picture, 24-40 px)
and kept once without a caption, each time on a copy of its own (cropped by up to 4% of each side, brightness
and contrast changed by up to 10%, JPEG quality 60-95); each caption is put on `--captions` templates. Each half is
imported, embedded with EfficientNet-Lite0 and read by the real OCR engine (`project.read_text`); the
projects are kept in benchmarks/out/memes/ so that a second run reads nothing again.

`--calibrate` prints, on the calibration half only, how the two measures memes.py decides with (the
cosine of two texts' TF-IDF, the correlation of two pictures with their text masked) spread over the pairs
of each kind, to set SAME_WORDS and SAME_PICTURE, and the clustering's F1 at each text weight. The report
half then gives:
- clustering (k-means, k the number of templates) at several text weights: the pairwise F1 of the clusters
  against the templates (goal >= 0.9 at weight 0: a template's memes in one cluster) and against the captions;
- `project.duplicates()`: precision (goal >= 0.95) and recall of the pairs named "same template" (one
  template, other words) and "same text" (one caption, other templates).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_ocr import FONTS, fit, meme, photographs  # noqa: E402  (the caption renderer the OCR benchmark uses)

CORPUS_VERSION = 2  # the projects kept in OUT are made again when the corpus changes
HEADING = "## Memes: clustering by picture and words, same template / same text"
OUT = HERE / "out" / "memes"
SIZES = (24, 32, 40)
MEGAPIXELS = (0.4, 0.7)
CROP, TONE = 0.04, 0.1    # each copy of a template: up to 4% cut off each side, brightness and contrast +-10%
QUALITY = (60, 95)        # JPEG quality of each file
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Two pools of captions, one per half, so that no caption of the report half was seen while calibrating.
CAPTIONS = (
    ("When the code works on the first try", "Nobody expects the Spanish inquisition", "This is fine",
     "One does not simply walk into production", "Keep calm and carry on reading",
     "Free concert tonight in the main square", "Où est passée la fête de Noël", "Déjà vu à la bibliothèque",
     "Le garçon a mangé une crème brûlée", "Grève générale jeudi prochain", "Me explaining the plot to my cat",
     "Monday morning before coffee"),
    ("Meeting moved to Thursday at noon", "Été comme hiver, on reste à la maison", "Ça ne marche pas, évidemment",
     "Soirée cinéma gratuite à Québec", "Nobody reads the documentation", "It works on my machine",
     "Les vacances sont finies", "Quand le train arrive à l'heure", "That feeling when the tests pass",
     "Brace yourselves, exams are coming", "Le chat a encore gagné", "Winter is coming to the office"),
)


def copy_of(photo: Image.Image, rng: random.Random) -> Image.Image:
    """The photograph as one more meme maker took it: cropped by up to CROP of each side, its brightness and
    contrast changed by up to TONE, rescaled to MEGAPIXELS."""
    w, h = photo.size
    box = (round(w * rng.uniform(0, CROP)), round(h * rng.uniform(0, CROP)),
           round(w * (1 - rng.uniform(0, CROP))), round(h * (1 - rng.uniform(0, CROP))))
    picture = fit(photo.crop(box), rng.uniform(*MEGAPIXELS))
    picture = ImageEnhance.Brightness(picture).enhance(1 + rng.uniform(-TONE, TONE))
    return ImageEnhance.Contrast(picture).enhance(1 + rng.uniform(-TONE, TONE))


def build_half(folder: Path, half: int, templates: int, captions: int) -> dict[str, dict]:
    """Write one half's memes and plain templates into `folder`: {file name: {"template", "caption"}}
    ("" for the plain copies)."""
    rng = random.Random(half)
    photos = photographs()
    random.Random(0).shuffle(photos)
    chosen = photos[half * templates:(half + 1) * templates]
    if len(chosen) < templates:
        raise SystemExit(f"only {len(photos)} photographs: ask for at most {len(photos) // 2} templates")
    pool = CAPTIONS[half]
    if captions > len(pool) or templates > len(pool):
        raise SystemExit(f"a half has {len(pool)} captions: at most {len(pool)} templates and captions")
    truth = {}
    for t, (name, photo) in enumerate(chosen):
        file = f"t{t:02d}-plain.jpg"
        copy_of(photo, rng).save(folder / file, quality=rng.randint(*QUALITY))
        truth[file] = {"template": name, "caption": ""}
        for j in range(captions):
            # Template t takes captions t, t + 1, ...: each caption lands on `captions` templates.
            caption = pool[(t + j) % len(pool)]
            font = list(FONTS)[(t + j) % len(FONTS)]
            style = ("bar", "outline")[(t + j) % 2]
            picture = meme(copy_of(photo, rng), caption, FONTS[font], rng.choice(SIZES), style)
            file = f"t{t:02d}-c{j}.jpg"
            picture.save(folder / file, quality=rng.randint(*QUALITY))
            truth[file] = {"template": name, "caption": caption, "font": font, "style": style}
    return truth


def prepared_half(half: int, templates: int, captions: int, workers: int):
    """The half's project, built, embedded and read once (kept in OUT), and its truth by file id."""
    import imagier
    where = OUT / f"half{half}-{templates}x{captions}-{CORPUS_VERSION}"
    project_path, truth_path = where / "memes.imagier", where / "truth.json"
    if not truth_path.exists():
        folder = where / "corpus"
        folder.mkdir(parents=True, exist_ok=True)
        truth = build_half(folder, half, templates, captions)
        project_path.unlink(missing_ok=True)
        with imagier.open(project_path) as project:
            project.import_folders([folder])
            project.embed("efficientnet-lite0")
            started, cpu = time.perf_counter(), _cpu_seconds()
            report = project.read_text(workers=workers)
            print(f"half {half}: read {report['read']} images in {time.perf_counter() - started:.0f} s "
                  f"(CPU {_cpu_seconds() - cpu:.0f} s with the workers'), {report['with_text']} with text", flush=True)
        truth_path.write_text(json.dumps(truth))
    truth = json.loads(truth_path.read_text())
    project = imagier.open(project_path)
    by_id = {f["id"]: truth[f["name"]] for f in project.files(project.query()["ids"])}
    return project, by_id


def _cpu_seconds() -> float:
    """The CPU time of this process and of its children that have ended (the OCR workers)."""
    import os
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def pair_f1(labels: dict[int, object], truth: dict[int, object]) -> float:
    """Pairwise F1 of a clustering (`labels`) against the true classes, over the ids of `truth`."""
    ids = sorted(truth)
    together = {(a, b) for a, b in itertools.combinations(ids, 2) if labels[a] == labels[b]}
    wanted = {(a, b) for a, b in itertools.combinations(ids, 2) if truth[a] == truth[b]}
    hits = len(together & wanted)
    return 2 * hits / max(1, len(together) + len(wanted))


def clustering_scores(project, by_id: dict[int, dict], templates: int) -> list[dict]:
    captioned = {i: t["caption"] for i, t in by_id.items() if t["caption"]}
    rows = []
    for weight in WEIGHTS:
        started = time.perf_counter()
        clusters = project.cluster(k=templates, text_weight=weight)
        seconds = time.perf_counter() - started
        labels = {i: c["cluster"] for c in clusters for i in c["ids"]}
        rows.append({"weight": weight, "seconds": seconds,
                     "template_f1": pair_f1(labels, {i: t["template"] for i, t in by_id.items()}),
                     "caption_f1": pair_f1(labels, captioned)})
    return rows


def true_relation(a: dict, b: dict) -> str | None:
    if not a["caption"] or not b["caption"]:
        return None
    if a["template"] == b["template"]:
        return "same template" if a["caption"] != b["caption"] else None
    return "same text" if a["caption"] == b["caption"] else None


def relation_scores(project, by_id: dict[int, dict]) -> dict:
    started, cpu = time.perf_counter(), time.process_time()
    groups = project.duplicates()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    found: dict[str, set] = {"same template": set(), "same text": set()}
    for g in groups:
        for p in g["pairs"]:
            if p["relation"] in found:
                found[p["relation"]].add((min(p["a"], p["b"]), max(p["a"], p["b"])))
    scores = {"seconds": seconds, "cpu": cpu}
    for relation, pairs in found.items():
        wanted = {(a, b) for a, b in itertools.combinations(sorted(by_id), 2)
                  if true_relation(by_id[a], by_id[b]) == relation}
        hits = len(pairs & wanted)
        scores[relation] = {"found": len(pairs), "true": len(wanted), "precision": hits / max(1, len(pairs)),
                            "recall": hits / max(1, len(wanted)),
                            "wrong": [(by_id[a], by_id[b]) for a, b in sorted(pairs - wanted)][:5]}
    return scores


def calibration(project, by_id: dict[int, dict]) -> None:
    """Print the spread of the text cosine and of the masked pictures' agreement over the half's pairs of
    captioned images, by kind of pair, with the thresholds that would separate them."""
    from imagier.analysis import memes
    contents = {f["id"]: f["content_id"] for f in project.files(sorted(by_id))}
    words = project.memes.words(contents.values())
    ids = [i for i in sorted(by_id) if contents[i] in words]
    tfidf = memes._tfidf([memes._text(words[contents[i]]) for i in ids])
    frames, masks = memes._frames(project.images, words, [contents[i] for i in ids])
    pairs = list(itertools.combinations(range(len(ids)), 2))
    rows_a, rows_b = [x for x, _ in pairs], [y for _, y in pairs]
    kinds: dict[str, list[tuple[float, float | None]]] = {}
    for (x, y), text, picture in zip(pairs, memes._cosines(tfidf, rows_a, rows_b),
                                     memes._agreements(frames, masks, rows_a, rows_b)):
        a, b = ids[x], ids[y]
        kind = ("same picture" if by_id[a]["template"] == by_id[b]["template"] else "other picture") + \
               (", same words" if by_id[a]["caption"] == by_id[b]["caption"] else ", other words")
        kinds.setdefault(kind, []).append((float(text), None if np.isnan(picture) else float(picture)))
    print(f"{len(ids)} of {len(by_id)} images hold text")
    for kind, values in sorted(kinds.items()):
        text = np.array([v[0] for v in values])
        picture = np.array([v[1] for v in values if v[1] is not None])
        print(f"{kind}: {len(values)} pairs ({len(values) - len(picture)} too masked to compare)\n"
              f"  text cosine      min/1%/5%/median/95%/99%/max {quantiles(text)}\n"
              f"  masked pictures  min/1%/5%/median/95%/99%/max {quantiles(picture)}")


def quantiles(values: np.ndarray) -> str:
    """Minimum, 1%, 5%, median, 95%, 99% and maximum."""
    return " ".join(f"{q:.2f}" for q in np.quantile(values, [0, 0.01, 0.05, 0.5, 0.95, 0.99, 1])) if len(values) else "-"


def report_text(calibrating: list[dict], clusters: list[dict], relations: dict, args, images: int,
                machine_line: str, uptime: str) -> str:
    from imagier.analysis import memes
    lines = [HEADING, "", f"Machine: {machine_line}; `uptime` when the run started: {uptime}", "",
             f"`python benchmarks/bench_memes.py --templates {args.templates} --captions {args.captions}`: the report "
             f"half, {images} images: {args.templates} photographs, each captioned {args.captions} times with other "
             f"words ({len(FONTS)} fonts, {SIZES[0]}-{SIZES[-1]} px, bars and outlined text, English and French) and "
             f"once left plain, each time on a copy of its own (cropped by up to {CROP:.0%} of each side, brightness "
             f"and contrast changed by up to {TONE:.0%}, JPEG quality {QUALITY[0]}-{QUALITY[1]}); each caption on "
             f"{args.captions} photographs. The thresholds of "
             f"analysis/memes.py (SAME_WORDS {memes.SAME_WORDS}, SAME_PICTURE {memes.SAME_PICTURE}) were set on "
             "the calibration half (other photographs, other captions); EfficientNet-Lite0 vectors, the text read "
             "by the real OCR engine.", "",
             f"Clustering (k-means, k = {args.templates}): pairwise F1 against the templates (goal >= 0.9) and "
             "against the captions (the captioned images only), on the calibration half and on the report half; "
             "the time is the report half's.", "",
             "| text weight | F1, templates: calibration / report | F1, captions: calibration / report | time |",
             "|---:|---:|---:|---:|"]
    lines += [f"| {r['weight']:.2f} | {c['template_f1']:.3f} / {r['template_f1']:.3f} | "
              f"{c['caption_f1']:.3f} / {r['caption_f1']:.3f} | {r['seconds']:.2f} s |"
              for c, r in zip(calibrating, clusters)]
    for goal, label in (("template_f1", "group by template"), ("caption_f1", "group by caption")):
        best = max(range(len(WEIGHTS)), key=lambda i: calibrating[i][goal])
        lines.append(f"{'' if goal == 'caption_f1' else chr(10)}- To {label}, the calibration half chooses the text weight "
                     f"{WEIGHTS[best]:.2f}: F1 {clusters[best][goal]:.3f} on the report half.")
    lines += ["", f"Near-duplicates (`project.duplicates()`, {relations['seconds']:.0f} s, CPU {relations['cpu']:.0f} s "
              "of this process's threads): pairs named with each "
              "relation against the true pairs (goal: precision >= 0.95).", "",
              "| relation | found | true pairs | precision | recall |", "|---|---:|---:|---:|---:|"]
    for relation in ("same template", "same text"):
        r = relations[relation]
        lines.append(f"| {relation} | {r['found']} | {r['true']} | {r['precision']:.3f} | {r['recall']:.3f} |")
    lines += ["", "The corpus is easier than the web's memes: a template is one photograph, each copy only cropped by "
              f"up to {CROP:.0%} of a side, retoned by up to {TONE:.0%} and re-encoded (never redrawn, recoloured or "
              "turned), and the captions are rendered cleanly, so the OCR reads one caption nearly alike on every "
              "picture. The figures are an upper bound for a real corpus, whose thresholds deserve a look at its own "
              "pairs (`imagier duplicates --details`)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--templates", type=int, default=12)
    parser.add_argument("--captions", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calibrate", action="store_true", help="print the calibration half's spreads only")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    from importlib import metadata

    from common import machine, write_results
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    if args.calibrate:
        project, by_id = prepared_half(0, args.templates, args.captions, args.workers)
        with project:
            calibration(project, by_id)
            for r in clustering_scores(project, by_id, args.templates):
                print(f"text weight {r['weight']:.2f}: clusters' pairwise F1 {r['template_f1']:.3f} against the "
                      f"templates, {r['caption_f1']:.3f} against the captions")
        return
    project, by_id = prepared_half(0, args.templates, args.captions, args.workers)
    with project:
        calibrating = clustering_scores(project, by_id, args.templates)
    project, by_id = prepared_half(1, args.templates, args.captions, args.workers)
    with project:
        clusters = clustering_scores(project, by_id, args.templates)
        relations = relation_scores(project, by_id)
    text = report_text(calibrating, clusters, relations, args, len(by_id),
                       machine(f"rapidocr {metadata.version('rapidocr')}", f"scikit-learn {metadata.version('scikit-learn')}"),
                       uptime)
    print(text)
    for relation in ("same template", "same text"):
        for a, b in relations[relation]["wrong"]:
            print(f"wrongly {relation}: {a} / {b}")
    if args.write_results:
        write_results(text)


if __name__ == "__main__":
    main()
