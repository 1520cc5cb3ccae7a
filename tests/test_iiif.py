"""Importing IIIF manifests (issue 13, item 3), against a real IIIF server on loopback (tests/iiifserver.py)
serving real photographs: versions 2 and 3, a collection, the sizes asked and received, labels and metadata
in the user's language, re-imports, retries, failures reported, bad manifests refused, cancel and resume,
and the three doors."""

from __future__ import annotations

import email.utils
import hashlib
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

import imagier
from imagier.errors import InvalidInput, NotFound
from imagier.ingest.iiif_fetch import Fetcher, FetchError, retry_after
from imagier.jobs import JobRunner
from conftest import load_benchmark
from iiifserver import IiifServer, collection_v3, manifest_v2, manifest_v3, photograph
from live import LiveServer, eventually, finished_job

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field", "fossa", "wine")


@pytest.fixture(scope="module")
def pictures():
    return {name: photograph(name) for name in PHOTOS}


@pytest.fixture
def iiif(pictures):
    with IiifServer(dict(pictures), levels={"coffee": 0}) as server:
        yield server


def _letters(server):
    """A version 3 manifest whose texts come in several languages, with a large photograph among small ones."""
    return manifest_v3(
        server, "letters", ["astronaut", "fossa", "chelsea"],
        label={"en": ["Letters"], "fr": ["Lettres"]},
        metadata=[{"label": {"de": ["Datum"], "it": ["Data"]}, "value": {"none": ["1871"]}},
                  {"label": {"en": ["Place"], "fr": ["Lieu"]}, "value": {"en": ["Paris"], "fr": ["Paris (ville)"]}},
                  {"label": {"en": ["Format"]}, "value": {"en": ["<p>Letter, <b>ink</b> &amp; paper</p>"]}}],
        required_statement={"label": {"en": ["Attribution"]}, "value": {"fr": ["Bibliothèque nationale de France"]}},
        rights="http://creativecommons.org/publicdomain/mark/1.0/",
        homepage=[{"id": "https://example.org/letters", "type": "Text", "format": "text/html"}],
        labels={1: {"fr": ["f. 1r"], "en": ["fol. 1 recto"]}})


def _album(server):
    """A version 2.1 manifest."""
    return manifest_v2(server, "album", ["rocket", "motorcycle_left"], label="Album",
                       metadata=[{"label": "Creator", "value": [{"@value": "Unknown", "@language": "en"},
                                                                {"@value": "Inconnu", "@language": "fr"}]}],
                       attribution="Musée de test", license="https://creativecommons.org/licenses/by/4.0/",
                       related="https://example.org/album")


def _images(project) -> dict[str, dict]:
    """The project's images by path (their canvas's id), with their values."""
    files = project.files(project.query_ids(None))
    values = project.values([f["id"] for f in files])
    return {f["path"]: {**f, "values": values[f["id"]]} for f in files}


def test_a_collection_of_v2_and_v3_manifests_imports_every_image_with_its_metadata(project, iiif):
    letters, album = _letters(iiif), _album(iiif)
    collection = collection_v3(iiif, "all", [letters, album], "All of it")
    events: list[dict] = []
    report = project.import_iiif([collection["id"]], language="fr", embed=False, progress=events.append)
    assert (report["added"], report["skipped"], report["failed"], report["manifests"], report["total"]) == \
        (5, 0, [], 2, 5)
    assert not iiif.times("info.json")  # the manifests say the services' level and the pictures' sizes
    reading = [e for e in events if e["phase"] == "reading manifests"]
    assert reading and reading[0]["total"] == 3 and reading[0]["done"] == 1  # the collection read, its 2 members known
    assert events[-1] == {**events[-1], "phase": "fetching images", "done": 5, "total": 5, "added": 5}
    images = _images(project)
    first = images[letters["items"][0]["id"]]
    assert first["name"] == "f. 1r"  # the canvas's label, in the user's language
    assert first["folder"] == letters["id"]
    assert first["values"]["manifest"] == "Lettres"
    assert first["values"]["Datum"] == "1871"  # neither French nor "none": the first language
    assert first["values"]["Lieu"] == "Paris (ville)"
    assert first["values"]["Format (IIIF)"] == "Letter, ink & paper"  # a built-in's name; the HTML reduced to text
    assert first["values"]["attribution"] == "Bibliothèque nationale de France"
    assert first["values"]["licence"] == "http://creativecommons.org/publicdomain/mark/1.0/"
    assert images[letters["items"][2]["id"]]["name"] == "f. 3"  # only "none": taken
    rocket = images[album["sequences"][0]["canvases"][0]["@id"]]
    assert (rocket["name"], rocket["folder"]) == ("p. 1", album["@id"])
    assert rocket["values"]["Creator"] == "Inconnu"
    assert (rocket["values"]["attribution"], rocket["values"]["licence"]) == \
        ("Musée de test", "https://creativecommons.org/licenses/by/4.0/")
    assert project.iiif_source(first["id"]) == {
        "manifest": letters["id"], "canvas": first["path"], "homepage": "https://example.org/letters",
        "image": f"{iiif.service('astronaut')}/full/max/0/default.jpg"}
    assert project.iiif_source(rocket["id"])["homepage"] == "https://example.org/album"
    # The manifests' folders sit in the collection's.
    assert project.file(first["path"])["id"] == first["id"]
    # The bytes are in the project: the original is there with the server gone.
    data, path, _ = project.images.original(first["hash"])
    assert path is None and hashlib.sha256(data).hexdigest() == first["hash"]


