"""The import benchmark: real 1-12 megapixel JPEG photographs imported end to end.

    python benchmarks/bench_import.py [--files N] [--workers 1,2] [--source DIR] [--write-results]

The photographs come from Debian's `mate-backgrounds` package (its nature/ folder holds a dozen camera
photographs of 1.3-4.9 MP; `apt-get install mate-backgrounds`), or from any folder given with --source.
They are re-encoded as JPEGs at sizes from 1 to 12 MP (resampled, cropped a little and saved at varied
quality so that every file has its own bytes and a camera-like EXIF date) into a corpus cached under
benchmarks/out/. Each run imports the corpus into a new project: scan, hash, decode, thumbnails, writes.
With --write-results the table goes into benchmarks/RESULTS.md under "## Import".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, features

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import imagier  # noqa: E402
from common import HERE, machine, write_results  # noqa: E402
from imagier.ingest.scan import is_image_name  # noqa: E402

OUT = HERE / "out"
PACKAGE, PACKAGE_PHOTOS = "mate-backgrounds", Path("/usr/share/backgrounds/mate/nature")
MEGAPIXELS = (1, 2, 3, 4, 6, 8, 10, 12)
HEADING = "## Import"


def sources(folder: Path) -> list[Path]:
    found = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name))
    if not found:
        sys.exit(f"no photographs in {folder}: install them with `apt-get install {PACKAGE}` "
                 "or give a folder of photographs with --source")
    return found


def _make_photo(task: tuple[int, str, int, str]) -> float:
    """Write one corpus file; returns its megapixels."""
    index, source, megapixels, target = task
    rng = np.random.default_rng(index)
    img = Image.open(source).convert("RGB")
    # Keep 85-100% of each side, so files made from one photo differ in content, not only in size.
    keep_w, keep_h = (int(side * rng.uniform(0.85, 1.0)) for side in img.size)
    left, top = int(rng.integers(0, img.width - keep_w + 1)), int(rng.integers(0, img.height - keep_h + 1))
    img = img.crop((left, top, left + keep_w, top + keep_h))
    scale = (megapixels * 1e6 / (img.width * img.height)) ** 0.5
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = f"20{10 + index % 14}:{1 + index % 12:02}:{1 + index % 28:02} 12:{index % 60:02}:00"
    img.save(target, "JPEG", quality=int(rng.integers(85, 96)), exif=exif.tobytes())
    return img.width * img.height / 1e6


def corpus(files: int, source: Path) -> tuple[Path, float]:
    """The cached corpus of `files` JPEGs made from the photographs in `source`; returns (folder, total MP)."""
    folder = OUT / f"import-corpus-{files}"
    photos = sources(source)
    tasks = [(i, str(photos[i % len(photos)]), MEGAPIXELS[(i // len(photos)) % len(MEGAPIXELS)],
              str(folder / f"{i // 100:03}" / f"photo-{i:05}.jpg")) for i in range(files)]
    missing = [t for t in tasks if not Path(t[3]).exists()]
    if missing:
        print(f"writing {len(missing)} JPEGs made from {len(photos)} photographs in {source} ...", flush=True)
        for t in missing:
            Path(t[3]).parent.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor() as pool:
            list(pool.map(_make_photo, missing, chunksize=4))
    total = 0.0
    for t in tasks:
        with Image.open(t[3]) as img:
            total += img.width * img.height / 1e6
    return folder, total


def run(folder: Path, workers: int) -> dict:
    path = OUT / f"bench-import-{workers}.imagier"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    with imagier.open(path) as project:
        result = project.import_folders([folder], workers=workers)
    seconds = time.perf_counter() - start
    assert not result["failed"], result["failed"][:3]
    start = time.perf_counter()
    with imagier.open(path) as project:
        again = project.import_folders([folder], workers=workers)
    assert again["skipped"] == result["added"]
    return {"files": result["added"], "seconds": seconds, "reimport": time.perf_counter() - start,
            "bytes": path.stat().st_size}


def table(rows: list[dict], megapixels: float) -> str:
    lines = ["| files | MP (mean) | workers | seconds | files/s | MP/s | re-import, all skipped (s) | project file |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['files']} | {megapixels / r['files']:.1f} | {r['workers']} | {r['seconds']:.1f} | "
                     f"{r['files'] / r['seconds']:.0f} | {megapixels / r['seconds']:.0f} | {r['reimport']:.2f} | "
                     f"{r['bytes'] / 2**20:.1f} MB |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--workers", default=f"1,{os.cpu_count()}", help="comma-separated worker counts to run")
    parser.add_argument("--source", type=Path, default=PACKAGE_PHOTOS, help="a folder of photographs")
    parser.add_argument("--write-results", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args(argv)

    folder, megapixels = corpus(args.files, args.source)
    load = os.getloadavg()[0]  # other work on the machine slows the import down: say how much there was
    rows = []
    for workers in sorted({int(w) for w in args.workers.split(",")}):
        rows.append({**run(folder, workers), "workers": workers})
        print(f"{workers} worker(s): {rows[-1]['files'] / rows[-1]['seconds']:.0f} files/s", flush=True)
    pillow = f"Pillow {Image.__version__} (libjpeg-turbo {features.version('libjpeg_turbo')})"
    report = (f"Machine: {machine(pillow)}; load average {load:.1f} when the runs started\n\n"
              f"{args.files} JPEGs of {min(MEGAPIXELS)}-{max(MEGAPIXELS)} MP ({megapixels:.0f} MP in all) made from "
              f"the photographs in {args.source} (sizes above a photograph's own are upsampled), imported end "
              f"to end into a new project: scan, SHA-256, draft-mode decode, 256 px thumbnail, SQLite writes, "
              f"and the cold start of the worker processes. Target: >= 60 files/s.\n\n{table(rows, megapixels)}\n")
    print(report)
    if args.write_results:
        write_results(f"{HEADING}\n\n{report}")


if __name__ == "__main__":
    main()
