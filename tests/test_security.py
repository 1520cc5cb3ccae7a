"""Security of the server (issue 9): what one request, another site's page or a path from the page can do.

Every test talks HTTP to a real server on loopback (tests/live.py). The allowed roots are made known by
pointing HOME at a folder of the test's own, so that "outside the roots" means the same on any machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

import imagier
from conftest import sample_pixels
from imagier.errors import InvalidInput
from imagier.server.app import create_app
from imagier.store.compiler import MAX_FILTER_DEPTH
from live import LiveServer, finished_job

# Python's re backtracks on this for minutes over a name of a dozen letters; RE2 answers at once.
EVIL = {"property": "name", "op": "matches", "value": "^(([a-z/._0-9]*)*)*X$"}
TOKEN = "a-token-long-enough-2026"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """HOME, one of the allowed roots, as a folder of this test."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


def write_photo(path: Path, sample: str = "coffee", quality: int = 85) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sample_pixels(sample)).save(path, "JPEG", quality=quality)
    return path


def served(project, **options):
    return LiveServer(create_app(project, **options))


def timed(call, *args, **kwargs) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = call(*args, **kwargs)
    return response, time.monotonic() - start


def nested(depth: int) -> str:
    """The JSON text of a filter of `depth` levels of "not" around one condition (written out: Python's
    json module cannot write one nested thousands deep)."""
    return '{"not": ' * depth + '{"property": "path", "op": "is_set"}' + "}" * depth


