"""The text in images beyond reading it: which words of an image a text search matches (the detail view's
marks, folded as the full-text index folds), the page's button that starts the reading, and a plugin that
reads the word boxes. Real captions rendered on scikit-image's photographs, read by the real engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from PIL import Image

import imagier
from conftest import load_benchmark, open_copy, sample_pixels
from imagier.errors import InvalidInput, NotFound
from imagier.ocr.reading import TEXT_PROPERTY
from imagier.server.app import create_app
from live import LiveServer, eventually, screenshot, served_page
from test_readonly import read_only

bench = load_benchmark("bench_ocr")

ROOT = Path(__file__).resolve().parents[1]
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DEJAVU_SERIF_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"
FRENCH = "Où est passée la fête de Noël à Québec"
ENGLISH = "Nobody expects the Spanish inquisition"


def photo(name: str) -> Image.Image:
    return bench.fit(Image.fromarray(sample_pixels(name)[:, :, :3]), 0.5)


def caption_below(picture: Image.Image, text: str) -> Image.Image:
    """A caption on a white bar under the photograph (bench_ocr.meme puts its bar above it)."""
    above = bench.meme(picture, text, DEJAVU, 28, "bar")
    bar = above.crop((0, 0, above.width, above.height - picture.height))
    out = Image.new("RGB", above.size, "white")
    out.paste(picture, (0, 0))
    out.paste(bar, (0, picture.height))
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """French words over the top of a photograph, English under another, and a photograph without text."""
    folder = tmp_path_factory.mktemp("memes")
    bench.meme(photo("coffee"), FRENCH, DEJAVU_SERIF_BOLD, 36, "outline").save(folder / "french.jpg", quality=92)
    caption_below(photo("astronaut"), ENGLISH).save(folder / "english.png")
    photo("rocket").save(folder / "plain.jpg", quality=92)
    return folder


@pytest.fixture(scope="module")
def read_template(corpus, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("read") / "memes.imagier"
    with imagier.open(path) as project:
        project.import_folders([corpus])
        project.read_text(workers=1)
    return path


@pytest.fixture
def read(read_template, tmp_path):
    with open_copy(read_template, tmp_path / "copy.imagier") as project:
        yield project


def matched(project, image, search: str) -> list[str]:
    return [w["text"] for w in project.image_text(image, search)["words"] if w["match"]]


SEARCHES = {
    "fete noel": ["fête", "Noël"],                  # accents and case folded, as the index folds them
    "QUEBEC": ["Québec"],
    '"fete de noel"': ["fête", "de", "Noël"],       # a phrase: each of its words
    '"noel fete"': [],                              # the words, but not in this order
    "pass*": ["passée"],                            # a prefix
    "chat OR fete": ["fête"],
    "noel NOT quebec": [],                          # the text as a whole is excluded: nothing to mark
    "noel NOT chat": ["Noël"],
    "(chat OR noel) est": ["est", "Noël"],
    "noel chat": [],                                # every word must be there
}


def test_a_search_marks_the_words_it_matches_as_the_index_reads_them(read):
    french = read.file("french.jpg")["id"]
    words = [w["text"] for w in read.image_text(french)["words"]]
    assert {"Où", "passée", "fête", "Noël", "Québec"} <= set(words), words
    assert all("match" not in w for w in read.image_text(french)["words"])  # asked for no search: no marks
    version = read.data_version()
    for search, expected in SEARCHES.items():
        assert sorted(matched(read, french, search)) == sorted(expected), search
        # the marks agree with the search itself: an image is found exactly when some of its words are marked
        found = read.query_ids({"property": TEXT_PROPERTY, "op": "search", "value": search})
        assert (french in found) == bool(expected), search
    assert matched(read, read.file("plain.jpg")["id"], "noel") == []
    assert read.data_version() == version  # marking reads: the project file is not written


CAPTION = "🎄 Noël: l'élève fête le château"


def test_the_words_a_search_matches_in_a_text_value(read):
    french, plain = read.file("french.jpg")["id"], read.file("plain.jpg")["id"]
    read.create_property("caption", "text")
    read.set_values("caption", [french], CAPTION)

    def marked(image, property, search):
        value = read.values([image], [property])[image][property]
        return [value[start:end] for start, end in read.text_matches(image, property, search)]

    assert marked(french, "caption", "ELEVE chat*") == ["élève", "château"]  # counted in characters, 🎄 one
    assert marked(french, "caption", "noel NOT chateau") == []  # the value as a whole does not match
    assert marked(french, TEXT_PROPERTY, '"fete de noel"') == ["fête de Noël"]  # a phrase is one run
    assert read.text_matches(plain, "caption", "noel") == []  # no value
    read.create_property("year", "number")
    with pytest.raises(InvalidInput, match="year is a number property"):
        read.text_matches(french, "year", "noel")
    with pytest.raises(NotFound):
        read.text_matches(french, "nothing", "noel")
    with pytest.raises(InvalidInput, match="noel NOT"):
        read.text_matches(french, "caption", "noel NOT")


def test_a_search_that_cannot_be_read_is_refused_by_name(read):
    with pytest.raises(InvalidInput, match="unclosed|quote"):
        read.image_text("french.jpg", '"fete de')


def test_the_marks_over_http_and_the_command_line(read_template, tmp_path):
    path = tmp_path / "doors.imagier"
    open_copy(read_template, path).close()
    with imagier.open(path) as project, LiveServer(create_app(project)) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        french = project.file("french.jpg")["id"]
        answer = client.get(f"/api/files/{french}/text", params={"search": "fete noel"}).json()
        assert sorted(w["text"] for w in answer["words"] if w["match"]) == ["Noël", "fête"]
        refused = client.get(f"/api/files/{french}/text", params={"search": "noel NOT"})
        assert refused.status_code == 400 and "noel NOT" in refused.json()["message"]
        spans = client.get(f"/api/files/{french}/matches", params={"property": TEXT_PROPERTY, "search": "quebec"})
        text = project.image_text(french)["text"]
        assert [text[start:end] for start, end in spans.json()] == ["Québec"]
        assert client.get("/api/files/999999/matches", params={"property": TEXT_PROPERTY,
                                                               "search": "quebec"}).status_code == 404

    def ocr(*args):
        return subprocess.run([sys.executable, "-m", "imagier.cli", "ocr", str(path), *args],
                              capture_output=True, text=True, timeout=120)

    shown = ocr("--show", "french.jpg", "--search", "quebec", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [w["text"] for w in json.loads(shown.stdout)["words"] if w["match"]] == ["Québec"]
    printed = ocr("--show", "french.jpg", "--search", "quebec")
    assert [line.split()[1] for line in printed.stdout.splitlines() if line.startswith("* ")] == ["Québec"]
    alone = ocr("--search", "quebec")
    assert alone.returncode == 2 and "--show" in alone.stderr


def test_the_marks_of_a_read_only_project(read_template, tmp_path):
    folder = tmp_path / "shelf"
    folder.mkdir()
    path = folder / "memes.imagier"
    open_copy(read_template, path).close()
    before = path.read_bytes()
    done = subprocess.run(read_only(folder, sys.executable, "-m", "imagier.cli", "ocr", path, "--show", "french.jpg",
                                    "--search", "fete", "--json"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [w["text"] for w in json.loads(done.stdout)["words"] if w["match"]] == ["fête"]
    assert path.read_bytes() == before


def test_the_plugin_guides_caption_plugin_reads_the_word_boxes(read_template, tmp_path):
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = guide[guide.index("## The text read in images"):]
    plugin = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "memes.imagier"
    open_copy(read_template, path).close()
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "captions.py").write_text(plugin, encoding="utf-8")
    # a folder plugin: run in a process of its own, which opens the project again
    done = subprocess.run([sys.executable, "-m", "imagier.cli", "run", str(path), "captions.placement", "--json"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    groups = {g["name"]: sorted(os.path.basename(p) for p in g["paths"]) for g in json.loads(done.stdout)}
    assert groups == {"text at the top": ["french.jpg"], "text at the bottom": ["english.png"],
                      "no text": ["plain.jpg"]}


@pytest.mark.browser
def test_the_detail_marks_the_words_the_views_search_matches(read, chromium):
    view = {"filter": {"and": [{"op": "search", "value": "fete noel"},
                               {"not": {"property": TEXT_PROPERTY, "op": "search", "value": "chien"}}]},
            "sort": [], "group": []}
    address = "/#view=" + quote(json.dumps(view))
    read.create_property("caption", "text")
    read.set_values("caption", [read.file("french.jpg")["id"]], CAPTION)
    with served_page(chromium, read, address) as (page, server):
        page.wait_for_selector("[data-testid=view-count]:text-is('1 image')")  # the French caption alone
        page.dblclick("[data-testid=tile]")
        page.wait_for_selector("[data-testid=detail-name]:text-is('french.jpg')")
        page.wait_for_selector("[data-testid=detail-text-match]")
        assert sorted(page.locator("[data-testid=detail-text-match]").all_inner_texts()) == ["Noël", "fête"]
        # and in the text values shown above: the words read, and a caption of the user's
        for name, marks in ((TEXT_PROPERTY, ["fête", "Noël"]), ("caption", ["Noël", "fête"])):
            value = page.locator(f"[data-testid=detail-property][data-property='{name}']")
            value.locator("[data-testid=text-match] >> nth=0").wait_for()
            assert value.locator("[data-testid=text-match]").all_inner_texts() == marks, name
        assert page.inner_text("[data-testid=detail-property][data-property=caption]").strip() == CAPTION
        # their boxes are drawn over the picture at once, and only theirs
        page.wait_for_selector("[data-testid=detail-image]")
        page.wait_for_function("() => document.querySelectorAll('[data-testid=detail-word-box]').length === 2")
        assert page.locator("[data-testid=detail-word-box].match").count() == 2
        words = read.image_text("french.jpg")["words"]
        page.check("[data-testid=detail-text-boxes]")
        page.wait_for_function(f"() => document.querySelectorAll('[data-testid=detail-word-box]').length === {len(words)}")
        assert page.locator("[data-testid=detail-word-box].match").count() == 2
        screenshot(page, "detail-ocr-search")
        # a view without a text search marks nothing
        page.keyboard.press("Escape")
        page.evaluate("() => { location.hash = '#view=' + encodeURIComponent(JSON.stringify("
                      "{filter: null, sort: [], group: []})); }")
        page.wait_for_function("() => document.querySelectorAll('[data-testid=tile]').length === 3")
        page.dblclick(f"[data-testid=tile][data-id='{read.file('french.jpg')['id']}']")
        page.wait_for_selector("[data-testid=detail-text-line]")
        assert page.locator("[data-testid=detail-text-match]").count() == 0
        assert page.locator("[data-testid=detail-word-box]").count() == 0
        assert page.locator("[data-testid=text-match]").count() == 0


@pytest.mark.browser
def test_the_page_starts_the_reading_and_shows_its_text_without_a_reload(corpus, tmp_path, chromium):
    with imagier.open(tmp_path / "unread.imagier") as project:
        project.import_folders([corpus])
        with served_page(chromium, project) as (page, server):
            page.wait_for_selector("[data-testid=tile]")
            assert page.locator(f"[data-testid=property-row][data-property='{TEXT_PROPERTY}']").count() == 0
            page.click("[data-testid=read-text]")
            # its progress (and Cancel) under the button while it runs, with the other jobs in the top bar
            page.wait_for_selector("[data-testid=machine-help] [data-testid=job][data-state=running]")
            assert page.locator("[data-testid=read-text]").is_disabled()
            page.wait_for_selector("[data-testid=machine-help] [data-testid=job-cancel]")
            screenshot(page, "machine-help-reading-text")
            page.wait_for_selector("[data-testid=message-info]:has-text('Read the text in 3 images (2 with text)')",
                                   timeout=240_000)
            page.wait_for_selector(f"[data-testid=property-row][data-property='{TEXT_PROPERTY}']")
            assert page.locator("[data-testid=read-text]").is_enabled()
            french = [f["name"] for f in project.files(project.query()["ids"])].index("french.jpg")
            page.locator("[data-testid=tile]").nth(french).dblclick()
            page.wait_for_selector("[data-testid=detail-text-line]")
            shown = " ".join(page.locator("[data-testid=detail-text-line]").all_inner_texts())
            assert bench.word_recall(FRENCH, shown) == 1.0, shown
        eventually(lambda: project.image_text("french.jpg")["read"] is not None)


@pytest.mark.browser
def test_the_page_cancels_the_reading_and_a_second_press_reads_the_rest(corpus, tmp_path, chromium, monkeypatch):
    from imagier.ocr import reading
    monkeypatch.setattr(reading, "BATCH", 1)  # the job looks at Cancel after every image (it runs in this process)
    with imagier.open(tmp_path / "unread.imagier") as project:
        project.import_folders([corpus])
        images = project.query_ids()
        with served_page(chromium, project) as (page, server):
            page.wait_for_selector("[data-testid=tile]")
            page.click("[data-testid=read-text]")
            page.click("[data-testid=machine-help] [data-testid=job-cancel]")
            page.wait_for_selector("[data-testid=message-error]:has-text('ocr was cancelled')", timeout=240_000)
            assert page.locator("[data-testid=machine-help] [data-testid=job]").count() == 0
            read = sum(project.image_text(i)["read"] is not None for i in images)
            assert read < len(images)
            page.click("[data-testid=read-text]")
            page.wait_for_selector(f"[data-testid=message-info]:has-text('Read the text in {len(images) - read} image')",
                                   timeout=240_000)
        assert all(project.image_text(i)["read"] is not None for i in images)