def test_the_size_asked_is_the_size_received(project, iiif):
    letters = _letters(iiif)
    manifest_v2(iiif, "portrait", ["wine", "hubble_deep_field"], label="Portrait")
    manifest_v3(iiif, "level0", ["coffee"], label={"none": ["Level 0"]})
    project.import_iiif([letters["id"]], embed=False)  # the default: about 1,600 pixels on the long side
    images = _images(project)
    fossa = images[letters["items"][1]["id"]]
    assert iiif.image_requests("fossa") == ["/iiif/3/fossa/full/1600,/0/default.jpg"]
    assert (fossa["width"], fossa["height"]) == (1600, 900)
    # An image smaller than the size asked is fetched whole, never enlarged.
    assert iiif.image_requests("astronaut") == ["/iiif/3/astronaut/full/max/0/default.jpg"]
    assert (images[letters["items"][0]["id"]]["width"], images[letters["items"][0]["id"]]["height"]) == (512, 512)

    report = project.import_iiif([f"{iiif.url}/manifests/portrait.json", f"{iiif.url}/manifests/level0.json"],
                                 size=300, embed=False)
    assert report["added"] == 3 and report["failed"] == []
    images = _images(project)
    assert iiif.image_requests("wine") == ["/iiif/2/wine/full/200,/0/default.jpg"]  # portrait: 300 high
    assert {(f["width"], f["height"]) for f in images.values() if f["folder"].endswith("portrait.json")} == \
        {(200, 300), (300, 262)}
    # A level 0 service serves only the sizes it lists: the smallest at least as large as asked. (Its
    # manifest calls it level 1, so the width asked first is refused and its info.json read.)
    assert iiif.image_requests("coffee") == ["/iiif/3/coffee/full/300,200/0/default.jpg"]
    assert iiif.image_requests("coffee", status=400) == ["/iiif/3/coffee/full/300,/0/default.jpg"]
    assert len(iiif.times("/coffee/info.json")) == 1

    manifest_v3(iiif, "whole", ["wine"], label={"none": ["Whole"]})
    project.import_iiif([f"{iiif.url}/manifests/whole.json"], size="max", embed=False)
    assert iiif.image_requests("wine")[-1] == "/iiif/3/wine/full/max/0/default.jpg"
    assert max(f["height"] for f in _images(project).values()) == 3837


def test_a_level_0_version_2_service_a_plain_image_and_a_collection_listing_itself(project, iiif):
    level0 = manifest_v2(iiif, "level0", ["coffee"], label="Level 0")
    del level0["sequences"][0]["canvases"][0]["images"][0]["resource"]["service"]["profile"]  # level unsaid
    plain = manifest_v3(iiif, "plain", ["chelsea"], label={"none": ["Plain"]})
    del plain["items"][0]["items"][0]["items"][0]["body"]["service"]  # the picture's own URL only
    looping = collection_v3(iiif, "loop", [level0, plain], "Loop")
    looping["items"].append({"id": looping["id"], "type": "Collection", "label": {"none": ["itself"]}})
    report = project.import_iiif([looping["id"]], size=300, embed=False)
    assert (report["added"], report["failed"], report["manifests"]) == (2, [], 2)
    assert iiif.image_requests("coffee", status=None) == ["/iiif/2/coffee/full/300,/0/default.jpg"]  # listed, as w,
    assert len(iiif.times("/coffee/info.json")) == 1  # read first: the manifest does not say the level
    assert iiif.image_requests("chelsea") == ["/iiif/3/chelsea/full/max/0/default.jpg"]  # as it is
    assert {(f["width"], f["height"]) for f in _images(project).values()} == {(300, 200), (451, 300)}


