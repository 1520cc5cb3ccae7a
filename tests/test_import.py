"""Importing folders through the Python API: metadata, thumbnails, re-import, broken files, resume, sharing."""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import skimage.data
from PIL import Image

import imagier
from imagier.errors import InvalidInput
from imagier.ingest import importer
from imagier.ingest.decode import decode

GOOD = 15  # files in photo_dir that are images
DISTINCT = 14  # one of them is a byte-identical copy


def all_files(project) -> dict[str, dict]:
    """Every file of the project, by path relative to nothing (absolute)."""
    ids = [r[0] for r in project.db.reader.execute("SELECT id FROM files")]
    return {f["path"]: f for f in project.files(ids)}


def by_relative_path(project, root) -> dict[str, dict]:
    root = str(root.resolve())
    return {os.path.relpath(path, root): f for path, f in all_files(project).items()}


def job_states(project) -> list[str]:
    return [r[0] for r in project.db.reader.execute("SELECT state FROM jobs ORDER BY id")]


def test_import_reads_every_format_with_its_metadata(project, photo_dir, photo_manifest):
    reports = []
    result = project.import_folders([photo_dir], progress=reports.append)

    assert result["failed"] == []
    assert (result["added"], result["skipped"], result["total"]) == (GOOD, 0, GOOD)
    assert result["moved"] == result["changed"] == result["missing"] == []
    assert project.file_count() == GOOD and project.content_count() == DISTINCT
    files = by_relative_path(project, photo_dir)
    assert set(files) == set(photo_manifest)  # .txt and hidden files left out, .BMP taken in
    for rel, expected in photo_manifest.items():
        got = files[rel]
        assert got["path"] == str((photo_dir / rel).resolve())
        assert got["folder"] == str((photo_dir / rel).resolve().parent)
        assert got["name"] == os.path.basename(rel)
        for key in ("format", "width", "height", "taken", "orientation", "size"):
            assert got[key] == expected[key], (rel, key)
    assert files["2021/rotated.jpg"]["width"] < files["2021/rotated.jpg"]["height"]
    assert files["2021/camera.jpg"]["taken"] == "2021-05-06T07:08:09"  # DateTime when no DateTimeOriginal

    assert reports[-1]["done"] == reports[-1]["total"] == GOOD
    assert reports[-1]["added"] == GOOD and reports[-1]["failed"] == 0
    assert job_states(project) == ["done"]
    assert project.history()[0]["kind"] == "import"


def test_thumbnails_are_upright_jpegs_with_a_256_pixel_long_side(imported, photo_dir):
    for rel, f in by_relative_path(imported, photo_dir).items():
        thumb = Image.open(io.BytesIO(imported.thumbnail(f["hash"])))
        assert thumb.format == "JPEG" and thumb.mode == "RGB"
        assert max(thumb.size) == 256, rel
        assert (thumb.width > thumb.height) == (f["width"] > f["height"]), rel

    # The EXIF-rotated photo is shown as the camera meant it: compare with the rocket turned upright.
    rotated = by_relative_path(imported, photo_dir)["2021/rotated.jpg"]
    thumb = Image.open(io.BytesIO(imported.thumbnail(rotated["hash"]))).convert("L")
    upright = Image.fromarray(skimage.data.rocket()).transpose(Image.Transpose.ROTATE_270)
    reference = upright.convert("L").resize(thumb.size)
    assert np.abs(np.asarray(thumb, float) - np.asarray(reference, float)).mean() < 10


def test_identical_bytes_share_one_content(imported, photo_dir):
    files = by_relative_path(imported, photo_dir)
    original, copy = files["2019/astronaut.jpg"], files["copies/astronaut-copy.jpg"]
    assert original["id"] != copy["id"]
    assert original["content_id"] == copy["content_id"] and original["hash"] == copy["hash"]
    assert [f["id"] for f in imported.same_content(original["id"])] == [copy["id"]]
    count = imported.db.reader.execute("SELECT count(*) FROM thumbnails").fetchone()[0]
    assert count == DISTINCT