def query_body(filter_text: str) -> dict:
    return {"content": f'{{"filter": {filter_text}}}', "headers": {"content-type": "application/json"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- 1. one request must not hold the server -----------------------------------------------------------

@pytest.fixture
def evil_project(tmp_path, home):
    """A project of one photograph whose whole name the evil pattern's character class covers, so that a
    backtracking engine spends seconds on it (Python's re: about 5 s; a longer name takes minutes)."""
    write_photo(tmp_path / "photos" / "abcdefgh.jpg")
    with imagier.open(home / "evil.imagier") as project:
        project.import_folders([tmp_path / "photos"])
        yield project


def test_a_backtracking_regex_is_answered_at_once_and_holds_no_other_request(evil_project):
    with served(evil_project) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        assert client.get("/api/info").status_code == 200
        with ThreadPoolExecutor(2) as pool:
            query = pool.submit(timed, client.post, "/api/query", json={"filter": EVIL})
            export = pool.submit(timed, client.get, "/api/export.csv", params={"filter": json.dumps(EVIL)})
            time.sleep(0.05)  # both evil requests are in the server
            info, info_seconds = timed(client.get, "/api/info")
            assert info.status_code == 200 and info_seconds < 1.0, f"another request waited {info_seconds:.1f} s"
            (answer, query_seconds), (csv, export_seconds) = query.result(), export.result()
        assert answer.status_code == 200 and answer.json()["total"] == 0 and query_seconds < 2.0, query_seconds
        assert csv.status_code == 200 and csv.text.count("\n") == 1 and export_seconds < 2.0, export_seconds
        # RE2 still finds what a regex should
        found = client.post("/api/query", json={"filter": {"property": "name", "op": "matches",
                                                           "value": "^(([a-z/._0-9]*)*)*jpg$"}})
        assert found.json()["total"] == 1


@pytest.mark.parametrize("pattern, reason", [(r"(a)\1", "invalid escape sequence"),
                                             ("(?=abc)", "invalid perl operator"),
                                             ("(?<!x)abc", "invalid perl operator")])
def test_patterns_that_need_backtracking_are_refused(evil_project, pattern, reason):
    with served(evil_project) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        for response in (client.post("/api/query", json={"filter": {**EVIL, "value": pattern}}),
                         client.get("/api/export.csv", params={"filter": json.dumps({**EVIL, "value": pattern})})):
            assert response.status_code == 400, response.text
            message = response.json()["message"]
            assert "not a valid regular expression" in message and reason in message and "RE2" in message


def test_filters_nested_too_deeply_are_refused_before_compiling(evil_project):
    with served(evil_project) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.post("/api/query", **query_body(nested(MAX_FILTER_DEPTH))).json()["total"] == 1
        for depth in (MAX_FILTER_DEPTH + 1, 900):
            refused = client.post("/api/query", **query_body(nested(depth)))
            assert refused.status_code == 400 and f"more than {MAX_FILTER_DEPTH} levels" in refused.json()["message"]
        export = client.get("/api/export.csv", params={"filter": nested(900)})
        assert export.status_code == 400 and f"more than {MAX_FILTER_DEPTH} levels" in export.json()["message"]
        # deeper than the JSON parser goes: still a clear 400, never a 500
        too_deep = client.get("/api/export.csv", params={"filter": nested(1500)})
        assert too_deep.status_code == 400 and "nested too deeply" in too_deep.json()["message"]
        assert client.post("/api/query", **query_body(nested(5000))).status_code == 400
        # a list of conditions too long for SQLite is a 400 as well
        wide = {"and": [{"property": "path", "op": "contains", "value": str(i)} for i in range(2000)]}
        answer = client.post("/api/query", json={"filter": wide})
        assert answer.status_code == 400 and "too large" in answer.json()["message"]
    deep = {"property": "path", "op": "is_set"}
    for _ in range(5000):
        deep = {"and": [deep]}
    with pytest.raises(InvalidInput, match=f"more than {MAX_FILTER_DEPTH} levels"):
        evil_project.query(deep)  # the Python API: refused, not a RecursionError
    for depth, words in ((900, f"more than {MAX_FILTER_DEPTH} levels"), (5000, "nested too deeply")):
        done = subprocess.run([sys.executable, "-m", "imagier.cli", "query", str(evil_project.path), "--filter",
                               nested(depth)], capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and words in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_other_sites_pages_cannot_use_the_api(evil_project):
    content = evil_project.files(evil_project.query_ids())[0]["hash"]
    export = f"/api/export.csv?filter={json.dumps(EVIL)}"
    with served(evil_project) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        for site in ("cross-site", "same-site"):  # same-site: any other port of this machine
            for url in (export, f"/api/thumbnails/{content}.jpg", "/api/info"):
                refused = client.get(url, headers={"sec-fetch-site": site})
                assert refused.status_code == 403 and "other sites" in refused.json()["message"], url
        # the page's own requests, typed URLs and scripts are served; a link from elsewhere opens the page
        for headers in ({"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}, {}):
            assert client.get(export, headers=headers).status_code == 200
            assert client.get(f"/api/thumbnails/{content}.jpg", headers=headers).status_code == 200
        assert client.get("/", headers={"sec-fetch-site": "cross-site"}).status_code == 200


def test_no_get_route_changes_the_project(imported, state_of):
    """Every GET route of the schema, called with real arguments, leaves the project file as it was: a
    link or an <img> can never change a project."""
    imported.create_property("category", "tag")
    imported.set_values("category", imported.query_ids()[:2], "cat")
    file = imported.files(imported.query_ids()[:1])[0]
    arguments = {"file_id": file["id"], "content_hash": file["hash"], "name": "category", "tag": "cat",
                 "job_id": "none", "film_id": 1}
    before, version = state_of(imported), imported.data_version()
    with served(imported) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        paths = [path for path, methods in client.get("/openapi.json").json()["paths"].items() if "get" in methods]
        for path in paths:
            if path.endswith(("/changes", "/events")):
                continue  # endless event streams, which only read
            url = path.format(**arguments)
            answer = client.get(url, params={"ids": f"{file['id']}", "filter": json.dumps(EVIL)})
            assert answer.status_code < 500, (url, answer.text)
    assert len(paths) > 15 and state_of(imported) == before and imported.data_version() == version


# ---- 2. an access token must keep people out -------------------------------------------------------------

@pytest.mark.parametrize("token", ["", "   ", "short", "x" * 15])
def test_an_empty_or_short_token_is_refused_at_start(imported, token):
    with pytest.raises(InvalidInput, match="at least 16 characters"):
        create_app(imported, token=token)


def test_serve_refuses_an_empty_token_and_serves_nothing(tmp_path, home):
    port = free_port()
    path = tmp_path / "new.imagier"
    command = [sys.executable, "-m", "imagier.cli", "serve", str(path), "--port", str(port), "--token", ""]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            _, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode != 0 and "at least 16 characters" in stderr and "Traceback" not in stderr
    assert not path.exists()  # refused before the project file was created
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/info", headers={"authorization": "Bearer"})


def test_a_long_token_is_required_of_every_request(imported):
    with served(imported, token=TOKEN) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        for headers in ({}, {"authorization": "Bearer"}, {"authorization": "Basic " + TOKEN},
                        {"authorization": f"Bearer {TOKEN[:-1]}"}):
            assert client.get("/api/info", headers=headers).status_code == 401, headers
        assert client.get("/api/info", params={"token": ""}).status_code == 401
        assert client.get("/api/info", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


# ---- 3. links inside an imported folder ----------------------------------------------------------------

@pytest.fixture
def linked(tmp_path, home):
    """photos/ (an allowed root) holding a photograph, a link to another photograph inside it and a link
    to one in secret/, which is outside the roots; and a project in HOME, served with photos/ as a root."""
    photos, secret = tmp_path / "photos", tmp_path / "secret"
    write_photo(photos / "own.jpg", "coffee")
    write_photo(photos / "inside" / "kept.jpg", "chelsea")
    write_photo(secret / "hidden.jpg", "astronaut")
    os.symlink(photos / "inside" / "kept.jpg", photos / "inner-link.jpg")
    os.symlink(secret / "hidden.jpg", photos / "outer-link.jpg")
    with imagier.open(home / "links.imagier") as project:
        yield project, photos, secret


def test_an_import_from_the_page_skips_links_that_lead_out_of_the_roots(linked):
    project, photos, secret = linked
    with served(project, roots=[photos]) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        started = client.post("/api/imports", json={"folders": [str(photos)], "embed": False})
        assert started.status_code == 202, started.text
        report = finished_job(client, started.json()["job"])["result"]
        assert report["added"] == 3  # own.jpg, inside/kept.jpg and the link to it
        assert [f["path"] for f in report["failed"]] == [str(photos / "outer-link.jpg")]
        assert "outside the folders" in report["failed"][0]["error"]
        paths = {f["path"] for f in project.files(project.query_ids())}
        assert str(photos / "outer-link.jpg") not in paths and str(photos / "inner-link.jpg") in paths
        hidden = hashlib.sha256((secret / "hidden.jpg").read_bytes()).hexdigest()  # imagier's content hash
        assert client.get(f"/api/originals/{hidden}").status_code == 404  # never imported


def test_the_python_api_follows_links_and_the_page_still_cannot_read_their_targets(linked):
    project, photos, secret = linked
    report = project.import_folders([photos])  # the CLI and the Python API follow links by choice
    assert report["added"] == 4 and report["failed"] == []
    hidden = project.file(str(photos / "outer-link.jpg"))["hash"]
    with served(project, roots=[photos]) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        refused = client.get(f"/api/originals/{hidden}")
        assert refused.status_code == 403 and "outside the folders" in refused.json()["message"]
        assert secret.name not in refused.text.replace(str(secret / "hidden.jpg"), "")
        own = project.file(str(photos / "own.jpg"))["hash"]
        assert client.get(f"/api/originals/{own}").content == (photos / "own.jpg").read_bytes()


def test_a_file_that_became_a_link_out_of_the_roots_is_not_served(linked):
    project, photos, secret = linked
    with served(project, roots=[photos]) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        started = client.post("/api/imports", json={"folders": [str(photos)], "embed": False})
        finished_job(client, started.json()["job"])
        own = project.file(str(photos / "own.jpg"))["hash"]
        # the same size, other bytes: the project cannot tell it from the original it imported
        data = bytearray((photos / "own.jpg").read_bytes())
        data[-3] ^= 0xFF
        (secret / "swapped.jpg").write_bytes(bytes(data))
        (photos / "own.jpg").unlink()
        os.symlink(secret / "swapped.jpg", photos / "own.jpg")
        refused = client.get(f"/api/originals/{own}")
        assert refused.status_code == 403 and "outside the folders" in refused.json()["message"]


# ---- 4. probing the server's files ---------------------------------------------------------------------

@pytest.fixture
def embedded_here(imported, home, tmp_path):
    """The photographs imported and embedded with phash, served with tmp_path/inside as a root (tmp_path,
    the project's folder, is one too)."""
    imported.embed("phash")
    inside = tmp_path / "inside"
    write_photo(inside / "query.jpg", "chelsea")
    with served(imported, roots=[inside]) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        yield client, inside


def same_refusal(responses: list[httpx.Response], paths: list[str]) -> None:
    """Each is the same 403, up to the path it names: nothing tells whether the path exists."""
    assert all(r.status_code == 403 for r in responses), [r.text for r in responses]
    messages = {r.json()["message"].replace(path, "PATH") for r, path in zip(responses, paths)}
    assert len(messages) == 1 and "outside the folders" in messages.pop()


def test_similar_answers_the_same_for_any_outside_path(embedded_here, tmp_path_factory):
    client, inside = embedded_here
    elsewhere = tmp_path_factory.mktemp("elsewhere")  # beside the test's folder, outside the roots
    outside_photo = write_photo(elsewhere / "photo.jpg", "chelsea")
    paths = ["/etc/passwd", "/etc/no-such-file", str(outside_photo), str(elsewhere / "none.jpg")]
    same_refusal([client.post("/api/similar", json={"query": p, "vector_type": "phash"}) for p in paths], paths)
    # inside the roots an outside file is a query as before; ids given as text still name images
    found = client.post("/api/similar", json={"query": str(inside / "query.jpg"), "vector_type": "phash"})
    assert found.status_code == 200 and found.json()[0]["path"].endswith("chelsea.jpg")
    assert client.post("/api/similar", json={"query": "1", "vector_type": "phash"}).status_code == 200


def test_model_folders_from_the_page_must_lie_inside_the_roots(embedded_here, tmp_path_factory):
    client, inside = embedded_here
    paths = ["/etc", "/no/such/folder", str(tmp_path_factory.mktemp("elsewhere"))]
    same_refusal([client.post("/api/embed", json={"model": "clip-vit-b32", "model_path": p}) for p in paths], paths)
    plugin = [client.post("/api/plugins/imagier/clip/run", json={"params": {"model_path": p}}) for p in paths]
    same_refusal(plugin, paths)
    # inside the roots the model folder is looked at, and a missing one says so
    missing = str(inside / "no-model")
    answer = client.post("/api/embed", json={"model": "clip-vit-b32", "model_path": missing})
    assert answer.status_code == 404 and "no CLIP model folder" in answer.json()["message"]


# ---- 5. request bodies ---------------------------------------------------------------------------------

def chunks(total: int, line: bytes = b"/nowhere/image.jpg,x\n"):
    """A CSV body sent chunked (no Content-Length), so that only counting its bytes can stop it."""
    block = line * (65536 // len(line))
    yield b"path,note[text]\n"
    for _ in range(total // len(block) + 1):
        yield block


def test_bodies_over_the_limit_get_a_413_as_they_stream(imported):
    with served(imported, max_body_bytes=1 << 20) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        small = client.post("/api/import-csv", params={"dry_run": "true"}, content=b"path,note[text]\nx.jpg,y\n",
                            headers={"content-type": "text/csv"})
        assert small.status_code == 200 and small.json()["rows"] == 1
        for body in (chunks(3 << 20), b"".join(chunks(3 << 20))):  # streamed, then with its Content-Length
            refused = client.post("/api/import-csv", params={"dry_run": "true"}, content=body,
                                  headers={"content-type": "text/csv"})
            assert refused.status_code == 413, refused.text
            answer = refused.json()
            assert answer["error"] == "PayloadTooLarge" and answer["limit"] == 1 << 20
            assert "1 MB" in answer["message"] and "--max-body-mb" in answer["message"]
        assert client.get("/api/info").status_code == 200  # the server goes on


def test_json_routes_have_a_smaller_limit_than_a_csv_import(imported):
    with served(imported) as server, httpx.Client(base_url=server.url, timeout=120) as client:
        ids = b"[" + b"1," * (17 << 20) + b"1]"  # 34 MB of ids
        refused = client.post("/api/values", content=iter([ids]), headers={"content-type": "application/json"})
        assert refused.status_code == 413 and "32 MB" in refused.json()["message"]
        csv = client.post("/api/import-csv", params={"dry_run": "true"}, content=chunks(34 << 20),
                          headers={"content-type": "text/csv"})
        assert csv.status_code != 413, csv.text


def test_serve_takes_the_limit_from_the_command_line(imported_template, tmp_path, home):
    path = tmp_path / "served.imagier"
    shutil.copyfile(imported_template, path)
    port = free_port()
    command = [sys.executable, "-m", "imagier.cli", "serve", str(path), "--port", str(port), "--max-body-mb", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert f":{port}/" in proc.stdout.readline()
            url = f"http://127.0.0.1:{port}/api/import-csv?dry_run=true"
            refused = httpx.post(url, content=chunks(2 << 20), headers={"content-type": "text/csv"}, timeout=60)
            assert refused.status_code == 413 and "1 MB" in refused.json()["message"]
            taken = httpx.post(url, content=b"".join(chunks(1 << 19)), headers={"content-type": "text/csv"},
                               timeout=60)
            assert taken.status_code == 200, taken.text
        finally:
            proc.terminate()
            proc.wait(15)
