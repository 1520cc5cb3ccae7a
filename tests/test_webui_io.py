"""Import and export in a real Chromium: folders (inside the allowed roots only) with progress, CSV with a
preview, CSV export of a view, the project file, background jobs, history, help and error messages."""

import csv
import io
import shutil
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

import imagier
from live import screenshot

pytestmark = pytest.mark.browser


def count_is(page, expected: int) -> None:
    page.wait_for_selector(f"[data-testid=view-count]:text-is('{expected} images')")


def open_menu(page, item: str) -> None:
    page.click("[data-testid=project-menu]")
    page.click(f"[data-testid={item}]")


def test_the_folder_browser_stays_inside_the_roots_and_imports_with_progress(webui, photo_dir, tmp_path):
    page, server, project = webui
    before = project.file_count()
    new = tmp_path / "new photos"
    new.mkdir()
    for name in ("2019/astronaut.jpg", "2020/chelsea.jpg", "formats/camera.png"):
        shutil.copy(photo_dir / name, new)
    page.wait_for_selector("[data-testid=project-counts]:has-text('files')")
    open_menu(page, "project-import")

    # outside the roots: a readable refusal, and the browser never shows it
    page.fill("[data-testid=import-path]", "/etc")
    page.click("[data-testid=import-browse]")
    page.wait_for_selector("[data-testid=message-error]:has-text('outside the folders this server may show')")

    page.click(f"[data-testid=folder-entry][data-name='{tmp_path}']")
    page.click("[data-testid=folder-entry][data-name='new photos']")
    page.wait_for_selector("[data-testid=folder-path]:has-text('new photos')")
    assert page.input_value("[data-testid=import-path]") == str(new)
    assert page.inner_text("[data-testid=folder-images]") == "3 images in all"
    screenshot(page, "io-folder-browser")
    page.click("[data-testid=import-start]")
    page.wait_for_selector("[data-testid=job]")
    page.wait_for_selector("[data-testid=import-report]:has-text('Added 3')")
    assert project.file_count() == before + 3
    count_is(page, before + 3)
    assert page.locator("[data-testid=job]").first.get_attribute("data-state") == "done"
    screenshot(page, "io-imported")


# The allowed roots' listing answered late, after any other listing.
SLOW_ROOTS = """(() => {
  const fetch = window.fetch;
  window.fetch = (url, ...rest) => String(url).endsWith('/api/folders')
    ? new Promise((resolve) => setTimeout(() => resolve(fetch(url, ...rest)), 1500))
    : fetch(url, ...rest);
})();"""


def test_a_typed_folder_stays_shown_when_the_roots_answer_after_it(webui, tmp_path):
    page, server, project = webui
    page.add_init_script(SLOW_ROOTS)
    page.reload()
    page.wait_for_selector("[data-testid=project-counts]:has-text('files')")
    open_menu(page, "project-import")
    page.fill("[data-testid=import-path]", str(tmp_path))
    with page.expect_response(lambda r: r.url.endswith("/api/folders")):
        page.click("[data-testid=import-browse]")
        page.wait_for_selector(f"[data-testid=folder-path]:text-is('{tmp_path}')")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("[data-testid=folder-path]") == str(tmp_path)
    assert page.input_value("[data-testid=import-path]") == str(tmp_path)


def test_a_running_import_shows_in_the_top_bar_and_can_be_cancelled(webui, tmp_path):
    page, server, project = webui
    noise = tmp_path / "noise"
    noise.mkdir()
    rng = np.random.default_rng(3)
    for i in range(600):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(noise / f"n{i:04d}.jpg")
    before = project.file_count()
    open_menu(page, "project-import")
    page.fill("[data-testid=import-path]", str(noise))
    page.click("[data-testid=import-start]")
    page.wait_for_selector("[data-testid=job-progress]")
    page.click("[data-testid=import-close]")  # the import goes on; the top bar shows it
    page.wait_for_selector("[data-testid=jobs-running]")
    page.click("[data-testid=jobs-toggle]")
    page.wait_for_selector("[data-testid=jobs-panel] [data-testid=job-counts]")
    screenshot(page, "io-job-running")
    page.click("[data-testid=jobs-panel] [data-testid=job-cancel]")
    page.wait_for_selector("[data-testid=jobs-panel] [data-testid=job][data-state=cancelled]")
    page.wait_for_selector("[data-testid=message-error]:has-text('cancelled')")
    # A cancel keeps what was imported before it (all 600 files when it lands in the embedding phase).
    assert before <= project.file_count() <= before + 600