def test_a_server_too_slow_is_given_up_after_the_timeout_and_its_tries(iiif):
    iiif.delay = 2.0
    url = f"{iiif.service('rocket')}/full/max/0/default.jpg"
    started = time.monotonic()
    with Fetcher(1, timeout=0.5, attempts=2, backoff=0.1) as fetcher, pytest.raises(FetchError) as failed:
        fetcher.get(url)
    assert "ReadTimeout" in str(failed.value) and "after 2 tries" in str(failed.value)
    assert time.monotonic() - started < 1.9
    eventually(lambda: len(iiif.times("/rocket/full/")) == 2)  # logged as the server answers, late


def test_retry_after_as_seconds_or_as_a_date():
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert retry_after("7") == 7.0
    assert 25 <= retry_after(email.utils.format_datetime(later, usegmt=True)) <= 30
    assert retry_after("soon") is None and retry_after(None) is None


def test_importing_again_adds_nothing_and_fetches_nothing(project, iiif):
    letters, album = _letters(iiif), _album(iiif)
    sources = [letters["id"], album["@id"]]
    assert project.import_iiif(sources, embed=False)["added"] == 5
    before = len(iiif.log)
    again = project.import_iiif(sources, embed=False)
    assert (again["added"], again["skipped"], again["failed"], again["total"]) == (0, 5, [], 5)
    assert [path for _, path, _ in iiif.log[before:]] == ["/manifests/letters.json", "/manifests/album.json"]


def test_a_500_and_a_429_are_tried_again_after_the_wait_asked(project, iiif):
    album = _album(iiif)
    iiif.fail("/iiif/2/rocket/full/", (500, {}))
    iiif.fail("/iiif/2/motorcycle_left/full/", (429, {"Retry-After": "1"}))
    report = project.import_iiif([album["@id"]], embed=False)
    assert (report["added"], report["failed"]) == (2, [])
    assert [status for _, path, status in iiif.log if "/rocket/full/" in path] == [500, 200]
    first, second = iiif.times("/motorcycle_left/full/")
    assert second - first >= 1.0  # Retry-After honoured


def test_a_missing_image_is_reported_and_the_others_import(project, iiif):
    letters = _letters(iiif)
    iiif.missing.add("/iiif/3/chelsea/full/")
    report = project.import_iiif([letters["id"]], embed=False)
    assert report["added"] == 2
    [failed] = report["failed"]
    assert failed["canvas"] == letters["items"][2]["id"] and failed["manifest"] == letters["id"]
    assert "HTTP 404" in failed["error"] and "/iiif/3/chelsea/full/" in failed["error"]
    assert len(iiif.image_requests("chelsea", status=404)) == 1  # a 404 is not tried again
    assert letters["items"][2]["id"] not in _images(project)


@pytest.mark.parametrize("body, reason", [
    (b"<html><body>Not found</body></html>", "not JSON"),
    (json.dumps({"title": "a page", "pages": 3}).encode(), "not a IIIF manifest or collection"),
    (json.dumps({"@context": "http://iiif.io/api/image/2/context.json", "protocol": "http://iiif.io/api/image",
                 "width": 10, "height": 10}).encode(), "an Image API info.json, not a manifest"),
])
def test_a_source_that_is_not_a_iiif_manifest_is_refused_with_its_reason(project, iiif, body, reason):
    iiif.documents["/bad.json"] = body
    before = project.history(10)
    with pytest.raises(InvalidInput) as refused:
        project.import_iiif([f"{iiif.url}/bad.json"], embed=False)
    assert f"{iiif.url}/bad.json" in str(refused.value) and reason in str(refused.value)
    assert project.file_count() == 0 and not [p for p in project.properties() if not p["builtin"]]
    assert project.history(10) == before
    # Beside a good manifest, it is reported and the good one imports.
    letters = _letters(iiif)
    report = project.import_iiif([f"{iiif.url}/bad.json", letters["id"]], embed=False)
    assert report["added"] == 3
    assert [f["manifest"] for f in report["failed"]] == [f"{iiif.url}/bad.json"]
    assert reason in report["failed"][0]["error"]