def test_reimport_skips_known_files_and_adds_only_new_ones(imported, photo_dir, tmp_path):
    again = imported.import_folders(photo_dir)
    assert (again["added"], again["skipped"], again["failed"], again["total"]) == (0, GOOD, [], GOOD)

    extra = tmp_path / "extra"
    extra.mkdir()
    Image.fromarray(skimage.data.coffee()).save(extra / "new.png")
    Image.fromarray(skimage.data.astronaut()).save(extra / "new.JPEG")
    result = imported.import_folders([photo_dir, extra])
    assert (result["added"], result["skipped"], result["total"]) == (2, GOOD, GOOD + 2)
    assert imported.file_count() == GOOD + 2


def test_moved_changed_and_missing_files_keep_their_annotations(project, photo_copy):
    project.import_folders(photo_copy)
    before = by_relative_path(project, photo_copy)
    moved, changed, gone = before["2019/coffee.jpg"], before["2020/chelsea.jpg"], before["retina.jpg"]
    project.create_property("note", "text")
    ids = [moved["id"], changed["id"], gone["id"]]
    project.set_values("note", ids, "x")

    (photo_copy / "2022").mkdir()
    os.rename(photo_copy / "2019/coffee.jpg", photo_copy / "2022/coffee renamed.jpg")
    edited = Image.fromarray(skimage.data.chelsea()).crop((0, 0, 300, 200))
    edited.save(photo_copy / "2020/chelsea.jpg", "JPEG", quality=70)
    os.utime(photo_copy / "2020/chelsea.jpg", ns=(1_700_000_000_000_000_000,) * 2)
    os.remove(photo_copy / "retina.jpg")

    result = project.import_folders(photo_copy)
    root = str(photo_copy.resolve())
    assert result["moved"] == [{"from": f"{root}/2019/coffee.jpg", "to": f"{root}/2022/coffee renamed.jpg"}]
    assert result["changed"] == [f"{root}/2020/chelsea.jpg"]
    assert result["missing"] == [f"{root}/retina.jpg"]
    assert (result["added"], result["skipped"], result["failed"]) == (0, GOOD - 3, [])
    assert result["total"] == GOOD  # the missing file's row is kept with its annotations

    after = {f["id"]: f for f in project.files(ids)}
    assert after[moved["id"]]["path"] == f"{root}/2022/coffee renamed.jpg"
    assert after[moved["id"]]["folder"] == f"{root}/2022"
    assert after[moved["id"]]["hash"] == moved["hash"]
    assert after[changed["id"]]["hash"] != changed["hash"]
    assert (after[changed["id"]]["width"], after[changed["id"]]["height"]) == (300, 200)
    assert after[changed["id"]]["modified"] == "2023-11-14T22:13:20"
    assert after[gone["id"]]["path"] == gone["path"]
    assert project.values(ids) == {i: {"note": "x"} for i in ids}
    # The old bytes of the changed file belong to no file and no annotation any more.
    assert project.content_count() == DISTINCT

    # Nothing changed since: a third import only skips.
    third = project.import_folders(photo_copy)
    assert (third["added"], third["skipped"], third["moved"], third["changed"]) == (0, GOOD - 1, [], [])
    assert third["missing"] == [f"{root}/retina.jpg"]


