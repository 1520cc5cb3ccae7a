"""The scale benchmark: a synthetic project of 500,000 files, and the operations a researcher waits on.

    python benchmarks/bench_scale.py [--files N] [--runs R] [--rebuild] [--write-results]

The project (rows, tiny thumbnails, a few user properties and a tag hierarchy on most files) is built
with bulk SQL in a couple of minutes and cached under benchmarks/out/, so later runs only measure.
With --write-results the table goes into benchmarks/RESULTS.md under "## Project at 500,000 files".
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import apsw
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import imagier  # noqa: E402
from common import HERE, machine, write_results  # noqa: E402

BUILD_VERSION = 2  # bump when the synthetic corpus changes, so cached projects are rebuilt
FILES_PER_FOLDER = 1000
WIDTHS = np.array([640, 800, 1024, 1280, 1600, 1920, 2048, 3000, 4000, 6000])
TAGS = {"animal": ["cat", "dog", "bird", "horse"], "person": ["man", "woman", "child", "crowd"],
        "place": ["city", "landscape", "interior", "coast"], "object": ["car", "boat", "book", "poster"]}
COLLECTIONS = ["archive A", "archive B", "press", "private", "web"]

NOTES = """\
The corpus (built in about 45 s into a 940 MB file, cached in benchmarks/out/): 500 folders of 1,000 files,
2% of them copies of another file's bytes, widths from 640 to 6000 px, dates taken over 30 years (15% without),
32x32 JPEG thumbnails; user properties rating (number, per content, on half), caption (text, 10%), reviewed
(checkbox, 30%), collection (tag, 6 in 7 files) and subject (multi-tag, 16 tags under 4 parents, 1 to 3 tags
on 65% of the files).

