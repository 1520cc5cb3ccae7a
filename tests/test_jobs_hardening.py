"""Jobs and originals under real failures: an import killed with SIGKILL (by the command line and while
served), resuming it through the HTTP API as it was asked for, resuming what does not exist, and
originals that changed on disk after their import. Real processes, a real server on loopback."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import skimage.data
from PIL import Image

import imagier
from imagier.server.app import create_app
from live import LiveServer, finished_job

FILES = 240


@pytest.fixture(scope="module")
def large_corpus(tmp_path_factory) -> Path:
    """FILES distinct large JPEGs (one photograph, each file with its own trailing bytes, which decoders
    ignore): enough decoding that an import with two workers is still running seconds after it began."""
    folder = tmp_path_factory.mktemp("large") / "corpus"
    folder.mkdir()
    buffer = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).resize((1500, 1500)).save(buffer, "JPEG", quality=90)
    for i in range(FILES):
        (folder / f"p{i:04d}.jpg").write_bytes(buffer.getvalue() + i.to_bytes(4, "big"))
    return folder


# ---- processes ----------------------------------------------------------------------------------------

def _living_processes() -> dict[int, int]:
    """{pid: parent pid} of every process that is running (zombies, already dead, left out)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if state != "Z":
                found[int(entry)] = int(ppid)
    return found


def descendants(pid: int) -> set[int]:
    """The living processes started by `pid`, directly or not."""
    processes = _living_processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in processes.items() if parent in frontier} - found
        found |= frontier
    return found


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.05)
    return value


@contextmanager
def killed_cleanly(pids: set[int]):
    """Yield; then end whatever of `pids` is still alive (the processes this test started), so a failing
    test leaves nothing behind."""
    try:
        yield
    finally:
        for pid in pids & set(_living_processes()):
            os.kill(pid, signal.SIGKILL)