def test_a_file_moved_to_another_imported_folder_keeps_its_id(project, photo_copy, tmp_path):
    project.import_folders(photo_copy / "2019")
    source = by_relative_path(project, photo_copy)["2019/astronaut.jpg"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(photo_copy / "2019/astronaut.jpg", elsewhere / "astronaut.jpg")

    result = project.import_folders(elsewhere)
    assert result["moved"] == [{"from": source["path"], "to": str((elsewhere / "astronaut.jpg").resolve())}]
    assert result["added"] == 0 and project.file_count() == 2


def test_broken_files_are_reported_and_never_stop_the_import(project, photo_dir, broken_files):
    broken_dir, reasons = broken_files
    result = project.import_folders([photo_dir, broken_dir])

    failed = {os.path.basename(f["path"]): f["error"] for f in result["failed"]}
    assert set(failed) == set(reasons)
    for name, words in reasons.items():
        assert words in failed[name], (name, failed[name])
    assert all(f["path"] == str((broken_dir / os.path.basename(f["path"])).resolve()) for f in result["failed"])
    assert result["added"] == GOOD + 2  # whole.jpg and whole.png
    assert project.file_count() == GOOD + 2
    assert job_states(project) == ["done"]


def test_a_folder_that_does_not_exist_is_refused_before_anything_is_written(project, tmp_path):
    with pytest.raises(InvalidInput, match="no such folder"):
        project.import_folders([tmp_path / "nowhere"])
    assert job_states(project) == [] and project.file_count() == 0


def test_relative_paths_are_stored_absolute(project, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir / "2020")
    project.import_folders(["./summer/../summer"], workers=1)
    paths = set(all_files(project))
    assert paths == {str((photo_dir / "2020/summer" / n).resolve()) for n in ("motorcycle.jpg", "hubble.jpg")}


def test_cancel_stops_between_batches_and_resume_finishes_without_duplicates(project, photo_dir, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_FILES", 3)
    monkeypatch.setattr(importer, "PROGRESS_INTERVAL", 0)
    cancel = threading.Event()

    def progress(report):
        if report["done"] >= 4:
            cancel.set()

    first = project.import_folders(photo_dir, workers=1, progress=progress, cancel=cancel)
    assert first["state"] == "cancelled" and 4 <= first["added"] < GOOD
    assert project.file_count() == first["added"] == first["total"]
    assert job_states(project) == ["cancelled"]
    assert project.pending_imports() == []  # a cancelled import is not an interrupted one

    rest = project.resume_import(first["job"])
    assert rest["state"] == "done" and rest["job"] == first["job"]
    assert (rest["added"], rest["skipped"]) == (GOOD - first["added"], first["added"])
    assert project.file_count() == GOOD and project.content_count() == DISTINCT
    assert job_states(project) == ["done"]


def test_an_interrupted_import_is_found_and_resumed(tmp_path, photo_dir):
    path = tmp_path / "test.imagier"
    # A real interruption: the importing process dies right after committing its first batch.
    script = textwrap.dedent(f"""
        import os, imagier
        from imagier.ingest import importer
        importer.BATCH_FILES, importer.PROGRESS_INTERVAL = 5, 0
        project = imagier.open({str(path)!r})
        def progress(report):
            if report["added"] >= 5:
                os._exit(3)
        project.import_folders([{str(photo_dir)!r}], workers=2, progress=progress)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", script], env=env, timeout=120).returncode == 3

    with imagier.open(path) as project:
        assert project.file_count() == 5
        pending = project.pending_imports()
        assert [j["params"]["folders"] for j in pending] == [[str(photo_dir.resolve())]]
        assert pending[0]["progress"]["added"] == 5
        result = project.import_folders(photo_dir)
        assert result["job"] == pending[0]["id"]  # the same job, picked up
        assert (result["added"], result["skipped"], result["total"]) == (GOOD - 5, 5, GOOD)
        assert project.pending_imports() == [] and job_states(project) == ["done"]


def test_store_originals_keeps_the_bytes_and_a_copied_project_opens_elsewhere(project, photo_copy, tmp_path):
    project.import_folders(photo_copy)
    rel = "2021/rotated.jpg"
    hash_ = by_relative_path(project, photo_copy)[rel]["hash"]
    data, on_disk, fmt = project.original(hash_)
    assert data is None and on_disk == (photo_copy / rel).resolve() and fmt == "JPEG"

    # Asking for originals later stores them for the files already imported too.
    result = project.import_folders(photo_copy, store_originals=True)
    assert result["added"] == 0 and result["changed"] == []
    stored = project.db.reader.execute("SELECT count(*) FROM originals").fetchone()[0]
    assert stored == DISTINCT
    expected = {f["hash"]: (photo_copy / name).read_bytes() for name, f in by_relative_path(project, photo_copy).items()}
    project.close()

    shared = tmp_path / "elsewhere" / "shared.imagier"
    shared.parent.mkdir()
    shutil.copyfile(tmp_path / "test.imagier", shared)
    shutil.rmtree(photo_copy)
    with imagier.open(shared) as copy:
        assert copy.file_count() == GOOD
        for hash_, data in expected.items():
            assert copy.original(hash_)[0] == data
            assert Image.open(io.BytesIO(copy.thumbnail(hash_))).format == "JPEG"


def test_a_worker_that_dies_does_not_stop_the_import(project, photo_dir, monkeypatch):
    monkeypatch.setattr(importer, "PROGRESS_INTERVAL", 0)
    killed = []

    def progress(report):
        # What the kernel does to a worker out of memory, or a decoder crash does to itself.
        if report["done"] >= 3 and not killed:
            worker = multiprocessing.active_children()[0]
            worker.kill()
            killed.append(worker.pid)

    result = project.import_folders(photo_dir, workers=2, progress=progress)
    assert killed
    assert (result["added"], result["failed"], result["state"]) == (GOOD, [], "done")
    assert project.file_count() == GOOD


def test_unusual_pixel_formats_make_sensible_thumbnails(tmp_path):
    # 12-bit values in a 16-bit PNG (a microscope, a scanner) would all be clipped to white.
    deep = (np.asarray(Image.fromarray(skimage.data.camera())).astype(np.uint16) * 16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    thumb = Image.open(io.BytesIO(decode(str(tmp_path / "deep.png")).thumbnail))
    assert 60 < np.asarray(thumb).mean() < 200

    # Transparent pixels show as white, whatever colour they hide.
    rgba = np.zeros((300, 400, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere, but opaque only on the left half
    rgba[:, :200, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "transparent.png")
    decoded = decode(str(tmp_path / "transparent.png"))
    pixels = np.asarray(Image.open(io.BytesIO(decoded.thumbnail)), int)
    assert (decoded.width, decoded.height, decoded.format) == (400, 300, "PNG")
    assert np.abs(pixels[96, 32] - [255, 0, 0]).max() < 12 and pixels[96, 224].min() > 240


def _run_script(script: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-"], input=script, env=env, capture_output=True, text=True, timeout=120)


def test_a_plain_script_imports_with_several_workers_without_a_main_guard(tmp_path, photo_dir):
    project = tmp_path / "p.imagier"
    run = _run_script(f"import imagier\nr = imagier.open({str(project)!r}).import_folders({str(photo_dir)!r}, "
                      f"workers=2)\nprint(r['added'])\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "15"


def test_workers_that_cannot_start_give_a_clear_error(tmp_path, photo_dir):
    # With another thread running, workers come from a fork server, which must re-import the main script:
    # one read from standard input cannot be.
    run = _run_script("import threading, imagier\nthreading.Thread(target=threading.Event().wait, daemon=True).start()\n"
                      f"imagier.open({str(tmp_path / 'p.imagier')!r}).import_folders({str(photo_dir)!r}, workers=2)\n")
    assert run.returncode == 1
    assert "cannot start the worker processes" in run.stderr and "workers=1" in run.stderr


def test_existing_files_lists_each_image_once_however_its_id_is_written(imported):
    retina = imported.file("retina.jpg")["id"]
    assert [f["id"] for f in imported.existing_files([retina, str(retina), retina])] == [retina]
    with pytest.raises(InvalidInput, match="image ids must be integers"):
        imported.existing_files([retina, "retina"])
