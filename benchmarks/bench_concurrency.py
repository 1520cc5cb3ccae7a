"""Reads under a write load: `imagier serve` on a project of real photographs, 20 threads writing over HTTP
(each creates tags, adds them to images and sets numbers) and `imagier values add` processes writing to the
same file alongside, while another client times the page's reads: the 95th percentile latency of
`POST /api/query`, `GET /api/info` and a thumbnail, quiet and under the load.

    python benchmarks/bench_concurrency.py [--seconds S] [--writers N] [--write-results]

`WriteLoad` is also the load of tests/test_concurrency.py, which checks that every write it acknowledged
is stored exactly once.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_results  # noqa: E402

HEADING = "## Reads under concurrent writers"
TAGS = "labels"  # the multi-tag property the writers fill
CLI_TAGS = "cli-labels"


def number_property(writer: int) -> str:
    """Each HTTP writer sets its own number property, so the last value it set is the one to find."""
    return f"n{writer}"


def prepare(project, writers: int) -> None:
    """The properties the load writes to."""
    project.create_property(TAGS, "multi-tag")
    project.create_property(CLI_TAGS, "multi-tag")
    for writer in range(writers):
        project.create_property(number_property(writer), "number")


class WriteLoad:
    """HTTP writer threads and CLI writer processes on one served project, until stopped. Every write the
    server or the CLI acknowledged is recorded; everything else (an error status, a lost connection, a CLI
    that failed or printed a traceback) is a failure."""

    def __init__(self, url: str, project_path: Path, ids: list[int], paths: list[str], *, writers: int = 20,
                 cli_writers: int = 2):
        self.url, self.project_path, self.ids, self.paths = url, project_path, ids, paths
        self.created_tags: list[str] = []  # tags made by POST .../tags
        self.added: list[tuple[str, int]] = []  # (tag, image) by POST /api/values/add
        self.numbers: dict[tuple[int, int], int] = {}  # (writer, image) -> the last number set
        self.cli_added: list[tuple[str, str]] = []  # (tag, path) by `imagier values add`
        self.numbers_set = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._http_writer, args=(w,), daemon=True) for w in range(writers)]
        self._threads += [threading.Thread(target=self._cli_writer, args=(w,), daemon=True)
                          for w in range(cli_writers)]

    def __enter__(self) -> "WriteLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)
        assert not any(t.is_alive() for t in self._threads), "a writer did not stop"

    @property
    def writes(self) -> int:
        return len(self.created_tags) + len(self.added) + len(self.cli_added) + self.numbers_set

    def _post(self, client: httpx.Client, url: str, body: dict) -> bool:
        try:
            answer = client.post(url, json=body)
        except httpx.HTTPError as e:
            self._fail(f"POST {url} {body}: {type(e).__name__}: {e}")
            return False
        if answer.status_code >= 300:
            self._fail(f"POST {url} {body}: {answer.status_code} {answer.text[:300]}")
            return False
        return True

    def _fail(self, what: str) -> None:
        with self._lock:
            self.failures.append(what)

    def _http_writer(self, writer: int) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as client:
            step = 0
            while not self._stop.is_set():
                image = self.ids[(writer + step) % len(self.ids)]
                made, added = f"made-{writer}-{step}", f"added-{writer}-{step}"
                if self._post(client, f"/api/properties/{TAGS}/tags", {"name": made}):
                    with self._lock:
                        self.created_tags.append(made)
                if self._post(client, "/api/values/add", {"property": TAGS, "ids": [image], "tags": [added]}):
                    with self._lock:
                        self.added.append((added, image))
                if self._post(client, "/api/values/set", {"property": number_property(writer), "ids": [image],
                                                          "value": step}):
                    with self._lock:
                        self.numbers[(writer, image)] = step
                        self.numbers_set += 1
                step += 1

    def _cli_writer(self, writer: int) -> None:
        step = 0
        while not self._stop.is_set():
            tag, path = f"cli-{writer}-{step}", self.paths[(writer + step) % len(self.paths)]
            try:
                done = subprocess.run([sys.executable, "-m", "imagier.cli", "values", "add", str(self.project_path),
                                       CLI_TAGS, tag, "--path", path], capture_output=True, text=True, timeout=120)
            except subprocess.TimeoutExpired:
                self._fail(f"imagier values add {tag}: no answer within 120 s")
                continue
            if done.returncode != 0 or "Traceback" in done.stderr:
                self._fail(f"imagier values add {tag}: exit {done.returncode}: {done.stderr[-1500:]}")
            else:
                with self._lock:
                    self.cli_added.append((tag, path))
            step += 1


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_reads(url: str, thumbnail: str, seconds: float) -> dict[str, list[float]]:
    """Latencies (ms) of the page's three kinds of read, in turn, for `seconds`."""
    reads = {"POST /api/query (every image, grouped by folder)": lambda c: c.post(
                 "/api/query", json={"group": [{"property": "folder"}]}),
             "GET /api/info": lambda c: c.get("/api/info"),
             "GET a thumbnail": lambda c: c.get(f"/api/thumbnails/{thumbnail}.jpg")}
    times: dict[str, list[float]] = {name: [] for name in reads}
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=120) as client:
        while time.monotonic() < deadline:
            for name, read in reads.items():
                start = time.perf_counter()
                read(client).raise_for_status()
                times[name].append((time.perf_counter() - start) * 1000)
    return times


