"""The IIIF import benchmark: images per second imported from a local IIIF server.

    python benchmarks/bench_iiif.py [--images N] [--concurrency 1,4,8] [--size 1600] [--delay 0,0.1]
                                    [--write-results]

The server (tests/iiifserver.py) runs in a process of its own on loopback and serves N distinct real
photographs (crops of Debian's wallpapers and of scikit-image's samples, 2,400 pixels on the long side,
so every request is scaled to the size asked) through a version 3 manifest (which gives each service's
level and picture's size, so an image is one request); it encodes each answer once before the timing
starts, so what is measured is the import: the manifest, each image's request, hashing, the thumbnail,
and the writes of the images (stored in the project) and their properties. No embedding. With
--write-results the table goes into benchmarks/RESULTS.md under "## IIIF import".
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import httpx  # noqa: E402

import imagier  # noqa: E402
from common import machine, write_results  # noqa: E402
from iiifserver import LARGE, SAMPLES, IiifServer, manifest_v3, photograph  # noqa: E402
from imagier.ingest.iiif import image_request, read_info  # noqa: E402

HEADING = "## IIIF import"
LONG_SIDE = 2400


def pictures(count: int) -> dict:
    """`count` distinct photographs of LONG_SIDE pixels on the long side: crops of the sources in turn."""
    sources = [photograph(name) for name in (*LARGE, *SAMPLES)]
    made = {}
    for index in range(count):
        source = sources[index % len(sources)]
        keep = 0.8 + 0.2 * ((index // len(sources)) % 5) / 5  # each round a different crop
        crop = source.crop((0, 0, int(source.width * keep), int(source.height * keep)))
        scale = LONG_SIDE / max(crop.size)
        made[f"img{index:04d}"] = crop.resize((round(crop.width * scale), round(crop.height * scale)))
    return made


def serve(count: int, size: int, delay: float, ready) -> None:
    """Run the server (in its own process) until killed, after encoding every answer the import will ask;
    then each image takes `delay` seconds more to come (a remote library's latency)."""
    with IiifServer(pictures(count)) as server:
        manifest = manifest_v3(server, "bench", sorted(server.images), label={"none": ["Benchmark"]})
        with httpx.Client() as client:
            for identifier in server.images:
                service = server.service(identifier)
                client.get(image_request(read_info(client.get(f"{service}/info.json").json(), service), size))
        server.delay = delay
        ready.put(manifest["id"])
        while True:
            time.sleep(3600)


def run(manifest: str, concurrency: int, size: int) -> dict:
    with tempfile.TemporaryDirectory() as folder, imagier.open(Path(folder) / "bench.imagier") as project:
        load, cpu, wall = os.getloadavg()[0], time.process_time(), time.perf_counter()
        report = project.import_iiif([manifest], size=size, concurrency=concurrency, embed=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert report["failed"] == [] and report["added"] == report["total"], report
        stored = sum(part.stat().st_size for part in Path(folder).glob("bench.imagier*"))  # with its WAL
        return {"images": report["added"], "wall": wall, "cpu": cpu, "load": load, "bytes": stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--size", type=int, default=1600)
    parser.add_argument("--delay", default="0,0.1", help="seconds each image takes to come, one server per value")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    rows = []
    for delay in (float(d) for d in args.delay.split(",")):
        ready = multiprocessing.get_context("fork").Queue()
        server = multiprocessing.get_context("fork").Process(target=serve, args=(args.images, args.size, delay, ready),
                                                             daemon=True)
        server.start()
        try:
            manifest = ready.get(timeout=600)
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                result = run(manifest, concurrency, args.size)
                rows.append(f"| {delay * 1000:.0f} | {concurrency} | {result['images']} | {result['wall']:.2f} | "
                            f"{result['cpu']:.2f} | {result['images'] / result['wall']:.1f} | {result['load']:.2f} | "
                            f"{result['bytes'] / result['images'] / 1e3:.0f} |")
                print(rows[-1], flush=True)
        finally:
            server.kill()
    section = "\n".join([
        HEADING, "",
        f"`python benchmarks/bench_iiif.py --images {args.images} --size {args.size} "
        f"--concurrency {args.concurrency} --delay {args.delay}`: a version 3 manifest of {args.images} distinct "
        f"photographs ({LONG_SIDE} pixels on the long side) served by tests/iiifserver.py in another process on "
        f"loopback, each fetched at {args.size} pixels on its long side (one request: the manifest gives the "
        "service's level and the picture's size), hashed, thumbnailed and written with its properties and its "
        "bytes into a new project; no embedding. The server delay is added to each image request (0: loopback "
        "alone; 100 ms: a remote library's latency, where requests in parallel pay). CPU is the importing "
        "process's (user + system); load "
        "is the 1-minute load average at the start (2 cores shared with other work).", "",
        f"Machine: {machine(f'httpx {httpx.__version__}')}", "",
        "| server delay ms | concurrency | images | wall s | CPU s | images/s | load | project kB/image |",
        "|---|---|---|---|---|---|---|---|", *rows])
    print(section)
    if args.write_results:
        write_results(section)


if __name__ == "__main__":
    main()