def test_csv_import_previews_unmatched_and_invalid_rows_then_applies_the_valid_ones(webui, tmp_path):
    page, server, project = webui
    ids = project.query_ids(sort=[{"property": "path"}])
    paths = {f["id"]: f["path"] for f in project.files(ids)}
    rows = [["path", "note[text]", "score[number]"],
            [paths[ids[0]], "first", "1"],
            [paths[ids[1]], "second", "not a number"],
            ["/nowhere/missing.jpg", "lost", "3"]]
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    (tmp_path / "values.csv").write_text(text.getvalue())

    open_menu(page, "project-import-csv")
    page.set_input_files("[data-testid=csv-file]", str(tmp_path / "values.csv"))
    page.wait_for_selector("[data-testid=csv-preview]")
    assert page.locator("[data-testid=csv-unmatched]").count() == 1
    assert "/nowhere/missing.jpg" in page.inner_text("[data-testid=csv-unmatched]")
    assert page.locator("[data-testid=csv-invalid]").count() == 1
    assert "not a number" in page.inner_text("[data-testid=csv-invalid]")
    assert page.is_disabled("[data-testid=csv-apply]")
    assert "note" not in [p["name"] for p in project.properties()]  # the preview wrote nothing
    screenshot(page, "io-csv-preview")
    page.check("[data-testid=csv-skip-unmatched]")
    page.check("[data-testid=csv-skip-invalid]")
    page.click("[data-testid=csv-apply]")
    page.wait_for_selector("[data-testid=message-info]:has-text('Imported 3 values')")
    assert project.values(ids[:2], ["note", "score"]) == {ids[0]: {"note": "first", "score": 1},
                                                          ids[1]: {"note": "second"}}

    # the import is one operation in the history, and undo takes it back
    page.click("[data-testid=history-toggle]")
    page.wait_for_selector("[data-testid=history-item]:has-text('import')")
    page.click("[data-testid=history-undo]")
    page.wait_for_selector("[data-testid=history-item][data-state=undone]:has-text('import')")
    assert "note" not in [p["name"] for p in project.properties()]  # created by the import, so undone with it


def test_csv_export_of_a_filtered_view_has_exactly_its_rows(webui, tmp_path):
    page, server, project = webui
    view = {"filter": {"property": "format", "op": "eq", "value": "JPEG"}, "sort": [{"property": "name"}], "group": []}
    count_is(page, project.file_count())  # the first load is over: its query rewrites the address
    page.goto(server.url + "/#view=" + quote(str(view).replace("'", '"')))
    page.reload()
    expected = project.query_ids(view["filter"], view["sort"])
    count_is(page, len(expected))
    page.click("[data-testid=project-menu]")
    with page.expect_download() as download:
        page.click("[data-testid=project-export-csv]")
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(saved.open(encoding="utf-8")))
    paths = {f["id"]: f["path"] for f in project.files(expected)}
    assert rows[0][0] == "path"
    assert [r[0] for r in rows[1:]] == [paths[i] for i in expected]


def test_the_downloaded_project_file_is_a_valid_project_with_the_same_values(webui, tmp_path):
    page, server, project = webui
    project.create_property("note", "text")
    first = project.query_ids()[0]
    project.set_values("note", [first], "in the copy")
    page.click("[data-testid=project-menu]")
    with page.expect_download() as download:
        page.click("[data-testid=project-download]")
    assert download.value.suggested_filename == "embedded.imagier"
    saved = tmp_path / "copy" / "downloaded.imagier"
    saved.parent.mkdir()
    download.value.save_as(saved)
    with imagier.open(saved, create=False) as copy:
        assert copy.values([first]) == project.values([first])
        assert copy.values([first])[first]["note"] == "in the copy"
        assert copy.file_count() == project.file_count()
        assert copy.vector_types()[0]["count"] == project.vector_types()[0]["count"]


def test_opening_another_project_reloads_the_page_on_it(webui, tmp_path):
    page, server, project = webui
    page.wait_for_selector("[data-testid=project-name]:text-is('embedded')")
    open_menu(page, "project-open")
    page.click(f"[data-testid=folder-entry][data-name='{tmp_path}']")
    page.fill("[data-testid=project-new-name]", "second")
    page.click("[data-testid=project-create]")
    page.wait_for_selector("[data-testid=project-name]:text-is('second')")
    count_is(page, 0)
    assert (tmp_path / "second.imagier").is_file()
    # and back, by picking the file
    open_menu(page, "project-open")
    page.click(f"[data-testid=folder-entry][data-name='{tmp_path}']")
    page.click("[data-testid=folder-project]:has-text('embedded.imagier')")
    page.wait_for_selector("[data-testid=project-name]:text-is('embedded')")
    count_is(page, len(imagier.open(tmp_path / "embedded.imagier", create=False).query_ids()))


def test_the_help_panel_lists_the_shortcuts(webui):
    page, server, project = webui
    page.wait_for_selector("[data-testid=view-count]:has-text('images')")
    page.keyboard.press("?")
    page.wait_for_selector("[data-testid=help-panel][open]")
    listed = page.inner_text("[data-testid=help-panel]")
    assert "Undo" in listed and "Redo" in listed and "Show the keyboard shortcuts" in listed
    assert "EVERYWHERE" in listed.upper()
    screenshot(page, "io-help")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=help-panel]", state="detached")
    page.click("[data-testid=help-open]")
    page.wait_for_selector("[data-testid=help-panel][open]")