Where the time of the main view goes (profiled, load average about 0.6): SQLite filtering about 170 ms, most
of it following content_id from the files into contents (about 110 ms), then parsing the ids and keys, the
NumPy sort and the group tree about 60 ms. SQLite sorts only by text keys (sort by name: its sorter costs
about 0.5 µs a row); NumPy sorts by numbers, dates and groups. Grouping by a multi-tag property has one row
per (image, tag).
"""

# The view of the target: filtered, sorted and grouped.
MAIN_VIEW = {"filter": {"and": [{"property": "width", "op": "gt", "value": 1000},
                                {"property": "subject", "op": "has_any", "value": ["animal"]}]},
             "sort": [{"property": "taken", "desc": True}],
             "group": [{"property": "taken", "by": "month"}]}
OTHER_VIEWS = {
    "everything, by id": {},
    "sort by name": {"sort": [{"property": "name"}]},
    "filter rating >= 4, sort by size desc": {"filter": {"property": "rating", "op": "ge", "value": 4},
                                             "sort": [{"property": "size", "desc": True}]},
    "filter taken in 2019, sort by taken": {"filter": {"property": "taken", "op": "eq", "value": "2019"},
                                           "sort": [{"property": "taken"}]},
    "filter name contains '12'": {"filter": {"property": "name", "op": "contains", "value": "12"}},
    "filter not reviewed or caption set": {"filter": {"or": [{"property": "reviewed", "op": "eq", "value": False},
                                                             {"property": "caption", "op": "is_set"}]}},
    "group by subject (multi-tag)": {"group": [{"property": "subject"}]},
    "group by year, then collection; sort by width": {
        "sort": [{"property": "width"}],
        "group": [{"property": "taken", "by": "year"}, {"property": "collection"}]},
    "group by width, bins of 500": {"group": [{"property": "width", "bin": 500}]},
}


def _thumbnails(count: int, rng: np.random.Generator) -> list[bytes]:
    """A few tiny JPEGs of noise, standing in for the thumbnails that import would make."""
    blobs = []
    for _ in range(count):
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=60)
        blobs.append(out.getvalue())
    return blobs


def _iso(seconds: np.ndarray) -> list[str]:
    return np.datetime_as_string(seconds.astype("datetime64[s]")).tolist()


def build(path: Path, files: int, seed: int = 0) -> None:
    """Write a synthetic project of `files` images to `path` (which must not exist)."""
    rng = np.random.default_rng(seed)
    contents = max(1, int(files * 0.98))  # 2% of files are copies of another file's bytes
    project = imagier.open(path)
    try:
        conn = project.db.writer
        conn.execute("PRAGMA synchronous = OFF")
        ids = np.arange(1, files + 1)
        content_of = np.where(ids <= contents, ids, rng.integers(1, contents + 1, files))
        width = rng.choice(WIDTHS, contents)
        height = (width * rng.choice([0.5625, 0.667, 0.75, 1.0, 1.333, 1.5], contents)).astype(int)
        size = (width * height * rng.uniform(0.15, 0.45, contents)).astype(int)
        start, end = np.datetime64("1995-01-01", "s").astype(int), np.datetime64("2025-01-01", "s").astype(int)
        taken = _iso(rng.integers(start, end, contents))
        no_date = rng.random(contents) < 0.15
        formats = np.where(rng.random(contents) < 0.9, "JPEG", "PNG").tolist()
        folders = (files - 1) // FILES_PER_FOLDER + 1
        with project.db.write():
            conn.execute("INSERT INTO folders(id, parent_id, path, name) VALUES (1, NULL, '/corpus', 'corpus')")
            conn.executemany("INSERT INTO folders(id, parent_id, path, name) VALUES (?, 1, ?, ?)",
                             ((i + 1, f"/corpus/box{i:04d}", f"box{i:04d}") for i in range(1, folders + 1)))
            conn.executemany(
                "INSERT INTO contents(id, hash, format, width, height, size, taken) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((i + 1, f"{i + 1:064x}", formats[i], int(width[i]), int(height[i]), int(size[i]),
                  None if no_date[i] else taken[i]) for i in range(contents)))
            blobs = _thumbnails(32, rng)
            conn.executemany("INSERT INTO thumbnails(content_id, width, height, data) VALUES (?, 32, 32, ?)",
                             ((i, blobs[i % len(blobs)]) for i in range(1, contents + 1)))
            modified_s = rng.integers(np.datetime64("2010-01-01", "s").astype(int), end, files)
            modified = _iso(modified_s)
            conn.executemany(
                "INSERT INTO files(id, path, folder_id, name, content_id, modified, mtime_ns, imported) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, '2025-03-01T10:00:00')",
                ((i, f"/corpus/box{(i - 1) // FILES_PER_FOLDER + 1:04d}/img_{i:07d}.jpg",
                  (i - 1) // FILES_PER_FOLDER + 2, f"img_{i:07d}.jpg", int(content_of[i - 1]), modified[i - 1],
                  int(modified_s[i - 1]) * 10**9) for i in range(1, files + 1)))
        _annotate(project, rng, files, contents)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA synchronous = NORMAL")
    finally:
        project.close()


def _annotate(project, rng: np.random.Generator, files: int, contents: int) -> None:
    """User properties through the API, their values in bulk (a synthetic corpus needs no undo log)."""
    rating = project.create_property("rating", "number", scope="content")["id"]
    caption = project.create_property("caption", "text")["id"]
    reviewed = project.create_property("reviewed", "checkbox")["id"]
    collection = project.create_property("collection", "tag")["id"]
    subject = project.create_property("subject", "multi-tag")["id"]
    leaves = []
    for parent, children in TAGS.items():
        project.create_tag(subject, parent)
        leaves += [project.create_tag(subject, child, parents=[parent])["id"] for child in children]
    kept = [project.create_tag(collection, name)["id"] for name in COLLECTIONS]
    conn = project.db.writer
    with project.db.write():
        rated = np.flatnonzero(rng.random(contents) < 0.5) + 1
        conn.executemany("INSERT INTO property_values VALUES (?, ?, ?)",
                         ((rating, int(i), int(v)) for i, v in zip(rated, rng.integers(1, 6, len(rated)))))
        captioned = np.flatnonzero(rng.random(files) < 0.1) + 1
        conn.executemany("INSERT INTO property_values VALUES (?, ?, ?)",
                         ((caption, int(i), f"scan {i}, verso annotated") for i in captioned))
        checked = np.flatnonzero(rng.random(files) < 0.3) + 1
        conn.executemany("INSERT INTO property_values VALUES (?, ?, 1)", ((reviewed, int(i)) for i in checked))
        conn.executemany("INSERT INTO tag_values VALUES (?, ?, ?)",
                         ((collection, i, kept[i % len(kept)]) for i in range(1, files + 1) if i % 7))
        tagged = np.flatnonzero(rng.random(files) < 0.65) + 1
        tag_count = rng.integers(1, 4, len(tagged))
        conn.executemany("INSERT OR IGNORE INTO tag_values VALUES (?, ?, ?)",
                         ((subject, int(i), leaves[j]) for i, n in zip(tagged, tag_count)
                          for j in rng.choice(len(leaves), n, replace=False)))


def project_path(files: int) -> Path:
    return HERE / "out" / f"scale-{files}-v{BUILD_VERSION}.imagier"


def ensure_project(files: int, rebuild: bool = False) -> tuple[Path, float | None]:
    """The cached synthetic project of this size, built when missing; returns (path, build seconds)."""
    path = project_path(files)
    if path.exists() and not rebuild:
        return path, None
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".building")
    for stale in partial.parent.glob(partial.name + "*"):
        stale.unlink()
    started = time.perf_counter()
    build(partial, files)
    partial.rename(path)
    return path, time.perf_counter() - started


def _median_ms(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def measure(path: Path, runs: int) -> list[tuple[str, float, str, float | None]]:
    """Time the operations on the project at `path`: [(what, measured, unit, target or None)]."""
    rows = []
    started = time.perf_counter()
    project = imagier.open(path, create=False)
    info = project.info()
    rows.append(("open project + info()", (time.perf_counter() - started) * 1000, "ms", 1000))
    files = info["files"]

    def view(spec):
        return lambda: project.query(spec.get("filter"), spec.get("sort"), spec.get("group"))

    project.query(**MAIN_VIEW)  # the first query pays for reading pages from disk: the targets are warm
    ms, result = _median_ms(view(MAIN_VIEW), runs)
    rows.append((f"filter width > 1000 and subject has_any animal, sort taken desc, group by month "
                 f"({result['total']:,} images, {len(result['groups'])} groups)", ms, "ms", 300))
    ms, _ = _median_ms(lambda: project.query(**MAIN_VIEW, limit=200), runs)
    rows.append(("same view, first window of 200 ids", ms, "ms", None))
    for label, spec in OTHER_VIEWS.items():
        ms, result = _median_ms(view(spec), runs)
        rows.append((f"{label} ({result['total']:,} images)", ms, "ms", None))

    selection = list(range(1, files + 1, max(1, files // 100_000)))[:100_000]
    started = time.perf_counter()
    project.add_values("subject", selection, ["flagged"])
    rows.append((f"add a tag to {len(selection):,} selected files", (time.perf_counter() - started) * 1000, "ms",
                 2000))
    started = time.perf_counter()
    project.undo()
    rows.append(("undo that", (time.perf_counter() - started) * 1000, "ms", None))
    project.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("peak RSS of the process", peak, "MB", 1024))
    return rows


def table(rows: list[tuple[str, float, str, float | None]], decimals: int = 0) -> str:
    """The rows (what, value, unit, limit or None) as a Markdown table, the values to DECIMALS places."""
    lines = ["| operation | measured | target |", "|---|---:|---|"]
    lines += [f"| {what} | {value:,.{decimals}f} {unit} | {'' if limit is None else f'< {limit:,} {unit}'} |"
              for what, value, unit, limit in rows]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=7, help="runs per query; the median is reported")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached project")
    parser.add_argument("--write-results", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args(argv)
    path, built = ensure_project(args.files, args.rebuild)
    rows = measure(path, args.runs)
    if built is not None:
        rows.insert(0, (f"build the synthetic project ({path.stat().st_size / 2**20:.0f} MB)", built, "s", None))
    load = os.getloadavg()[0]
    sqlite = f"SQLite {apsw.sqlite_lib_version()}"
    report = (f"Machine: {machine(sqlite)}\n\n{args.files:,} files, median of {args.runs} runs per query, warm cache; "
              f"load average {load:.1f} when the runs ended (the 2 cores are shared, so figures vary by ±30%).\n\n"
              + table(rows))
    print(report)
    if args.write_results:
        write_results("## Project at 500,000 files\n\n" + report + "\n\n" + NOTES)


if __name__ == "__main__":
    main()
