"""The web UI benchmark: the 500,000-file project of bench_scale, served, opened in headless Chromium.

Measured in the page: time to the first thumbnails painted, frame times while scrolling from the top to the
last image (requestAnimationFrame timestamps while the scroller is moved programmatically, a step a frame),
time from applying a filter and regrouping to the new groups painted, and the page's JS heap.

The corpus is bench_scale's (cached in benchmarks/out/); its 32x32 noise thumbnails are replaced, in a copy,
by 300 distinct real photographs (crops of scikit-image's samples) reused, so the page decodes real JPEGs.
The page is the build in IMAGIER_WEBUI if set, else the one shipped in the package.
With --write-results the table goes into benchmarks/RESULTS.md under "## Web UI".
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import shutil
import sys
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_scale import MAIN_VIEW, ensure_project
from common import machine, write_results

import imagier

WEBUI_VERSION = 1
SAMPLES = ["astronaut", "coffee", "chelsea", "camera", "rocket", "retina", "hubble_deep_field", "immunohistochemistry",
           "motorcycle_left", "cat", "page", "moon", "text", "horse", "coins", "clock", "brick", "grass", "gravel"]
THUMB = 160


def _real_thumbnails(count: int, rng: np.random.Generator) -> list[tuple[int, int, bytes]]:
    """`count` distinct JPEG thumbnails cut from scikit-image's photographs: (width, height, bytes)."""
    photos = []
    for name in SAMPLES:
        loader = getattr(skimage.data, name, None)
        if loader is None:
            continue
        pixels = loader()
        if pixels.dtype != np.uint8:
            pixels = (pixels * 255 / max(1, pixels.max())).astype(np.uint8)
        photos.append(Image.fromarray(pixels).convert("RGB"))
    thumbs = []
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        scale = rng.uniform(0.45, 1.0)
        cw, ch = int(w * scale), int(h * scale * rng.choice([0.5625, 0.75, 1.0, 1.333]))
        ch = min(ch, h)
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = photo.crop((x, y, x + cw, y + ch))
        crop.thumbnail((THUMB, THUMB))
        buffer = io.BytesIO()
        crop.save(buffer, "JPEG", quality=75)
        thumbs.append((crop.width, crop.height, buffer.getvalue()))
    return thumbs


def ensure_webui_project(files: int) -> Path:
    """A copy of bench_scale's project with real-photograph thumbnails (cached in benchmarks/out/)."""
    path = HERE / "out" / f"webui-{files}-v{WEBUI_VERSION}.imagier"
    if path.exists():
        return path
    source, _ = ensure_project(files)
    partial = path.with_suffix(".building")
    shutil.copyfile(source, partial)
    thumbs = _real_thumbnails(300, np.random.default_rng(1))
    project = imagier.open(partial, create=False)
    try:
        conn = project.db.writer
        conn.execute("PRAGMA synchronous = OFF")
        with project.db.write():
            conn.execute("DELETE FROM thumbnails")
            contents = [row[0] for row in conn.execute("SELECT id FROM contents ORDER BY id")]
            conn.executemany("INSERT INTO thumbnails(content_id, width, height, data) VALUES (?, ?, ?, ?)",
                             ((cid, *thumbs[cid % len(thumbs)]) for cid in contents))
        conn.execute("PRAGMA synchronous = NORMAL")
    finally:
        project.close()
    partial.rename(path)
    return path


# Installed before the page's own scripts: notes when the first thumbnail is decoded and painted.
FIRST_THUMBNAIL = """
(() => {
  const check = () => {
    const image = document.querySelector('[data-testid=tile-image]');
    if (image && image.complete && image.naturalWidth > 0) {
      requestAnimationFrame(() => { window.__firstThumbnail = performance.now(); });
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();
"""

SCROLL = """
async (steps) => {
  const scroller = document.querySelector('[data-testid=grid-scroller]');
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await frame();
  const times = [performance.now()];
  const end = scroller.scrollHeight - scroller.clientHeight;
  for (let i = 1; i <= steps; i++) {
    scroller.scrollTop = Math.round(end * i / steps);
    times.push(await frame());
  }
  return times;
}
"""

WHEEL = """
async ([frames, delta]) => {
  const scroller = document.querySelector('[data-testid=grid-scroller]');
  const box = scroller.getBoundingClientRect();
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const times = [await frame()];
  for (let i = 0; i < frames; i++) {
    scroller.dispatchEvent(new WheelEvent('wheel', { deltaY: delta, clientX: box.x + 100, clientY: box.y + 100,
                                                      bubbles: true, cancelable: true }));
    times.push(await frame());
  }
  return times;
}
"""

