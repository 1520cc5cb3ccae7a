"""Project files imagier may read but not write, and files that are not projects, through Python, the CLI
and HTTP: a read-only project (file or folder) opens read-only and refuses every write naming the file and
the reason; an empty file is not a project to read; and the file stays exactly as it was.

File permissions do not stop root, which the tests may run as, so a read-only file or folder is a
read-only bind mount in a mount namespace of the command's own (`unshare`, from util-linux)."""

import hashlib
import json
import re
import shutil
import subprocess
import sys

import httpx
import pytest

import imagier
from imagier.errors import ProjectFileError

_READ_ONLY_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'


def read_only(target, *argv) -> list[str]:
    """The command ARGV, run where TARGET (a file or a folder) is on a read-only mount."""
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", _READ_ONLY_MOUNT, str(target),
            *map(str, argv)]


def run(argv) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "imagier.cli", *map(str, args)]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def closed_project(imported_template, tmp_path):
    """A project in a folder of its own, with a tag property and one value, closed (no -wal or -shm)."""
    folder = tmp_path / "shelf"
    folder.mkdir()
    path = folder / "corpus.imagier"
    shutil.copyfile(imported_template, path)
    with imagier.open(path) as project:
        project.create_property("mood", "tag")
        project.add_values("mood", [project.file("retina.jpg")["id"]], ["calm"])
    assert sorted(p.name for p in folder.iterdir()) == ["corpus.imagier"]
    return path


def test_an_empty_file_is_not_turned_into_a_project_by_reading_it(tmp_path):
    empty = tmp_path / "empty.imagier"
    empty.write_bytes(b"")
    done = run(cli("info", empty))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "is not an imagier project: the file is empty (0 bytes)" in done.stderr
    with pytest.raises(ProjectFileError, match="the file is empty"):
        imagier.open(empty, create=False)
    assert empty.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["empty.imagier"]


def test_a_project_in_a_read_only_folder_is_read_and_refuses_writes(closed_project):
    folder, before = closed_project.parent, digest(closed_project)
    info = run(read_only(folder, *cli("info", closed_project, "--json")))
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["files"] == 15
    assert json.loads(info.stdout)["properties"] == [{"name": "mood", "type": "tag", "scope": "file"}]

    refused = run(read_only(folder, *cli("values", "add", closed_project, "mood", "tense", "--path", "retina.jpg")))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"Error: {closed_project} cannot be changed: its folder {folder} is read-only" in refused.stderr

    script = ("import imagier, sys\n"
              "p = imagier.open(sys.argv[1], create=False)\n"
              "retina = p.file('retina.jpg')['id']\n"
              "print(p.values([retina])[retina])\n"
              "try:\n    p.create_property('note', 'text')\n"
              "except imagier.ImagierError as e:\n    print(type(e).__name__, e.details['reason'])\n")
    python = run(read_only(folder, sys.executable, "-c", script, closed_project))
    assert python.returncode == 0, python.stderr
    assert python.stdout.splitlines() == ["{'mood': 'calm'}",
                                          f"Forbidden its folder {folder} is read-only (SQLite writes its "
                                          "journal next to the file)"]
    assert digest(closed_project) == before and sorted(p.name for p in folder.iterdir()) == ["corpus.imagier"]


def test_a_read_only_project_served_over_http_answers_reads_and_refuses_writes(closed_project):
    folder, before = closed_project.parent, digest(closed_project)
    server = subprocess.Popen(read_only(folder, *cli("serve", closed_project, "--port", "0")),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = re.search(r"at (http://\S+)", server.stdout.readline())[1]
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/api/info").json()["files"] == 15
            answer = client.post("/api/values/add", json={"property": "mood", "ids": [1], "tags": ["tense"]})
            assert answer.status_code == 403
            assert answer.json()["error"] == "Forbidden" and answer.json()["path"] == str(closed_project)
            assert "is read-only" in answer.json()["message"]
            assert client.post("/api/undo").status_code == 403
            assert client.get("/api/properties/mood/tags").status_code == 200
    finally:
        server.terminate()
        server.wait(15)
    assert digest(closed_project) == before


def test_a_read_only_project_file_refuses_writes_cleanly(closed_project, tmp_path):
    before = digest(closed_project)
    csv_file = tmp_path / "values.csv"
    csv_file.write_text("path,mood[tag]\nretina.jpg,tense\n")
    info = run(read_only(closed_project, *cli("info", closed_project, "--json")))
    assert info.returncode == 0 and json.loads(info.stdout)["files"] == 15, info.stderr
    for args in (("values", "add", closed_project, "mood", "tense", "--path", "retina.jpg"),
                 ("import-csv", closed_project, csv_file), ("undo", closed_project)):
        refused = run(read_only(closed_project, *cli(*args)))
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert f"Error: {closed_project} cannot be changed: the file is read-only; nothing was written" \
               in refused.stderr
    assert digest(closed_project) == before
    with imagier.open(closed_project) as project:  # where it may be written, it is a project as before
        retina = project.file("retina.jpg")["id"]
        assert project.values([retina])[retina] == {"mood": "calm"}
