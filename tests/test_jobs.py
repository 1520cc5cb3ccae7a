"""One job system: every long operation is a job with a row in the project file, started, watched, cancelled
and resumed through the generic routes and `imagier jobs`, on real servers on loopback over real photographs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import apsw
import httpx
import pytest
import skimage.data
from click.testing import CliRunner
from PIL import Image

import imagier
from conftest import older_project_file
from imagier.cli import main
from imagier.jobs import JobRunner
from imagier.server.app import create_app
from live import LiveServer, finished_job

from test_jobs_hardening import killed_cleanly, serve_and_kill_mid_import, wait_for

PHOTOS = 160


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory) -> Path:
    """PHOTOS distinct large JPEGs of one photograph (each with its own trailing bytes, which decoders ignore):
    enough decoding that an import with one worker is still running when the test acts on it."""
    folder = tmp_path_factory.mktemp("many") / "photos"
    folder.mkdir()
    buffer = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).resize((1200, 900)).save(buffer, "JPEG", quality=90)
    for i in range(PHOTOS):
        (folder / f"c{i:04d}.jpg").write_bytes(buffer.getvalue() + i.to_bytes(4, "big"))
    return folder


def events(client, job_id) -> list[dict]:
    found = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                found.append(json.loads(line[len("data: "):]))
    return found


def cli(*args) -> dict:
    done = CliRunner().invoke(main, [*args, "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.output)


def start_import(client, folder: Path) -> int:
    started = client.post("/api/jobs", json={"kind": "import", "params": {"folders": [str(folder)], "workers": 1,
                                                                           "embed": False}})
    assert started.status_code == 202, started.text
    return started.json()["job"]


def test_a_job_of_any_kind_runs_through_the_generic_routes_and_stays_in_the_project(embedded):
    with LiveServer(create_app(embedded)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        started = client.post("/api/jobs", json={"kind": "cluster", "params": {"k": 3, "vector_type": "hist"}})
        assert started.status_code == 202, started.text
        job_id = started.json()["job"]
        final = events(client, job_id)[-1]
        assert final["state"] == "done" and final["kind"] == "cluster" and final["resumes"] == "restarts"
        assert sum(len(c["ids"]) for c in final["result"]["clusters"]) == embedded.file_count()
        assert client.get("/api/jobs").json()[0]["id"] == job_id
    # The row outlives the server: another process reads the job, its parameters and its result.
    shown = cli("jobs", "show", str(embedded.path), str(job_id))
    assert shown["state"] == "done" and shown["params"]["k"] == 3
    assert shown["result"]["clusters"] == final["result"]["clusters"]
    assert cli("jobs", "list", str(embedded.path))[0]["id"] == job_id


@pytest.mark.parametrize("body, status, words", [
    ({"kind": "ghost"}, 400, "no kind of job 'ghost'"),
    ({"kind": "cluster", "params": {"colour": "red"}}, 400, "no parameter 'colour'"),
    ({"kind": "cluster", "params": {"vector_type": "nope"}}, 404, "nope"),
    ({"kind": "import", "params": {"folders": ["/etc"]}}, 403, "/etc"),
])
def test_a_bad_job_is_refused_before_it_starts_and_changes_nothing(embedded, state_of, body, status, words):
    before = state_of(embedded)
    with LiveServer(create_app(embedded)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        jobs_before = client.get("/api/jobs").json()
        refused = client.post("/api/jobs", json=body)
        assert refused.status_code == status and words in refused.json()["message"], refused.text
        assert client.get("/api/jobs").json() == jobs_before
    assert state_of(embedded) == before


def test_an_import_cancelled_mid_way_is_resumed_where_it_stopped(project, many_photos):
    with LiveServer(create_app(project, roots=[many_photos])) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        job_id = start_import(client, many_photos)
        wait_for(lambda: client.get(f"/api/jobs/{job_id}").json()["progress"].get("done", 0) > 0, 60,
                 "the import never started")
        assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 202
        stopped = events(client, job_id)[-1]
        assert stopped["state"] == "cancelled" and stopped["resumes"] == "continues"
        first = stopped["result"]["added"]
        assert 0 < first < PHOTOS and project.file_count() == first

        resumed = client.post(f"/api/jobs/{job_id}/resume")
        assert resumed.status_code == 202 and resumed.json()["job"] == job_id  # the same job, its same row
        done = events(client, job_id)[-1]
        assert done["state"] == "done", done
        assert (done["result"]["added"], done["result"]["skipped"]) == (PHOTOS - first, first)
        assert project.file_count() == PHOTOS
        again = client.post(f"/api/jobs/{job_id}/resume")
        assert again.status_code == 409 and "already done" in again.json()["message"]


def test_a_killed_server_leaves_its_job_interrupted_and_the_command_resumes_it(many_photos, tmp_path):
    path = tmp_path / "served.imagier"
    processes: set[int] = set()
    with killed_cleanly(processes):
        job_id = serve_and_kill_mid_import(path, many_photos, lambda client: start_import(client, many_photos),
                                           processes)

    shown = cli("jobs", "show", str(path), str(job_id))
    assert shown["state"] == "interrupted" and shown["kind"] == "import", shown
    with imagier.open(path) as project:
        assert project.file_count() < PHOTOS
    resumed = cli("jobs", "resume", str(path), str(job_id))
    assert resumed["state"] == "done" and resumed["id"] == job_id, resumed
    with imagier.open(path) as project:
        assert project.file_count() == PHOTOS
        assert JobRunner(project).snapshot(job_id)["state"] == "done"


def test_the_command_cancels_a_job_a_server_runs(project):
    app = create_app(project)

    def until_cancelled(progress, cancel):
        for step in range(600):  # a minute at most
            progress({"done": step, "total": 600})
            if cancel.wait(0.1):
                return {"stopped at": step}
        return {"stopped at": None}

    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        with app.state.server.lease() as served:
            job_id = served.runner.start("wait", until_cancelled).id
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        asked = subprocess.run([sys.executable, "-m", "imagier.cli", "jobs", "cancel", str(project.path), str(job_id),
                                "--json"], env=env, capture_output=True, text=True, timeout=60)
        assert asked.returncode == 0, asked.stderr
        assert json.loads(asked.stdout)["state"] == "running"  # asked; the server stops it at its next report
        stopped = finished_job(client, job_id, timeout=60)
        assert stopped["state"] == "cancelled" and stopped["result"]["stopped at"] is not None


def test_switching_projects_lets_a_request_in_flight_finish_on_its_project(imported, tmp_path):
    app = create_app(imported, roots=[tmp_path])
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        with app.state.server.lease() as in_flight:  # what every request holds while it runs
            opened = client.post("/api/project/open", json={"path": str(tmp_path / "other"), "create": True})
            assert opened.status_code == 200, opened.text
            assert client.get("/api/info").json()["path"] == str(tmp_path / "other.imagier")
            assert in_flight.project.file_count() == imported.file_count() > 0  # still open for the request
        with pytest.raises(apsw.ConnectionClosedError):  # closed once the last request using it ended
            imported.file_count()


def test_switching_projects_is_refused_while_a_job_runs(project, many_photos, tmp_path):
    with LiveServer(create_app(project, roots=[tmp_path, many_photos])) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        job_id = start_import(client, many_photos)
        refused = client.post("/api/project/open", json={"path": str(tmp_path / "other"), "create": True})
        assert refused.status_code == 409 and "import job is running" in refused.json()["message"]
        assert not (tmp_path / "other.imagier").exists()
        assert client.get("/api/info").json()["path"] == str(project.path)
        client.post(f"/api/jobs/{job_id}/cancel")
        assert finished_job(client, job_id)["state"] == "cancelled"


def test_turning_the_guesses_on_again_is_a_job(embedded):
    with LiveServer(create_app(embedded)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.put("/api/labels", json={"enabled": False}).json() == {"enabled": False, "deleted": True}
        started = client.put("/api/labels", json={"enabled": True})
        assert started.status_code == 202 and started.json()["enabled"] is True
        done = finished_job(client, started.json()["job"])
        assert done["state"] == "done" and done["kind"] == "labels"
        assert done["result"] == {"enabled": True, "images": embedded.content_count()}
        assert client.get("/api/labels").json() == {"enabled": True}


def test_the_import_jobs_of_an_older_project_file_are_kept_and_resumed(tmp_path, photo_dir):
    path = tmp_path / "old.imagier"
    conn = older_project_file(path, 4)  # the schema before one job system
    params = json.dumps({"folders": [str(photo_dir.resolve())], "store_originals": False})
    conn.execute("INSERT INTO jobs(kind, params, state, started, progress) VALUES "
                 "('import', ?, 'running', '2026-01-01T10:00:00', '{\"done\": 3}')", (params,))
    conn.close()

    with imagier.open(path) as project:
        runner = JobRunner(project)
        [old] = runner.snapshots()
        assert (old["kind"], old["state"], old["progress"], old["started"]) == \
               ("import", "interrupted", {"done": 3}, "2026-01-01T10:00:00")
        assert [j["id"] for j in project.pending_imports()] == [old["id"]]
        # Importing the same folders again picks the interrupted job up rather than leaving it for good.
        job = runner.submit("import", {"folders": [str(photo_dir)], "embed": False})
        assert job.id == old["id"]
        assert job.wait(120) and job.snapshot()["state"] == "done", job.snapshot()
        assert project.file_count() > 0 and project.pending_imports() == []


def test_requests_in_flight_while_the_page_switches_projects_all_succeed(imported, tmp_path):
    other = tmp_path / "other.imagier"
    imagier.open(other).close()
    paths = [str(other), str(imported.path)]
    answers: list[int] = []
    stop = threading.Event()

    def read_all_the_time() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as reader:
            for _ in range(2000):  # bounded; the switches end it sooner
                if stop.is_set():
                    return
                answers.append(reader.post("/api/query", json={"limit": 50}).status_code)

    with LiveServer(create_app(imported, roots=[tmp_path])) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        readers = [threading.Thread(target=read_all_the_time) for _ in range(3)]
        for thread in readers:
            thread.start()
        try:
            for switch in range(30):
                assert client.post("/api/project/open", json={"path": paths[switch % 2]}).status_code == 200
        finally:
            stop.set()
            for thread in readers:
                thread.join(60)
    assert answers and set(answers) == {200}, sorted(set(answers))