def assert_all_end(pids: set[int], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while alive := pids & set(_living_processes()):
        assert time.monotonic() < deadline, f"processes {sorted(alive)} still run {timeout} s after their import died"
        time.sleep(0.1)


# ---- a killed import ----------------------------------------------------------------------------------

def test_the_decoders_of_an_import_killed_with_sigkill_exit(large_corpus, tmp_path):
    command = [sys.executable, "-m", "imagier.cli", "import", str(tmp_path / "p.imagier"), str(large_corpus),
               "--workers", "2", "--no-embed"]
    importing = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    with killed_cleanly(workers):
        try:
            workers |= wait_for(lambda: found if len(found := descendants(importing.pid)) >= 2 else None,
                                60, "the import never started its two decoders")
            # Checked before the kill: once it is dead, the decoders may rightly be gone at once.
            assert workers & set(_living_processes()), "the decoders ended before the kill: nothing was tested"
        finally:
            importing.kill()
            importing.wait(10)
        assert_all_end(workers)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_kill_mid_import(path: Path, root: Path, start_import, processes: set[int]) -> int:
    """Serve PATH (with ROOT allowed), start an import with `start_import(client)` (which returns its job id),
    and once some files are imported kill the server with SIGKILL; the job id. The processes the server
    had started are added to `processes` (the caller watches them with killed_cleanly)."""
    port = free_port()
    serving = subprocess.Popen([sys.executable, "-m", "imagier.cli", "serve", str(path), "--port", str(port),
                                "--root", str(root)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert "imagier is serving" in serving.stdout.readline()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            job = start_import(client)
            wait_for(lambda: client.get(f"/api/jobs/{job}").json()["progress"].get("done", 0) > 0, 60,
                     "the import never started")
        processes |= descendants(serving.pid)
    finally:
        serving.kill()
        serving.wait(10)
    return job


def test_a_served_import_killed_with_sigkill_resumes_with_its_embedding(large_corpus, tmp_path):
    path = tmp_path / "served.imagier"

    def start(client) -> int:
        started = client.post("/api/imports", json={"folders": [str(large_corpus)], "model": "phash",
                                                    "workers": 2})
        assert started.status_code == 202, started.text
        return started.json()["job"]

    processes: set[int] = set()
    with killed_cleanly(processes):
        serve_and_kill_mid_import(path, large_corpus, start, processes)
        assert_all_end(processes)  # the fork server and its decoders

    with imagier.open(path) as project, LiveServer(create_app(project)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        pending = client.get("/api/imports/pending").json()
        assert len(pending) == 1 and pending[0]["params"]["folders"] == [str(large_corpus)]
        assert project.file_count() < FILES  # it was killed midway

        resumed = client.post(f"/api/imports/{pending[0]['id']}/resume")
        assert resumed.status_code == 202, resumed.text
        done = finished_job(client, resumed.json()["job"], timeout=300)
        assert done["state"] == "done", done
        assert done["result"]["embedding"]["model"] == "phash"
        assert project.file_count() == project.content_count() == FILES
        phash = {t["name"]: t for t in project.vector_types()}["phash"]
        assert phash["count"] == FILES
        assert client.get("/api/imports/pending").json() == []


def test_resuming_an_import_the_project_does_not_have_is_404_at_once(imported, tmp_path):
    with LiveServer(create_app(imported)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        jobs_before = client.get("/api/jobs").json()
        response = client.post("/api/imports/999999/resume")
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "NotFound" and "999999" in response.json()["message"]
        finished = imported.db.reader.execute("SELECT id FROM jobs WHERE state = 'done'").fetchone()[0]
        again = client.post(f"/api/imports/{finished}/resume")
        assert again.status_code == 409 and "already done" in again.json()["message"]
        assert client.get("/api/jobs").json() == jobs_before  # no job was started


# ---- originals that changed on disk -------------------------------------------------------------------

@pytest.fixture
def served_copy(photo_copy, tmp_path):
    """A project of photo_copy (a private copy of the photographs) served on loopback: (client, project,
    photo folder)."""
    with imagier.open(tmp_path / "originals.imagier") as project:
        project.import_folders(photo_copy)
        with LiveServer(create_app(project)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield client, project, photo_copy


def _hash_of(project, path: Path) -> str:
    return project.file(project.file_id(str(path)))["hash"]


def test_an_original_changed_on_disk_is_never_served_under_its_old_hash(served_copy):
    client, project, photos = served_copy
    retina = photos / "retina.jpg"
    digest = _hash_of(project, retina)
    first = client.get(f"/api/originals/{digest}")
    assert first.status_code == 200 and first.content == retina.read_bytes()
    assert first.headers["etag"] == f'"{digest}"'

    # Another photograph written over it: a different size.
    Image.fromarray(skimage.data.coffee()).save(retina, "JPEG", quality=70)
    changed = client.get(f"/api/originals/{digest}")
    assert changed.status_code == 409, changed.text
    assert "changed on disk since it was imported" in changed.json()["message"]
    assert str(retina) in changed.json()["message"] and "immutable" not in changed.headers.get("cache-control", "")


def test_an_original_with_its_size_but_other_bytes_is_refused(served_copy):
    client, project, photos = served_copy
    camera = photos / "2021/camera.jpg"
    digest = _hash_of(project, camera)
    data = bytearray(camera.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the same size, one byte different, a new modification time
    time.sleep(0.01)
    camera.write_bytes(bytes(data))
    response = client.get(f"/api/originals/{digest}")
    assert response.status_code == 409, response.text
    assert response.content != bytes(data)


def test_an_original_only_touched_since_import_is_still_served(served_copy):
    client, project, photos = served_copy
    chelsea = photos / "2020/chelsea.jpg"
    digest = _hash_of(project, chelsea)
    os.utime(chelsea, ns=(time.time_ns(), time.time_ns()))  # the same bytes, a new modification time
    response = client.get(f"/api/originals/{digest}")
    assert response.status_code == 200 and response.content == chelsea.read_bytes()


def test_an_original_whose_copy_changed_is_served_from_the_unchanged_copy(served_copy):
    client, project, photos = served_copy
    astronaut, copy = photos / "2019/astronaut.jpg", photos / "copies/astronaut-copy.jpg"
    digest = _hash_of(project, astronaut)
    expected = copy.read_bytes()
    Image.fromarray(skimage.data.camera()).save(astronaut, "JPEG")
    response = client.get(f"/api/originals/{digest}")
    assert response.status_code == 200 and response.content == expected