def build_project(folder: Path, writers: int) -> tuple[Path, list[int], list[str], str]:
    """A project of the demo's photographs (72 JPEGs), ready for the load: its path, ids, paths and a
    thumbnail's hash."""
    import imagier
    from imagier.demo import write_demo_photos
    write_demo_photos(folder / "photos")
    path = folder / "load.imagier"
    with imagier.open(path) as project:
        project.import_folders([folder / "photos"])
        prepare(project, writers)
        files = project.files(project.query_ids())
    return path, [f["id"] for f in files], [f["path"] for f in files], files[0]["hash"]


def serve(path: Path) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, "-m", "imagier.cli", "serve", str(path), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    found = re.search(r"at (http://\S+)", line)
    if not found:
        server.kill()
        raise SystemExit(f"the server did not start: {line}{server.stderr.read()}")
    return server, found[1].rstrip("/")


def measure(seconds: float, writers: int, cli_writers: int) -> tuple[list[tuple], dict]:
    with tempfile.TemporaryDirectory(prefix="imagier-bench-concurrency-") as folder:
        path, ids, paths, thumbnail = build_project(Path(folder), writers)
        server, url = serve(path)
        try:
            quiet = time_reads(url, thumbnail, seconds)
            with WriteLoad(url, path, ids, paths, writers=writers, cli_writers=cli_writers) as load:
                started = time.monotonic()
                loaded = time_reads(url, thumbnail, seconds)
                elapsed = time.monotonic() - started
            load_average = os.getloadavg()
        finally:
            server.terminate()
            server.wait(30)
    rows = [(name, statistics.median(quiet[name]), percentile(quiet[name], 0.95), statistics.median(loaded[name]),
             percentile(loaded[name], 0.95), len(loaded[name])) for name in quiet]
    summary = {"writes": load.writes, "writes_per_s": load.writes / elapsed, "cli": len(load.cli_added),
               "failures": load.failures, "load": load_average, "images": len(ids)}
    return rows, summary


def table(rows: list[tuple]) -> str:
    return "\n".join(["| read | quiet p50 | quiet p95 | under load p50 | under load p95 | reads timed |",
                      "|---|---:|---:|---:|---:|---:|"] +
                     [f"| {name} | {a:.1f} ms | {b:.1f} ms | {c:.1f} ms | {d:.1f} ms | {n} |"
                      for name, a, b, c, d, n in rows])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="how long each phase times the reads")
    parser.add_argument("--writers", type=int, default=20, help="HTTP writer threads")
    parser.add_argument("--cli-writers", type=int, default=2, help="`imagier values add` processes at a time")
    parser.add_argument("--write-results", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args(argv)
    # The server and the CLI writers run this checkout's imagier.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1] / "src"),
                                                             os.environ.get("PYTHONPATH")]))
    rows, summary = measure(args.seconds, args.writers, args.cli_writers)
    one, five, fifteen = summary["load"]
    report = (f"Machine: {machine()}; load average {one:.1f}, {five:.1f}, {fifteen:.1f} (1, 5, 15 min) when the "
              f"runs ended\n\n`imagier serve` on a project of {summary['images']} photographs (the demo's), "
              f"read by one client over HTTP on loopback for {args.seconds:g} s with no other traffic, then for "
              f"{args.seconds:g} s while {args.writers} threads wrote over HTTP (create a tag, add a tag to an "
              f"image, set a number: {summary['writes']:,} writes acknowledged, {summary['writes_per_s']:.0f}/s) "
              f"and {args.cli_writers} `imagier values add` processes at a time wrote to the same file "
              f"({summary['cli']} commands). Failed writes: {len(summary['failures'])}.\n\n{table(rows)}\n")
    print(report)
    for failure in summary["failures"][:20]:
        print("failure:", failure)
    if args.write_results:
        write_results(f"{HEADING}\n\n{report}")


if __name__ == "__main__":
    main()
