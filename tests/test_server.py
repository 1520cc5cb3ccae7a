"""The HTTP API, through a real uvicorn server on loopback, on real project files and photographs."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

import imagier
from imagier.jobs import JobRunner
from imagier.server.app import ROUTERS, create_app, is_loopback
from live import LiveServer


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """Send a request line exactly as written (httpx would tidy `..` and encodings away)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def write_noise_photos(folder: Path, count: int, size: int = 96) -> Path:
    """Distinct small JPEGs, enough for an import that takes a moment."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"n{i:04d}.jpg")
    return folder


def state_of(project) -> tuple:
    """Everything an annotation request could change."""
    ids = project.query_ids()
    props = project.properties()
    tags = {p["name"]: project.tags(p["name"]) for p in props if p["type"] in ("tag", "multi-tag")}
    return props, tags, project.values(ids), project.views(), [o["id"] for o in project.history(1000)]


@pytest.fixture(scope="module")
def live(imported_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("served") / "served.imagier"
    shutil.copyfile(imported_template, path)
    with imagier.open(path) as project:
        # Tests import folders from pytest's temporary tree.
        app = create_app(project, roots=[tmp_path_factory.getbasetemp()])

        @app.get("/api/test-failure", include_in_schema=False)
        def fail():  # stands for a bug anywhere in an operation
            raise RuntimeError("secret internal detail")

        with LiveServer(app) as server:
            server.project = project
            yield server


@pytest.fixture
def client(live):
    with httpx.Client(base_url=live.url, timeout=30) as c:
        yield c


@pytest.fixture
def project(live):
    return live.project


@pytest.fixture
def ids(project):
    return project.query_ids(sort=[{"property": "path"}])


def assert_error(response: httpx.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["message"], body
    for word in words:
        assert word in body["message"], body
    assert "Traceback" not in response.text
    return body


# ---- project, properties, tags, values ----------------------------------------------------------------

def test_info_matches_the_project(client, project):
    info = client.get("/api/info").json()
    assert info["files"] == project.file_count() > 10
    assert info["contents"] == info["files"] - 1  # one byte-identical copy


def test_property_lifecycle_with_undo_redo_and_history(client, project):
    created = client.post("/api/properties", json={"name": "rating", "type": "number"})
    assert created.status_code == 201 and created.json()["type"] == "number"
    assert client.get("/api/properties/rating").json()["scope"] == "file"
    assert client.patch("/api/properties/rating", json={"name": "stars"}).json()["name"] == "stars"
    assert [p["name"] for p in client.get("/api/properties").json() if not p["builtin"]].count("stars") == 1
    assert client.delete("/api/properties/stars").status_code == 204
    assert_error(client.get("/api/properties/stars"), 404, "stars")

    undone = client.post("/api/undo").json()
    assert "delete" in undone["label"]
    assert project.property("stars")["type"] == "number"
    assert client.post("/api/redo").json()["id"] == undone["id"]
    assert_error(client.get("/api/properties/stars"), 404)
    history = client.get("/api/history", params={"limit": 3}).json()
    assert [h["kind"] for h in history] == ["delete_property", "rename_property", "create_property"]


def test_tags_create_edit_merge_delete(client, project, ids):
    base = "/api/properties/subject/tags"
    assert client.post("/api/properties", json={"name": "subject", "type": "multi-tag"}).status_code == 201
    animal = client.post(base, json={"name": "animal", "colour": "#00ff00"}).json()
    cat = client.post(base, json={"name": "cat", "parents": ["animal"]}).json()
    assert cat["parents"] == [animal["id"]]
    assert client.get(f"{base}/cat").json() == cat
    client.post(base, json={"name": "kitten"})
    assert client.patch(f"{base}/kitten", json={"name": "kitty", "colour": "#123"}).json()["colour"] == "#112233"

    client.post("/api/values/add", json={"property": "subject", "ids": ids[:2], "tags": ["kitty"]})
    merged = client.post(f"{base}/merge", json={"sources": ["kitty"], "into": "cat"})
    assert merged.status_code == 200 and merged.json()["count"] == 2
    assert [t["name"] for t in client.get(base).json()] == ["animal", "cat"]
    assert client.delete(f"{base}/cat").status_code == 204
    assert [t["name"] for t in project.tags("subject")] == ["animal"]


def test_a_tag_whose_name_has_a_slash_is_reachable(client, project):
    base = "/api/properties/band/tags"
    client.post("/api/properties", json={"name": "band", "type": "tag"})
    created = client.post(base, json={"name": "AC/DC"}).json()
    assert client.get(f"{base}/AC%2FDC").json() == created
    assert client.patch(f"{base}/AC%2FDC", json={"colour": "#000000"}).json()["colour"] == "#000000"
    assert client.delete(f"{base}/AC%2FDC").status_code == 204
    assert project.tags("band") == []


def test_values_set_add_remove_by_ids_and_by_filter(client, project, ids):
    client.post("/api/properties", json={"name": "note", "type": "text"})
    client.post("/api/properties", json={"name": "kind", "type": "multi-tag"})
    assert client.post("/api/values/set", json={"property": "note", "ids": ids[:3], "value": "seen"}).json() == \
        {"changed": 3}
    jpegs = {"property": "format", "op": "eq", "value": "JPEG"}
    expected = set(project.query_ids(jpegs))
    assert client.post("/api/values/add", json={"property": "kind", "filter": jpegs, "tags": "photo"}).json() == \
        {"changed": len(expected)}
    assert {i for i, v in project.values(ids, ["kind"]).items() if v} == expected
    client.post("/api/values/add", json={"property": "kind", "ids": ids[:1], "tags": ["first"]})
    removed = client.post("/api/values/remove", json={"property": "kind", "ids": ids[:1], "tags": ["photo"]})
    assert removed.json() == {"changed": 1}
    assert project.values(ids[:1], ["kind"])[ids[0]]["kind"] == ["first"]
    # "filter": null is every image of the project
    everything = client.post("/api/values/set", json={"property": "note", "filter": None, "value": "all"})
    assert everything.json() == {"changed": len(ids)}

    window = client.get("/api/values", params={"ids": f"{ids[1]},{ids[0]},999999", "properties": "note"}).json()
    assert [item["id"] for item in window["items"]] == [ids[1], ids[0]]
    assert window["items"][0]["values"] == {"note": "all"}
    many = client.post("/api/values/set-many", json={"property": "note", "values": {str(ids[0]): "a", str(ids[1]): "b"}})
    assert many.json() == {"changed": 2}
    assert project.values(ids[:3], ["note"]) == {ids[0]: {"note": "a"}, ids[1]: {"note": "b"}, ids[2]: {"note": "all"}}
    posted = client.post("/api/values", json={"ids": ids[:2]}).json()["items"]
    assert posted[0]["values"]["note"] == "a" and posted[0]["hash"] == project.files([ids[0]])[0]["hash"]


def test_one_file_with_its_values_and_copies(client, project):
    copy = project.file("copies/astronaut-copy.jpg")
    body = client.get(f"/api/files/{copy['id']}").json()
    assert body["path"] == copy["path"] and body["width"] == copy["width"]
    assert body["same_content"] == [project.file("2019/astronaut.jpg")["id"]]
    assert_error(client.get("/api/files/999999"), 404, "999999")
    assert_error(client.get("/api/files/abc"), 422, "file_id")


# ---- bad input: a 4xx with a message, and the project unchanged -------------------------------------

BAD_REQUESTS = [
    ("post", "/api/values/set", {"json": {"property": "no such", "ids": [1], "value": 1}}, 404, "no such"),
    ("post", "/api/values/set", {"json": {"property": "score", "ids": [1], "value": "many"}}, 400, "not a number"),
    ("post", "/api/values/set", {"json": {"property": "score", "ids": [999999], "value": 3}}, 404, "999999"),
    ("post", "/api/values/set", {"json": {"property": "score", "value": 3}}, 400, "either"),
    ("post", "/api/values/set", {"json": {"property": "score", "ids": [1], "filter": None, "value": 3}}, 400, "both"),
    ("post", "/api/values/set", {"json": {"property": "score", "ids": ["x"], "value": 3}}, 422, "ids.0"),
    ("post", "/api/values/set", {"json": {"property": "score", "ids": [1], "valeu": 3}}, 422, "valeu"),
    ("post", "/api/values/set", {"content": b"{not json", "headers": {"content-type": "application/json"}},
     422, "JSON"),
    ("post", "/api/values/set-many", {"json": {"property": "score", "values": {"1": 2, "2": "many"}}}, 400, "many"),
    ("post", "/api/values/set-many", {"json": {"property": "score", "values": {"one": 2}}}, 422, "values"),
    ("post", "/api/values/add", {"json": {"property": "score", "ids": [1], "tags": "x"}}, 400, "not a tag property"),
    ("post", "/api/values/set", {"json": {"property": "score", "value": 3,
                                          "filter": {"property": "nope", "op": "eq", "value": 1}}}, 404, "nope"),
    ("post", "/api/query", {"json": {"filter": {"property": "nope", "op": "eq", "value": 1}}}, 404, "nope"),
    ("post", "/api/query", {"json": {"filter": {"property": "width", "op": "bigger", "value": 1}}}, 400, "bigger"),
    ("post", "/api/query", {"json": {"filter": [1, 2]}}, 400, "filter"),
    ("post", "/api/query", {"json": {"limit": -1}}, 422, "limit"),
    ("post", "/api/properties", {"json": {"name": "score", "type": "number"}}, 409, "already exists"),
    ("post", "/api/properties", {"json": {"name": "x", "type": "vector"}}, 400, "unknown property type"),
    ("post", "/api/properties", {"json": {"name": "width", "type": "number"}}, 400, "built-in"),
    ("patch", "/api/properties/theme/tags/war", {"json": {"parents": ["soldier"]}}, 409, "cycle"),
    ("patch", "/api/properties/theme/tags/war", {"json": {"parents": ["war"]}}, 409, "cycle"),
    ("post", "/api/properties/theme/tags", {"json": {"name": "a,b"}}, 400, "comma"),
    ("post", "/api/properties/theme/tags/merge", {"json": {"sources": ["war"], "into": "peace"}}, 404, "peace"),
    ("delete", "/api/properties/theme/tags/peace", {}, 404, "peace"),
    ("post", "/api/views", {"json": {"name": "v", "state": {"sort": [{"property": "nope"}]}}}, 404, "nope"),
    ("put", "/api/views/999", {"json": {"name": "v", "state": {}}}, 404, "999"),
    ("delete", "/api/views/999", {}, 404, "999"),
    ("put", f"/api/views/{2 ** 64}", {"json": {"name": "v", "state": {}}}, 404, str(2 ** 64)),
    ("delete", f"/api/views/{2 ** 64}", {}, 404, str(2 ** 64)),
    ("get", "/api/values", {"params": {"ids": "1,two"}}, 400, "integers"),
    ("get", "/api/export.csv", {"params": {"filter": "{oops"}}, 400, "filter"),
    ("get", "/api/export.csv", {"params": {"key": "name"}}, 400, "key"),
    ("post", "/api/import-csv", {"content": b"", "headers": {"content-type": "text/csv"}}, 400, "empty"),
    ("post", "/api/import-csv", {"content": b"this;is|not,a csv\n1", "headers": {"content-type": "text/csv"}},
     400, "header"),
    ("post", "/api/import-csv", {"json": {"csv": "path\n"}}, 422, "text"),
    ("post", "/api/import-csv", {"content": b"[1]", "headers": {"content-type": "application/json"}}, 422, ""),
    ("post", "/api/imports", {"json": {"folders": ["/etc"]}}, 403, "outside the folders this server may show"),
    ("post", "/api/imports", {"json": {"folders": ["~/no/such/folder"]}}, 400, "no such folder"),
    ("post", "/api/imports", {"json": {"folders": []}}, 422, "folders"),
    ("get", "/api/jobs/nope", {}, 404, "nope"),
    ("get", "/api/jobs/nope/events", {}, 404, "nope"),
    ("post", "/api/jobs/nope/cancel", {}, 404, "nope"),
    ("get", "/api/nowhere", {}, 404, "route"),
    ("delete", "/api/info", {}, 405, ""),
    ("post", "/api/undo", {"headers": {"origin": "http://evil.example"}}, 403, "evil.example"),
    ("post", "/api/views", {"headers": {"origin": "null"}, "json": {"name": "x", "state": {}}}, 403, "null"),
]


@pytest.fixture(scope="module")
def annotated(live):
    """A number property and a tag hierarchy war > soldier, for the bad requests to stumble on."""
    project = live.project
    project.create_property("score", "number")
    project.create_property("theme", "tag")
    project.create_tag("theme", "war")
    project.create_tag("theme", "soldier", parents=["war"])


@pytest.mark.parametrize("method, url, kwargs, status, words", BAD_REQUESTS,
                         ids=[f"{m} {u} {s}" for m, u, _, s, _ in BAD_REQUESTS])
def test_bad_requests_get_a_4xx_with_a_message_and_change_nothing(annotated, client, project, method, url,
                                                                   kwargs, status, words):
    before = state_of(project)
    assert_error(client.request(method.upper(), url, **kwargs), status, words)
    assert state_of(project) == before


def test_huge_ids_are_refused_cleanly(annotated, client, project):
    before = state_of(project)
    response = client.post("/api/values/set", json={"property": "score", "ids": [2 ** 70], "value": 1})
    assert 400 <= response.status_code < 500 and response.json()["message"]
    assert state_of(project) == before


def test_an_unexpected_failure_is_a_json_500_without_details(client):
    response = client.get("/api/test-failure")
    assert response.status_code == 500
    assert response.json()["error"] == "InternalError"
    assert "secret internal detail" not in response.text and "Traceback" not in response.text


# ---- query and views ------------------------------------------------------------------------------------

def test_query_orders_groups_and_pages(client, project):
    view = {"filter": {"property": "format", "op": "eq", "value": "JPEG"},
            "sort": [{"property": "taken", "desc": True}], "group": [{"property": "taken", "by": "year"}]}
    expected = project.query(**view)
    body = client.post("/api/query", json={**view, "limit": 2, "offset": 1}).json()
    assert body["total"] == expected["total"] > 2
    assert body["ids"] == expected["ids"][1:3]
    assert body["groups"] == expected["groups"] and sum(g["count"] for g in body["groups"]) == body["total"]


def test_saved_views_crud(client):
    state = {"filter": {"property": "width", "op": "gt", "value": 100}, "sort": [{"property": "name"}]}
    created = client.post("/api/views", json={"name": "wide", "state": state})
    assert created.status_code == 201 and created.json()["state"] == state
    view_id = created.json()["id"]
    assert client.put(f"/api/views/{view_id}", json={"name": "wider", "state": {}}).json()["name"] == "wider"
    assert [v["name"] for v in client.get("/api/views").json()] == ["wider"]
    assert client.delete(f"/api/views/{view_id}").status_code == 204
    assert client.get("/api/views").json() == []


# ---- thumbnails and originals ---------------------------------------------------------------------------

def test_thumbnails_are_cached_by_content_hash(client, project, ids):
    file = project.files(ids[:1])[0]
    response = client.get(f"/api/thumbnails/{file['hash']}.jpg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.content == project.thumbnail(file["hash"])
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["etag"] == f'"{file["hash"]}"'
    again = client.get(f"/api/thumbnails/{file['hash']}.jpg", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = client.get(f"/api/thumbnails/{file['hash']}.jpg", headers={"if-none-match": '"something-else"'})
    assert other.status_code == 200
    assert_error(client.get(f"/api/thumbnails/{'0' * 64}.jpg"), 404)


def test_originals_from_disk(client, project, photo_dir):
    file = project.file("formats/camera.png")
    response = client.get(f"/api/originals/{file['hash']}")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content == (photo_dir / "formats/camera.png").read_bytes()
    assert response.headers["etag"] == f'"{file["hash"]}"' and "immutable" in response.headers["cache-control"]
    cached = client.get(f"/api/originals/{file['hash']}", headers={"if-none-match": f'W/"{file["hash"]}"'})
    assert cached.status_code == 304


TRAVERSALS = [
    "/api/originals/../../../../etc/passwd",
    "/api/originals/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/originals/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/originals/%252e%252e%252fetc%252fpasswd",
    "/api/originals/....//....//etc/passwd",
    "/api/originals/%2Fetc%2Fpasswd",
    "/api/originals/..%5c..%5cetc%5cpasswd",
    "/api/thumbnails/..%2F..%2F..%2Fetc%2Fpasswd.jpg",
    "/api/thumbnails/../../../etc/passwd.jpg",
    "/api/originals/{photo}",
    "/api/originals/{photo_encoded}",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_no_path_traversal(live, photo_dir, target):
    photo = str(photo_dir / "2019/coffee.jpg")
    target = target.format(photo=photo, photo_encoded=photo.replace("/", "%2F"))
    status, body = raw_get(live.port, target)
    assert 400 <= status < 500
    assert b"root:" not in body and b"JFIF" not in body and not body.startswith(b"\xff\xd8")


# ---- CSV ------------------------------------------------------------------------------------------------

def test_csv_export_of_a_view(client, project):
    response = client.get("/api/export.csv", params={
        "filter": json.dumps({"property": "format", "op": "eq", "value": "PNG"}), "sort": '[{"property": "path"}]'})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = response.text.splitlines()
    assert lines[0].startswith("path") and len(lines) == 2 and lines[1].startswith(str(project.file("camera.png")["path"]))
    assert len(client.get("/api/export.csv").text.splitlines()) == project.file_count() + 1
    project.create_property("caption", "text")
    chosen = client.get("/api/export.csv", params={"key": "id", "properties": "caption", "separator": ";"})
    assert chosen.text.splitlines()[0] == "id;caption[text]"


def test_csv_import_dry_run_then_for_real_then_undo(client, project):
    coffee = project.file("2019/coffee.jpg")
    text = f"path;mood[text];year[number]\n{coffee['path']};calm;2019\n"
    dry = client.post("/api/import-csv", params={"dry_run": "true"}, content=text.encode(),
                      headers={"content-type": "text/csv"})
    assert dry.status_code == 200 and dry.json()["matched"] == 1 and dry.json()["dry_run"] is True
    assert sorted(dry.json()["created_properties"]) == ["mood", "year"]
    assert_error(client.get("/api/properties/mood"), 404)

    assert client.post("/api/import-csv", json={"text": text, "dry_run": True}).json()["dry_run"] is True
    assert_error(client.get("/api/properties/mood"), 404)
    done = client.post("/api/import-csv", json={"text": text})
    assert done.status_code == 200 and done.json()["rows"] == 1
    assert project.values([coffee["id"]], ["mood", "year"])[coffee["id"]] == {"mood": "calm", "year": 2019}
    client.post("/api/undo")
    assert_error(client.get("/api/properties/mood"), 404)


def test_csv_import_with_unknown_paths_and_bad_cells_changes_nothing(annotated, client, project):
    before = state_of(project)
    text = "path,score[number]\n/nowhere/x.jpg,3\ncoffee.jpg,lots\n"
    response = client.post("/api/import-csv", content=text.encode(), headers={"content-type": "text/csv"})
    body = assert_error(response, 400, "match no image")
    assert body["unmatched"] == 1
    assert state_of(project) == before


def test_csv_text_that_looks_like_a_path_is_never_read_from_disk(client, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("path,x[text]\n/a.jpg,TOP-SECRET\n")
    response = client.post("/api/import-csv", json={"text": str(secret), "dry_run": True})
    assert 400 <= response.status_code < 500 and "TOP-SECRET" not in response.text


# ---- imports as background jobs ---------------------------------------------------------------------------

def read_events(client, job_id: str) -> list[dict]:
    events = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: "):]))
    return events


def test_an_import_with_an_unknown_model_is_refused_before_any_job(client, project, photo_dir):
    before = client.get("/api/jobs").json()
    refused = client.post("/api/imports", json={"folders": [str(photo_dir)], "model": "ghost"})
    assert refused.status_code == 400 and "unknown model 'ghost'" in refused.json()["message"]
    assert client.get("/api/jobs").json() == before


def test_import_job_streams_progress_to_its_result(client, project, photo_dir, tmp_path):
    # Enough work that the import is still running when the client has read the job id and connected.
    folder = write_noise_photos(tmp_path / "noise", 200, size=320)
    shutil.copy(photo_dir / "2021/camera.jpg", folder / "camera-again.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    before = project.file_count()
    # Without the embedding phase, whose events (totals of contents to embed) would follow the import's.
    started = client.post("/api/imports", json={"folders": [str(folder)], "store_originals": True, "embed": False})
    assert started.status_code == 202
    job_id = started.json()["job"]

    events = read_events(client, job_id)
    assert events and all(e["id"] == job_id for e in events)
    assert [e["seq"] for e in events] == sorted(set(e["seq"] for e in events))
    assert all(e["state"] == "running" for e in events[:-1])
    assert any(e["progress"].get("total") == 202 for e in events[:-1])
    final = events[-1]
    assert final["state"] == "done", final
    assert final["result"]["added"] == 201 and final["result"]["total"] == before + 201
    assert [f["path"] for f in final["result"]["failed"]] == [str(folder / "broken.jpg")]
    assert client.get(f"/api/jobs/{job_id}").json()["state"] == "done"
    assert job_id in [j["id"] for j in client.get("/api/jobs").json()]
    assert read_events(client, job_id)[-1]["result"] == final["result"]  # an ended job replays its end

    # Stored originals are served from the project, even once the file is gone from disk.
    again = project.file(str(folder / "camera-again.jpg"))
    data = (folder / "camera-again.jpg").read_bytes()
    shutil.rmtree(folder)
    response = client.get(f"/api/originals/{again['hash']}")
    assert response.status_code == 200 and response.content == data
    assert client.get(f"/api/originals/{project.file('n0001.jpg')['hash']}").status_code == 200


def test_cancelling_an_import_job(client, project, tmp_path):
    folder = write_noise_photos(tmp_path / "many", 600, size=160)
    job_id = client.post("/api/imports", json={"folders": [str(folder)], "workers": 1, "embed": False}).json()["job"]
    assert_error(client.post("/api/imports", json={"folders": [str(folder)]}), 409, "already running")
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 202
    final = read_events(client, job_id)[-1]
    assert final["state"] == "cancelled" and final["result"]["added"] < 600
    assert client.get(f"/api/jobs/{job_id}").json()["state"] == "cancelled"
    assert client.get("/api/imports/pending").json() == []

    resumed = client.post(f"/api/imports/{final['result']['job']}/resume")
    assert resumed.status_code == 202
    rest = read_events(client, resumed.json()["job"])[-1]
    assert rest["state"] == "done" and rest["result"]["added"] == 600 - final["result"]["added"]
    assert_error(client.post("/api/imports/99999/resume"), 404, "99999")


def test_job_runner_without_http():
    runner = JobRunner()
    seen = []
    release = threading.Event()

    def work(progress, cancel):
        for i in range(3):
            progress({"done": i})
        release.wait(5)
        if cancel.is_set():
            return "stopped"
        raise ValueError("disk full")

    job = runner.start("work", work)
    job.subscribe(lambda: seen.append(job.snapshot()["seq"]))
    release.set()
    assert job.wait(5) and job.snapshot()["state"] == "failed"
    assert job.snapshot()["error"] == {"error": "ValueError", "message": "disk full"}
    assert seen and seen[-1] == job.snapshot()["seq"]

    release.clear()
    second = runner.start("work", work)
    runner.cancel(second.id)
    release.set()
    assert second.wait(5) and second.snapshot()["state"] == "cancelled" and second.snapshot()["result"] == "stopped"
    assert [j.id for j in runner.jobs()] == [second.id, job.id]


# ---- access --------------------------------------------------------------------------------------------------

def test_a_token_is_needed_when_configured(imported):
    with LiveServer(create_app(imported, token="s3cret-token-of-ours")) as server, \
            httpx.Client(base_url=server.url) as client:
        assert_error(client.get("/api/info"), 401, "token")
        assert client.get("/api/info").headers["www-authenticate"] == "Bearer"
        assert_error(client.get("/api/info", headers={"authorization": "Bearer wrong"}), 401)
        assert client.get("/api/info", headers={"authorization": "Bearer s3cret-token-of-ours"}).status_code == 200
        file = imported.files(imported.query_ids()[:1])[0]
        assert client.get(f"/api/thumbnails/{file['hash']}.jpg").status_code == 401
        first = client.get(f"/api/thumbnails/{file['hash']}.jpg", params={"token": "s3cret-token-of-ours"})
        assert first.status_code == 200 and "imagier_token" in client.cookies
        assert client.get("/api/info").status_code == 200  # the cookie from the first visit
        assert client.get("/openapi.json").status_code == 200
        client.cookies.clear()
        assert client.get("/openapi.json").status_code == 401


def test_without_a_token_only_loopback_names_are_answered(client, live):
    assert client.get("/api/info", headers={"host": "localhost"}).status_code == 200
    assert_error(client.get("/api/info", headers={"host": "attacker.example:8765"}), 403, "token")
    assert_error(client.get("/api/info", headers={"host": "[::1"}), 403, "token")
    # the web UI's own requests carry its origin
    same_origin = client.post("/api/views", headers={"origin": live.url}, json={"name": "mine", "state": {}})
    assert same_origin.status_code == 201
    client.delete(f"/api/views/{same_origin.json()['id']}")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


def test_serve_prints_the_url_and_answers(imported_template, tmp_path):
    path = tmp_path / "served.imagier"
    shutil.copyfile(imported_template, path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"from imagier.server.serve import serve; serve({str(path)!r}, port={port}, token='tok-of-16-characters')"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/?token=tok-of-16-characters" in line
        response = httpx.get(f"http://127.0.0.1:{port}/api/info", params={"token": "tok-of-16-characters"})
        assert response.json()["files"] > 10
    finally:
        proc.terminate()
        proc.wait(15)


# ---- the schema -------------------------------------------------------------------------------------------

def test_openapi_lists_every_route_with_a_summary(client):
    schema = client.get("/openapi.json").json()
    routes = {(re.sub(r":\w+}", "}", route.path), method.lower()) for module in ROUTERS
              for route in module.router.routes for method in route.methods}
    documented = {(path, method) for path, methods in schema["paths"].items() for method in methods}
    assert routes == documented and len(routes) >= 28
    assert all(op.get("summary") for methods in schema["paths"].values() for op in methods.values())
    assert "ViewState" in schema["components"]["schemas"]


def test_the_data_version_moves_with_writes_from_any_connection(tmp_path):
    path = tmp_path / "watched.imagier"
    with imagier.open(path) as served, imagier.open(path) as elsewhere:
        first = served.data_version()
        assert served.data_version() == first  # reading changes nothing
        served.create_property("a", "text")
        second = served.data_version()
        elsewhere.create_property("b", "text")  # another connection, as another process would be
        assert len({first, second, served.data_version()}) == 3
        assert served.info()["version"] == served.data_version()
