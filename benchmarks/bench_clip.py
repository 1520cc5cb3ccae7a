"""CLIP ViT-B/32 image embedding: the whole job (`project.embed`: thumbnails read from the project, decoded,
preprocessed, encoded, stored) against the bare ONNX image encoder on ready-made inputs, fp32 and int8, with
each run's peak memory; and the text encoder's time per query.

Runs on the random-weight model of the exact CLIP ViT-B/32 shape (tests/clipmodel.py): the same compute as
the real weights. The corpus is made from scikit-image's photographs (crops at random places and sizes).
Each measurement runs in a process of its own, so its peak memory (VmHWM) is its own.

    python benchmarks/bench_clip.py [--images N] [--repeats R] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
from common import machine, write_results  # noqa: E402

HEADING = "## CLIP"
OUT = HERE / "out"
BATCH = 32


def peak_mb() -> float:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(status["VmHWM"].split()[0]) / 1024


def ensure_project(images: int) -> Path:
    """A project of `images` crops of real photographs, imported once (no vectors)."""
    import skimage.data
    from PIL import Image

    import imagier
    path = OUT / f"clip-corpus-{images}.imagier"
    if path.exists():
        return path
    folder = OUT / f"clip-corpus-{images}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    samples = [getattr(skimage.data, n)() for n in ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left")
               if hasattr(skimage.data, n)]
    samples = [Image.fromarray(s).convert("RGB") for s in samples]
    for i in range(images):
        img = samples[i % len(samples)]
        w, h = img.size
        cw, ch = int(w * rng.uniform(0.4, 1)), int(h * rng.uniform(0.4, 1))
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        img.crop((left, top, left + cw, top + ch)).save(folder / f"crop-{i:05d}.jpg", quality=90)
    with imagier.open(path) as project:
        project.import_folders([folder], workers=2)
    return path


def run_one(kind: str, int8: bool, project_path: Path, model_path: Path) -> dict:
    """One measurement, in this process: 'bare', 'job' or 'text'."""
    import io

    from PIL import Image

    import imagier
    from imagier.vectors import clip
    model = clip.load(model_path, int8=int8)
    if kind == "text":
        queries = [f"a photograph of a {w}" for w in ("cat", "cup of coffee", "rocket", "astronaut", "motorcycle")]
        model.embed_texts(queries[:1])  # opens the session
        times = []
        for q in queries * 4:
            start = time.perf_counter()
            model.embed_texts([q])
            times.append((time.perf_counter() - start) * 1000)
        return {"ms": statistics.median(times), "peak_mb": peak_mb()}
    copy = project_path.with_name(f"run-{os.getpid()}.imagier")
    shutil.copyfile(project_path, copy)
    try:
        with imagier.open(copy) as project:
            n = project.content_count()
            if kind == "bare":
                # Inputs made beforehand, so only the encoder is timed.
                thumbs = project.images.thumbnails_of(project.images.content_ids_of_files(project.query_ids()))
                pixels = clip.preprocess([Image.open(io.BytesIO(t)) for t in thumbs.values()])
                session = model._session(clip.VISION)
                session.run(["image_embeds"], {"pixel_values": pixels[:1]})
                start = time.perf_counter()
                for i in range(0, len(pixels), BATCH):
                    session.run(["image_embeds"], {"pixel_values": pixels[i:i + BATCH]})
                seconds = time.perf_counter() - start
            else:
                model._session(clip.VISION).run(["image_embeds"], {"pixel_values": clip.preprocess(
                    [Image.new("RGB", (224, 224))])})  # the session is opened outside the timing, as for bare
                start = time.perf_counter()
                report = project.embed(model=clip.NAME + ("-int8" if int8 else ""), batch_size=BATCH)
                seconds = time.perf_counter() - start
                assert report["embedded"] == n, report
        return {"images_per_s": n / seconds, "seconds": seconds, "peak_mb": peak_mb()}
    finally:
        copy.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)


def measure(kind: str, int8: bool, project_path: Path, model_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "IMAGIER_CLIP_PATH": str(model_path)}
    done = subprocess.run([sys.executable, __file__, "--one", kind, *(["--int8"] if int8 else []),
                           "--project", str(project_path), "--model", str(model_path)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--one", choices=("bare", "job", "text"), help=argparse.SUPPRESS)
    parser.add_argument("--int8", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.int8, args.project, args.model)))
        return

    from clipmodel import cached
    model_path = cached()
    project_path = ensure_project(args.images)
    for int8 in (False, True):  # the int8 files are made once, outside the timings
        measure("text", int8, project_path, model_path)
    rows = []
    for int8 in (False, True):
        runs = {"bare": [], "job": []}
        for _ in range(args.repeats):  # alternated, so a colleague's load weighs on both alike
            for kind in runs:
                runs[kind].append(measure(kind, int8, project_path, model_path))
        text = measure("text", int8, project_path, model_path)
        bare = statistics.median(r["images_per_s"] for r in runs["bare"])
        job = statistics.median(r["images_per_s"] for r in runs["job"])
        rows.append(("int8" if int8 else "fp32", bare, job, 1 - job / bare,
                     max(r["peak_mb"] for r in runs["bare"]), max(r["peak_mb"] for r in runs["job"]), text["ms"],
                     text["peak_mb"]))
    load = os.getloadavg()
    table = ["| encoders | bare ONNX encoder, images/s | `project.embed`, images/s | pipeline overhead | "
             "peak MB bare | peak MB job | text query, ms | peak MB text |",
             "|---|---|---|---|---|---|---|---|"]
    table += [f"| {r[0]} | {r[1]:.1f} | {r[2]:.1f} | {r[3] * 100:.0f}% | {r[4]:.0f} | {r[5]:.0f} | {r[6]:.0f} | "
              f"{r[7]:.0f} |" for r in rows]
    section = "\n".join([
        HEADING, "",
        f"Machine: {machine('onnxruntime ' + __import__('onnxruntime').__version__)}; load average during the run "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (the machine is shared: figures are medians of "
        f"{args.repeats} runs, each in a fresh process).",
        "",
        f"CLIP ViT-B/32 image encoder on {args.images} crops of real photographs, batches of {BATCH}, on the "
        "random-weight model of the exact shape (tests/clipmodel.py; the compute of the real weights). "
        "Bare: `session.run` on inputs preprocessed beforehand. Job: `project.embed(model=\"clip-vit-b32\")` "
        "from the stored thumbnails to stored float16 vectors (read, decode, resize and crop, encode, write). "
        "Text: one query through the tokenizer and the text encoder.",
        "", *table, "",
        *([f"The load average was above the {os.cpu_count()} cores: colleagues' jobs took CPU time at random "
           "moments, so differences of a few tens of percent between the bare and job columns are noise, not "
           "pipeline cost (run on an idle machine to measure the overhead).", ""]
          if load[0] > (os.cpu_count() or 1) else []),
        "`python benchmarks/bench_clip.py --write-results`",
    ])
    print(section)
    if args.write_results:
        write_results(section)


if __name__ == "__main__":
    main()