APPLY_VIEW = """
async (view) => {
  const app = window.imagierApp;
  const started = performance.now();
  await app.setView(view);
  const wanted = String(app.shownResult.groups[0].key);
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  for (;;) {
    await frame();
    const header = document.querySelector('[data-testid=group-header]');
    if (header && header.dataset.key === wanted) break;
  }
  return { ms: performance.now() - started, total: app.shownResult.total, groups: app.shownResult.groups.length };
}
"""


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def measure(path: Path, scroll_steps: int) -> tuple[list[tuple[str, float, str, float | None]], dict]:
    from live import CHROMIUM, CHROMIUM_FLAGS, LAPTOP, LiveServer
    from playwright.sync_api import sync_playwright

    from imagier.server.app import create_app

    rows: list[tuple[str, float, str, float | None]] = []
    facts: dict = {}
    with imagier.open(path, create=False) as project, LiveServer(create_app(project)) as server:
        # The page saves its view as a tab in the project: an earlier run's last view must not open first.
        for view in project.views():
            project.delete_view(view["id"])
        project.query()  # warm the file's pages, as a researcher's second visit would find them
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=CHROMIUM_FLAGS + ["--enable-precise-memory-info"])
            page = browser.new_page(viewport=LAPTOP)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.add_init_script(FIRST_THUMBNAIL)
            page.goto(server.url + "/")
            page.wait_for_function("window.__firstThumbnail !== undefined", timeout=60_000)
            first = page.evaluate("window.__firstThumbnail")
            total = page.evaluate("window.imagierApp.shownResult.total")
            facts["total"] = total
            rows.append((f"first thumbnails painted, from navigation ({total:,} images)", first, "ms", 1500))

            # Scrubbing: the scroller moved from top to bottom in `scroll_steps` frames.
            times = page.evaluate(SCROLL, scroll_steps)
            deltas = np.diff(times).tolist()
            last = total - 1
            page.wait_for_selector(f"[data-testid=tile][data-index='{last}'] [data-testid=tile-image]", timeout=30_000)
            rows.append((f"scrollbar dragged top to bottom in {scroll_steps} steps: frame time, 95th percentile",
                         percentile(deltas, 95), "ms", 33))
            rows.append(("  same, median frame", percentile(deltas, 50), "ms", None))
            facts["spacer"] = page.evaluate("document.querySelector('[data-testid=grid-scroller]').scrollHeight")

            # Wheel: 400 px a frame (fast scrolling), from the top.
            page.keyboard.press("Home")
            times = page.evaluate(WHEEL, [300, 400])
            deltas = np.diff(times).tolist()
            rows.append(("wheel, 400 px a frame for 300 frames: frame time, 95th percentile",
                         percentile(deltas, 95), "ms", 33))
            rows.append(("  same, median frame", percentile(deltas, 50), "ms", None))

            applied = page.evaluate(APPLY_VIEW, MAIN_VIEW)
            rows.append(((f"apply a filter and regroup by month, to the new groups painted "
                          f"({applied['total']:,} images, {applied['groups']} groups)"), applied["ms"], "ms", 500))
            back = page.evaluate(APPLY_VIEW, {"filter": None, "sort": [], "group": [{"property": "taken", "by": "year"}]})
            rows.append((f"back to every image, grouped by year ({back['total']:,} images, {back['groups']} groups)",
                         back["ms"], "ms", None))

            client = page.context.new_cdp_session(page)
            client.send("Performance.enable")
            metrics = {m["name"]: m["value"] for m in client.send("Performance.getMetrics")["metrics"]}
            rows.append(("page JS heap used (500,000 ids and the group tree in memory)",
                         metrics["JSHeapUsedSize"] / 2**20, "MB", None))
            elements = page.evaluate("document.querySelectorAll('*').length")
            rows.append(("elements in the page (only the tiles on screen exist)", elements, "", None))
            browser.close()
            if errors:
                raise SystemExit(f"the page raised: {errors}")
    return rows, facts


def table(rows: list[tuple[str, float, str, float | None]]) -> str:
    lines = ["| measure | measured | target |", "|---|---:|---|"]
    for what, value, unit, limit in rows:
        shown = f"{value:,.1f} {unit}" if unit == "ms" and value < 100 else f"{value:,.0f} {unit}"
        verdict = "" if limit is None else f"< {limit:,} {unit}" + (" ✓" if value < limit else " ✗")
        lines.append(f"| {what} | {shown.strip()} | {verdict} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500_000)
    parser.add_argument("--steps", type=int, default=300, help="frames to scroll from the top to the bottom")
    parser.add_argument("--runs", type=int, default=1, help="whole runs, each with a fresh browser; medians shown")
    parser.add_argument("--write-results", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args(argv)
    path = ensure_webui_project(args.files)
    runs = [measure(path, args.steps) for _ in range(args.runs)]
    facts = runs[0][1]
    rows = [(what, statistics.median(run[0][i][1] for run in runs), unit, limit)
            for i, (what, _, unit, limit) in enumerate(runs[0][0])]
    load = os.getloadavg()[0]
    report = (f"Machine: {machine('Chromium (Debian, headless, no GPU)')}\n\n"
              f"{facts['total']:,} files with real-photograph thumbnails, page at 1366x768; the scroller's "
              f"spacer is {facts['spacer']:,} px for the whole layout; the median of {args.runs} run(s), each with a "
              f"fresh browser, load average {load:.1f} when they ended "
              f"(the 2 cores are shared with the server and the browser, so figures vary).\n\n" + table(rows))
    print(report)
    if args.write_results:
        write_results("## Web UI\n\n" + report + "\n")


if __name__ == "__main__":
    main()
