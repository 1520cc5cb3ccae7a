"""Reading the text in images (OCR) on real rendered captions: scikit-image's photographs with captions drawn
by PIL in Debian's fonts (fonts-dejavu-core, fonts-liberation), read by the real engine (RapidOCR's PP-OCRv6
models), never a mocked one."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading

import httpx
import pytest
from PIL import Image

import imagier
from conftest import load_benchmark, sample_pixels
from imagier.errors import Conflict
from imagier.ocr import engine, reading
from imagier.server.app import create_app
from live import LiveServer, finished_job

bench = load_benchmark("bench_ocr")

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DEJAVU_SERIF_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"
LIBERATION = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"
ENGLISH = "Nobody expects the Spanish inquisition"
FRENCH = "Où est passée la fête de Noël à Québec"
SMALL = "Meeting moved to Thursday at noon"


def photo(name: str, megapixels: float = 0.5) -> Image.Image:
    return bench.fit(Image.fromarray(sample_pixels(name)[:, :, :3]), megapixels)


@pytest.fixture(scope="module")
def captions(tmp_path_factory):
    """A folder of three captioned photographs and one without text: {file name: its caption}."""
    folder = tmp_path_factory.mktemp("captions")
    made = {
        "english.png": (bench.meme(photo("astronaut"), ENGLISH, DEJAVU, 28, "bar"), ENGLISH),
        "french.jpg": (bench.meme(photo("coffee"), FRENCH, DEJAVU_SERIF_BOLD, 36, "outline"), FRENCH),
        # 14 px on a 1.5-megapixel picture: legible only in the original, gone from a 256 px thumbnail
        "small.jpg": (bench.meme(photo("chelsea", 1.5), SMALL, LIBERATION, 14, "bar"), SMALL),
        "plain.jpg": (photo("rocket"), ""),  # (motorcycle_left is no good: its tank reads YAMAHA)
    }
    for name, (picture, _) in made.items():
        picture.save(folder / name, quality=92)
    return folder, {name: text for name, (_, text) in made.items()}


@pytest.fixture(scope="module")
def read_template(captions, tmp_path_factory):
    """A project of the captions, read once for the module: (its path, the report)."""
    folder, _ = captions
    path = tmp_path_factory.mktemp("read") / "read.imagier"
    with imagier.open(path) as project:
        project.import_folders([folder])
        report = project.read_text(workers=1)
    return path, report


@pytest.fixture
def read(read_template, tmp_path):
    from conftest import open_copy
    with open_copy(read_template[0], tmp_path / "copy.imagier") as project:
        yield project


def by_name(project) -> dict[str, dict]:
    return {f["name"]: f for f in project.files(project.query()["ids"])}


def test_english_and_french_captions_are_read_from_the_originals(read, read_template, captions):
    _, expected = captions
    report = read_template[1]
    assert report["read"] == 4 and report["with_text"] == 3 and report["total"] == 4 and report["failed"] == []
    assert report["engine"].startswith("rapidocr 3.")
    images = by_name(read)
    for name, text in expected.items():
        found = read.image_text(images[name]["id"])
        if not text:
            assert found["text"] == "" and found["words"] == [] and found["read"] is not None
            continue
        assert bench.character_error_rate(text, found["text"]) <= 0.03, (name, found["text"])
        assert bench.word_recall(text, found["text"]) == 1.0, (name, found["text"])
        assert all(0 <= w["x"] <= w["x"] + w["w"] <= 1 and 0 <= w["y"] <= w["y"] + w["h"] <= 1
                   and 0.5 <= w["confidence"] <= 1 for w in found["words"])
    # the accents are read as they are, not folded
    french = read.image_text(images["french.jpg"]["id"])
    assert {"Où", "passée", "fête", "Noël", "Québec"} <= {w["text"] for w in french["words"]}
    # the boxes are where the caption was drawn: in the bar above the picture, for the 14 px line too
    for name, sample, megapixels in (("english.png", "astronaut", 0.5), ("small.jpg", "chelsea", 1.5)):
        bar = 1 - photo(sample, megapixels).height / images[name]["height"]
        words = read.image_text(images[name]["id"])["words"]
        assert words and all(w["y"] + w["h"] <= bar + 0.01 for w in words), (name, bar, words)


def test_the_text_is_a_machine_made_property_outside_the_undo_log(read, captions):
    _, expected = captions
    prop = read.property(reading.TEXT_PROPERTY)
    assert (prop["type"], prop["scope"], prop["machine"]) == ("text", "content", True)
    values = read.values(read.query()["ids"])
    images = by_name(read)
    assert reading.TEXT_PROPERTY not in values[images["plain.jpg"]["id"]]
    assert bench.word_recall(FRENCH, values[images["french.jpg"]["id"]][reading.TEXT_PROPERTY]) == 1.0
    assert [o["kind"] for o in read.history()][:1] == ["ocr"]
    # A filter on it works like on any text property
    found = read.query({"property": reading.TEXT_PROPERTY, "op": "contains", "value": "Spanish"})["ids"]
    assert found == [images["english.png"]["id"]]


def test_a_users_property_of_the_same_name_is_refused_before_anything_is_read(project, captions):
    folder, _ = captions
    project.import_folders([folder])
    project.create_property(reading.TEXT_PROPERTY, "text", "content")
    with pytest.raises(Conflict, match="text in image"):
        project.read_text(workers=1)
    assert project.image_text(project.query()["ids"][0])["read"] is None


def test_the_text_exports_in_csv_like_any_property(read, tmp_path):
    read.export_csv(tmp_path / "out.csv")
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as f:
        rows = {os.path.basename(r["path"]): r for r in csv.DictReader(f)}
    column = f"{reading.TEXT_PROPERTY}[text]"
    assert bench.word_recall(FRENCH, rows["french.jpg"][column]) == 1.0
    assert rows["plain.jpg"][column] == ""


def test_corrupt_and_missing_originals_are_reported_by_path_and_skipped(project, captions, tmp_path):
    folder, _ = captions
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("english.png", "french.jpg", "plain.jpg"):
        (corpus / name).write_bytes((folder / name).read_bytes())
    project.import_folders([corpus])
    # Same size and modification time as imported, other bytes: the file still counts as the original
    corrupt = corpus / "french.jpg"
    stat = corrupt.stat()
    corrupt.write_bytes(b"\0" * stat.st_size)
    os.utime(corrupt, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (corpus / "plain.jpg").unlink()
    report = project.read_text(workers=1)
    failed = {os.path.basename(f["path"]): f["error"] for f in report["failed"]}
    assert set(failed) == {"french.jpg", "plain.jpg"}
    assert "not an image" in failed["french.jpg"] or "corrupt" in failed["french.jpg"]
    assert "not on this machine" in failed["plain.jpg"]
    assert (report["read"], report["total"]) == (1, 1)
    # skipped, not recorded as read: a later run tries them again (and reads nothing twice)
    again = project.read_text(workers=1)
    assert (again["read"], len(again["failed"])) == (0, 2)


def test_a_cancelled_reading_resumes_and_reads_nothing_twice(project, captions, monkeypatch):
    folder, _ = captions
    project.import_folders([folder])
    monkeypatch.setattr(reading, "BATCH", 1)  # a look at `cancel` after every image, with four images
    cancel = threading.Event()
    first = project.read_text(workers=1, cancel=cancel, progress=lambda p: p["done"] >= 1 and cancel.set())
    assert (first["read"], first["total"]) == (1, 1)
    steps = []
    second = project.read_text(workers=2, progress=steps.append)  # the rest, in two worker processes
    assert (second["read"], second["total"], second["failed"]) == (3, 4, [])
    assert steps[0] == {"done": 1, "total": 4} and steps[-1] == {"done": 4, "total": 4}
    assert project.read_text(workers=1)["read"] == 0


def test_a_reading_cancelled_while_workers_read_ahead_resumes_and_reads_nothing_twice(project, captions,
                                                                                   monkeypatch):
    folder, _ = captions
    project.import_folders([folder])
    monkeypatch.setattr(reading, "BATCH", 1)  # the workers read the second image while the first is written
    cancel = threading.Event()
    first = project.read_text(workers=2, cancel=cancel, progress=lambda p: p["done"] >= 1 and cancel.set())
    assert (first["read"], first["total"], first["failed"]) == (1, 1, [])  # the image read ahead is not kept
    second = project.read_text(workers=2)
    assert (second["read"], second["total"], second["failed"]) == (3, 4, [])
    texts = [project.image_text(i)["text"] for i in project.query()["ids"]]
    assert sum(1 for text in texts if text) == 3


def test_the_detector_runs_in_8_bit_integers_at_under_half_the_cost_of_the_float_one():
    import time

    import onnxruntime as ort
    pixels = engine.detection_input(bench.meme(photo("chelsea", 1.5), SMALL, LIBERATION, 14, "bar"))

    def cpu_seconds(model) -> float:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        session.run(None, {"x": pixels})
        started = time.process_time()  # CPU time, which the other processes of the machine barely move
        for _ in range(2):
            session.run(None, {"x": pixels})
        return time.process_time() - started

    assert cpu_seconds(engine.DETECTOR) < 0.5 * cpu_seconds(engine.wheel_model(engine.FLOAT_DETECTOR))


def test_the_ocr_job_over_http_and_the_words_of_an_image(project, captions):
    folder, expected = captions
    project.import_folders([folder])
    with LiveServer(create_app(project)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        refused = client.post("/api/jobs", json={"kind": "ocr", "params": {"workers": 0}})
        assert refused.status_code == 400 and "workers" in refused.json()["message"]
        started = client.post("/api/jobs", json={"kind": "ocr", "params": {"workers": 1}})
        assert started.status_code == 202, started.text
        done = finished_job(client, started.json()["job"], timeout=240)
        assert done["state"] == "done" and done["result"]["read"] == 4, done
        assert done["resumes"] == "continues"
        english = by_name(project)["english.png"]["id"]
        words = client.get(f"/api/files/{english}/text").json()
        assert bench.word_recall(ENGLISH, words["text"]) == 1.0 and len(words["words"]) >= 5
        assert client.get("/api/files/999999/text").status_code == 404


def test_imagier_ocr_command(read_template, tmp_path, captions):
    from conftest import open_copy
    path = tmp_path / "cli.imagier"
    open_copy(read_template[0], path).close()
    shown = subprocess.run([sys.executable, "-m", "imagier.cli", "ocr", str(path), "--show", "french.jpg", "--json"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert bench.word_recall(FRENCH, json.loads(shown.stdout)["text"]) == 1.0
    again = subprocess.run([sys.executable, "-m", "imagier.cli", "ocr", str(path), "--json"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["read"] == 0  # every image read already


@pytest.mark.browser
def test_the_detail_shows_the_words_and_draws_their_boxes(read, chromium):
    from live import screenshot, served_page
    ids = read.query()["ids"]
    row = [f["name"] for f in read.files(ids)].index("french.jpg")
    with served_page(chromium, read) as (page, server):
        page.click("[data-testid=mode-table]")
        page.dblclick(f"[data-testid=table-row] >> nth={row} >> [data-testid=table-thumb]")
        page.wait_for_selector("[data-testid=detail-name]:text-is('french.jpg')")
        page.wait_for_selector("[data-testid=detail-text-line]")
        shown = " ".join(page.locator("[data-testid=detail-text-line]").all_inner_texts())
        assert bench.word_recall(FRENCH, shown) == 1.0, shown
        value = page.inner_text(f"[data-testid=detail-property][data-property='{reading.TEXT_PROPERTY}']")
        assert "Québec" in value
        assert page.locator("[data-testid=detail-word-box]").count() == 0
        page.check("[data-testid=detail-text-boxes]")
        page.wait_for_selector("[data-testid=detail-image]")
        page.wait_for_function("() => document.querySelectorAll('[data-testid=detail-word-box]').length > 0")
        words = read.image_text(read.files(ids)[row]["id"])["words"]
        assert page.locator("[data-testid=detail-word-box]").count() == len(words)
        # each box lies over its word: inside the picture, in the same place relative to it
        picture = page.locator("[data-testid=detail-image]").bounding_box()
        first = page.locator("[data-testid=detail-word-box]").first.bounding_box()
        assert abs(first["x"] - (picture["x"] + words[0]["x"] * picture["width"])) < 4
        assert abs(first["y"] - (picture["y"] + words[0]["y"] * picture["height"])) < 4
        assert abs(first["width"] - words[0]["w"] * picture["width"]) < 4
        screenshot(page, "detail-ocr-boxes")
        page.uncheck("[data-testid=detail-text-boxes]")
        page.wait_for_selector("[data-testid=detail-word-box]", state="detached")
        # an image without text says so
        plain = [f["name"] for f in read.files(ids)].index("plain.jpg")
        for _ in range(abs(plain - row)):
            page.click("[data-testid=detail-next]" if plain > row else "[data-testid=detail-prev]")
        page.wait_for_selector("[data-testid=detail-name]:text-is('plain.jpg')")
        page.wait_for_selector("[data-testid=detail-text]:has-text('No text found')")
