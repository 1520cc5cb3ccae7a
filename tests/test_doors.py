"""The doors issue 11 added so that the CLI and the HTTP API reach the operations Python had alone:
calibration and explain_similarity, delete_vector_type, saved views. Each through the real `imagier`
command and a real server on loopback; each door gives what the Python operation gives."""

import json
import shutil
import subprocess
import sys

import httpx
import pytest
from live import LiveServer

import imagier
from imagier.server.app import create_app


def imagier_json(*args, ok=True) -> dict:
    done = subprocess.run([sys.executable, "-m", "imagier.cli", *map(str, args), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def project_file(embedded_template, tmp_path):
    """A project of this test's own, imported and embedded, as a file the command and the server open."""
    path = tmp_path / "doors.imagier"
    shutil.copyfile(embedded_template, path)
    return path


@pytest.fixture
def served(project_file):
    """(project, client): the project served on loopback, and an HTTP client of that server."""
    with imagier.open(project_file) as project, LiveServer(create_app(project)) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        yield project, client


def vector_type_names(path) -> list[str]:
    with imagier.open(path) as project:
        return [t["name"] for t in project.vector_types()]


# ---- calibration ---------------------------------------------------------------------------------------

def test_calibration_is_the_same_through_the_three_doors(project_file, served):
    project, client = served
    expected = project.calibration("phash")
    assert expected["pairs"] > 0 and expected["p50"] is not None
    assert imagier_json("calibration", project_file, "--vector-type", "phash") == expected
    assert client.get("/api/calibration", params={"vector_type": "phash"}).json() == expected
    text = subprocess.run([sys.executable, "-m", "imagier.cli", "calibration", str(project_file), "--vector-type",
                           "phash"], capture_output=True, text=True, timeout=120).stdout
    sampled = "every pair" if expected["all_pairs"] else "a random sample"
    assert text == (f"phash: {expected['pairs']} pairs ({sampled}); similarity mean {expected['mean']:.3f}, "
                    + ", ".join(f"{p} {expected[p]:.3f}" for p in ("p1", "p10", "p50", "p90", "p99", "p99.9")) + "\n")


def test_a_similarity_is_explained_through_the_three_doors(project_file, served):
    project, client = served
    median = project.calibration()["p50"]
    expected = project.explain_similarity(median)
    assert 0.3 < expected["score"] < 0.7 and "pairs of images in this project" in expected["explanation"]
    assert imagier_json("calibration", project_file, "--similarity", median) == expected
    assert client.get("/api/calibration/explain", params={"similarity": median}).json() == expected


def test_a_bad_similarity_or_vector_type_is_refused_by_both_doors(project_file, served):
    _, client = served
    refused = client.get("/api/calibration/explain", params={"similarity": 1.5})
    assert refused.status_code == 400 and "between -1 and 1" in refused.json()["message"]
    unknown = client.get("/api/calibration/explain", params={"similarity": 0.5, "vector_type": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["message"]
    assert "nope" in imagier_json("calibration", project_file, "--vector-type", "nope", ok=False)["message"]
    done = subprocess.run([sys.executable, "-m", "imagier.cli", "calibration", str(project_file), "--similarity", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "--similarity" in done.stderr


# ---- delete_vector_type --------------------------------------------------------------------------------

def test_the_cli_deletes_a_vector_type_and_keeps_the_others(project_file):
    before = vector_type_names(project_file)
    assert "phash" in before
    listed = imagier_json("vectors", project_file, "--delete", "phash")
    assert [t["name"] for t in listed["types"]] == [n for n in before if n != "phash"]
    assert vector_type_names(project_file) == [n for n in before if n != "phash"]


def test_the_cli_refuses_an_unknown_vector_type_and_changes_nothing(project_file):
    before = vector_type_names(project_file)
    error = imagier_json("vectors", project_file, "--delete", "nope", ok=False)
    assert error["error"] == "NotFound" and "nope" in error["message"]
    assert vector_type_names(project_file) == before


def test_the_server_deletes_a_vector_type(served):
    project, client = served
    assert client.delete("/api/vector-types/phash").status_code == 204
    assert "phash" not in [t["name"] for t in client.get("/api/vector-types").json()]
    assert "phash" not in [t["name"] for t in project.vector_types()]
    missing = client.delete("/api/vector-types/phash")
    assert missing.status_code == 404 and "phash" in missing.json()["message"]


# ---- saved views ---------------------------------------------------------------------------------------

def test_the_cli_saves_lists_replaces_and_deletes_views(project_file):
    saved = imagier_json("views", "save", project_file, "portrait", "--filter",
                         '{"property": "width", "op": "lt", "value": 600}', "--sort", '[{"property": "path"}]')
    assert saved["name"] == "portrait"
    assert saved["state"] == {"filter": {"property": "width", "op": "lt", "value": 600}, "sort": [{"property": "path"}]}
    replaced = imagier_json("views", "save", project_file, "narrow", "--replace", saved["id"],
                            "--group", '[{"property": "format"}]')
    assert replaced == {"id": saved["id"], "name": "narrow", "state": {"group": [{"property": "format"}]}}
    with imagier.open(project_file) as project:
        assert project.views() == imagier_json("views", "list", project_file) == [replaced]
    assert imagier_json("views", "delete", project_file, saved["id"]) == {"deleted": saved["id"]}
    assert imagier_json("views", "list", project_file) == []


def test_the_cli_refuses_a_bad_view_and_saves_nothing(project_file):
    error = imagier_json("views", "save", project_file, "bad", "--filter",
                         '{"property": "no such property", "op": "=", "value": 1}', ok=False)
    assert "no such property" in error["message"]
    missing = imagier_json("views", "delete", project_file, 999, ok=False)
    assert missing["error"] == "NotFound" and "999" in missing["message"]
    assert imagier_json("views", "list", project_file) == []