def test_bad_arguments_are_refused_before_any_request(project, iiif, tmp_path):
    for sources, error, words in (([], InvalidInput, "at least one"), (["ftp://example.org/m.json"], InvalidInput,
                                                                        "only http and https"),
                                  ([str(tmp_path / "none.json")], NotFound, "no manifest file")):
        with pytest.raises(error, match=words):
            project.import_iiif(sources, embed=False)
    with pytest.raises(InvalidInput, match="size"):
        project.import_iiif([f"{iiif.url}/manifests/x.json"], size=0, embed=False)
    with pytest.raises(InvalidInput, match="language tag"):
        project.import_iiif([f"{iiif.url}/manifests/x.json"], language="fr; DROP", embed=False)
    assert iiif.log == []


def test_cancelled_then_resumed_fetches_each_image_once(project, iiif):
    names = ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field"]
    manifest = manifest_v2(iiif, "slow", names, label="Slow")
    iiif.levels.pop("coffee")
    iiif.delay = 0.3
    cancel = threading.Event()

    def stop_after_the_first(event):
        if event["phase"] == "fetching images" and event["done"] >= 1:
            cancel.set()
    first = project.import_iiif([manifest["@id"]], concurrency=1, embed=False, progress=stop_after_the_first,
                                cancel=cancel)
    assert first["state"] == "cancelled" and 1 <= first["added"] < len(names)
    assert project.file_count() == first["added"]
    resumed = project.import_iiif([manifest["@id"]], concurrency=1, embed=False)
    assert resumed["state"] == "done"
    assert (resumed["skipped"], resumed["added"], resumed["total"]) == (first["added"], len(names) - first["added"],
                                                                        len(names))
    for name in names:  # no image was fetched twice
        assert len(iiif.image_requests(name)) == 1, name


def test_an_interrupted_import_stops_at_once_the_requests_waiting_to_be_tried_again(project, iiif):
    album = _album(iiif)
    iiif.fail("/iiif/2/motorcycle_left/info.json", (503, {"Retry-After": "60"}))
    iiif.delay = 0.3

    def interrupt(event):  # Ctrl-C while the other image waits a minute to be asked again
        if event["phase"] == "fetching images" and event["done"] >= 1:
            raise KeyboardInterrupt
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        project.import_iiif([album["@id"]], concurrency=2, embed=False, progress=interrupt)
    assert time.monotonic() - started < 10
    assert project.import_iiif([album["@id"]], embed=False)["added"] == 2


def test_a_job_cancelled_is_resumed_by_the_job_system_without_fetching_twice(project, iiif):
    names = ["astronaut", "chelsea", "rocket", "motorcycle_left"]
    manifest = manifest_v3(iiif, "job", names, label={"none": ["Job"]})
    iiif.delay = 0.3
    runner = JobRunner(project)
    job = runner.submit("iiif", {"sources": [manifest["id"]], "embed": False, "concurrency": 1})
    eventually(lambda: job.snapshot()["progress"].get("done", 0) >= 1, timeout=30)
    runner.cancel(job.id)
    assert job.wait(30) and job.snapshot()["state"] == "cancelled"
    written = project.file_count()
    assert 1 <= written < len(names)
    resumed = runner.resume(job.id)
    assert resumed.wait(60) and resumed.snapshot()["state"] == "done"
    result = resumed.snapshot()["result"]
    assert (result["skipped"], result["added"], result["total"]) == (written, len(names) - written, len(names))
    for name in names:
        assert len(iiif.image_requests(name)) == 1, name


def test_a_folder_import_of_the_same_bytes_leaves_the_iiif_image_where_it_is(project, iiif, tmp_path):
    album = _album(iiif)
    project.import_iiif([album["@id"]], embed=False)
    canvas = album["sequences"][0]["canvases"][0]["@id"]
    image = project.file(canvas)
    data, _, _ = project.images.original(image["hash"])
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "rocket.jpg").write_bytes(data)
    report = project.import_folders([tmp_path / "folder"], workers=1)
    assert (report["added"], report["moved"]) == (1, [])
    assert project.file(image["id"])["path"] == canvas
    assert project.iiif_source(image["id"])["canvas"] == canvas


