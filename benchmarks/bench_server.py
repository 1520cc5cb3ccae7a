"""The server at scale: `imagier serve` on the 500,000-file project of bench_scale.py, used over HTTP as the
web UI will use it, with the server process's memory read from /proc.

    python benchmarks/bench_server.py [--files N] [--runs R] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import MAIN_VIEW, ensure_project, table  # noqa: E402
from common import machine, write_results  # noqa: E402

HEADING = "## Server at 500,000 files"
SRC = Path(__file__).resolve().parents[1] / "src"
WINDOW = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and at its peak (VmHWM), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def measure(path: Path, runs: int, src: Path = SRC) -> list[tuple[str, float, str, float | None]]:
    """Time the server's answers on the project at `path`, running the imagier found in `src`."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "imagier.cli", "serve", str(path), "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            while True:
                try:
                    client.get("/api/info").raise_for_status()
                    break
                except httpx.TransportError:
                    if server.poll() is not None:
                        raise SystemExit(server.stderr.read().decode())
                    time.sleep(0.05)
            rows.append(("start the server and answer /api/info", (time.perf_counter() - start) * 1000, "ms", None))

            def post(url, body):
                response = client.post(url, json=body)
                response.raise_for_status()
                return response.json()

            ms, view = timed(lambda: post("/api/query", MAIN_VIEW), runs)
            rows.append((f"POST /api/query, the main view ({view['total']:,} images, ids and groups as JSON)",
                         ms, "ms", 300))
            ms, everything = timed(lambda: post("/api/query", {}), runs)
            rows.append((f"POST /api/query, every image ({everything['total']:,} ids)", ms, "ms", None))
            windows = [view["ids"][i:i + WINDOW] for i in range(0, min(len(view["ids"]), 20 * WINDOW), WINDOW)]
            ms, items = timed(lambda: [post("/api/values", {"ids": w})["items"] for w in windows], 1)
            rows.append((f"values of {len(windows)} windows of {WINDOW} images (per window)", ms / len(windows),
                         "ms", None))
            hashes = [item["hash"] for item in items[0]]
            ms, _ = timed(lambda: [client.get(f"/api/thumbnails/{h}.jpg").raise_for_status() for h in hashes], 1)
            rows.append((f"{len(hashes)} thumbnails, one request each (per thumbnail)", ms / len(hashes), "ms", None))
            selection = {"property": "subject", "op": "has_any", "value": ["person"]}
            ms, changed = timed(lambda: post("/api/values/add", {"property": "subject", "filter": selection,
                                                                  "tags": ["benchmark"]}), 1)
            rows.append((f"tag the images of a filter ({changed['changed']:,} images)", ms, "ms", None))
            ms, _ = timed(lambda: post("/api/undo", {}), 1)
            rows.append(("undo that", ms, "ms", None))
            export = {"filter": json.dumps(MAIN_VIEW["filter"])}
            ms, _ = timed(lambda: client.get("/api/export.csv", params=export).raise_for_status(), 1)
            rows.append((f"export the main view as CSV ({view['total']:,} rows)", ms, "ms", None))
            memory = memory_mb(server.pid)
            rows.append(("server memory now (RSS)", memory["VmRSS"], "MB", None))
            rows.append(("server memory at its peak", memory["VmHWM"], "MB", 1024))
    finally:
        server.terminate()
        server.wait(30)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=5, help="runs per query; the median is reported")
    parser.add_argument("--write-results", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args(argv)
    path, _ = ensure_project(args.files)
    rows = measure(path, args.runs)
    report = (f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} when the runs ended\n\n"
              f"`imagier serve` on the {args.files:,}-file project of bench_scale.py, driven over HTTP on loopback "
              f"by another process (httpx), median of {args.runs} runs for the queries.\n\n{table(rows, decimals=1)}\n")
    print(report)
    if args.write_results:
        write_results(f"{HEADING}\n\n{report}")


if __name__ == "__main__":
    main()