def test_the_command_reads_urls_and_files_and_prints_the_import_report(tmp_path, iiif):
    letters = _letters(iiif)
    local = tmp_path / "album.json"
    local.write_text(json.dumps(_album(iiif)))
    path = tmp_path / "cli.imagier"
    done = subprocess.run([sys.executable, "-m", "imagier.cli", "import-iiif", str(path), letters["id"], str(local),
                           "--no-embed", "--size", "400", "--language", "en", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["added"], report["skipped"], report["failed"], report["total"]) == (5, 0, [], 5)
    with imagier.open(path) as project:
        images = _images(project)
    assert images[letters["items"][0]["id"]]["name"] == "fol. 1 recto"
    assert max(images[letters["items"][1]["id"]]["width"], images[letters["items"][1]["id"]]["height"]) == 400
    refused = subprocess.run([sys.executable, "-m", "imagier.cli", "import-iiif", str(path), f"{iiif.url}/nothing.json",
                              "--no-embed"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "HTTP 404" in refused.stderr and "Traceback" not in refused.stderr


def test_the_http_api_imports_as_a_job_and_tells_an_image_s_source(project, iiif):
    album = _album(iiif)
    from imagier.server.app import create_app
    with LiveServer(create_app(project)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        bad = client.post("/api/imports/iiif", json={"sources": ["ftp://example.org/m.json"], "embed": False})
        assert bad.status_code == 400 and "only http and https" in bad.json()["message"]
        started = client.post("/api/imports/iiif", json={"sources": [album["@id"]], "embed": False, "size": 256})
        assert started.status_code == 202
        job = finished_job(client, started.json()["job"])
        assert job["state"] == "done" and job["result"]["added"] == 2 and job["kind"] == "iiif"
        canvas = album["sequences"][0]["canvases"][0]["@id"]
        file_id = project.file(canvas)["id"]
        assert client.get(f"/api/files/{file_id}/iiif").json()["canvas"] == canvas
        assert client.get(f"/api/files/{file_id + 100}/iiif").status_code == 404



@pytest.mark.browser
def test_the_page_imports_from_iiif_and_the_detail_links_back_to_the_source(project, iiif, chromium):
    from live import screenshot, served_page
    letters = _letters(iiif)
    iiif.missing.add("/iiif/3/chelsea/full/")
    with served_page(chromium, project) as (page, server):
        page.click("[data-testid=project-menu]")
        page.click("[data-testid=project-import-iiif]")
        page.fill("[data-testid=iiif-sources]", f"{letters['id']}\n")
        page.select_option("[data-testid=iiif-size]", "800")
        page.uncheck("[data-testid=iiif-embed]")
        page.click("[data-testid=iiif-start]")
        page.wait_for_selector("[data-testid=iiif-report]:has-text('Added 2 from 1 manifest')")
        assert "HTTP 404" in page.inner_text("[data-testid=iiif-failed]")
        screenshot(page, "iiif-imported")
        assert project.file_count() == 2
        assert iiif.image_requests("fossa") == ["/iiif/3/fossa/full/800,/0/default.jpg"]
        page.click("[data-testid=iiif-close]")
        page.click("[data-testid=mode-table]")
        page.dblclick("[data-testid=table-row] >> nth=0 >> [data-testid=table-thumb]")
        page.wait_for_selector("[data-testid=detail-iiif]")
        assert page.get_attribute("[data-testid=detail-iiif-manifest]", "href") == letters["id"]
        canvas = page.get_attribute("[data-testid=detail-iiif-canvas]", "href")
        assert canvas in {item["id"] for item in letters["items"][:2]}
        assert page.get_attribute("[data-testid=detail-iiif-homepage]", "href") == "https://example.org/letters"
        screenshot(page, "iiif-detail")


def test_the_benchmark_measures_an_import_of_distinct_photographs():
    bench = load_benchmark("bench_iiif")
    made = bench.pictures(10)
    assert len({hashlib.sha256(image.tobytes()).hexdigest() for image in made.values()}) == 10  # all distinct
    assert all(max(image.size) == bench.LONG_SIDE for image in made.values())
    with IiifServer(dict(list(made.items())[:3])) as server:
        manifest = manifest_v3(server, "bench", sorted(server.images), label={"none": ["Benchmark"]})
        result = bench.run(manifest["id"], 2, 400)
    assert result["images"] == 3 and result["wall"] > 0 and result["cpu"] > 0 and result["bytes"] > 0
