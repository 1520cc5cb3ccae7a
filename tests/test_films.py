"""Films imported as frames: films made here from real photographs (benchmarks/film_corpus.py: slow pans and
zooms, hard cuts and one-second fades, a tone, H.264 in MP4 and VP9 in WebM), so the frames' times and the
shots' boundaries are known."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

import imagier
from conftest import load_benchmark
from imagier.errors import Conflict, InvalidInput, NotFound
from imagier.ingest import video
from live import LiveServer, screenshot, served_page

corpus = load_benchmark("film_corpus")

# Shots of the MP4: (photograph, seconds, motion, a fade from the shot before).
MP4_SHOTS = [("astronaut", 4.0, "pan-right", False), ("coffee", 3.0, "zoom-in", False),
             ("chelsea", 4.0, "still", True), ("rocket", 3.0, "pan-down", False),
             ("hubble_deep_field", 4.0, "zoom-out", True)]
WEBM_SHOTS = [("retina", 3.0, "zoom-in", False), ("camera", 3.0, "pan-right", True),
              ("immunohistochemistry", 3.0, "still", False)]


def _plan(shots, **options):
    return corpus.FilmPlan([corpus.Shot(*shot) for shot in shots], **options)


@pytest.fixture(scope="session")
def films(tmp_path_factory) -> dict:
    """{"folder", "mp4", "webm", "mp4_plan", "webm_plan"}: two films and a photograph in one folder."""
    folder = tmp_path_factory.mktemp("films")
    mp4 = corpus.make_film(folder / "reel.mp4", _plan(MP4_SHOTS, fps=25, codec="h264"))
    webm = corpus.make_film(folder / "second.webm", _plan(WEBM_SHOTS, fps=30, codec="vp9"))
    Image.fromarray(corpus.photograph("coffee")).save(folder / "still.jpg", quality=90)
    return {"folder": folder, "mp4": folder / "reel.mp4", "webm": folder / "second.webm", "mp4_plan": mp4,
            "webm_plan": webm}


@pytest.fixture
def film_copy(films, tmp_path) -> Path:
    copy = tmp_path / "corpus"
    shutil.copytree(films["folder"], copy)
    return copy


def _frames(project) -> list[dict]:
    files = project.files(project.query_ids(None, sort=[{"property": "film"}, {"property": "time"}]))
    return [f for f in files if f["film"] is not None]


def test_a_film_imports_as_frames_every_five_seconds_at_their_times(film_copy, tmp_path):
    project = imagier.open(tmp_path / "p.imagier")
    report = project.import_folders(film_copy, workers=1)
    assert report["failed"] == [] and report["state"] == "done"
    frames = _frames(project)
    reel = [f for f in frames if f["film"].endswith("reel.mp4")]
    second = [f for f in frames if f["film"].endswith("second.webm")]
    # 18 s at 25 fps: 0, 5, 10, 15; 9 s at 30 fps: 0, 5.
    assert [f["time"] for f in reel] == pytest.approx([0, 5, 10, 15], abs=1e-6)
    assert [f["time"] for f in second] == pytest.approx([0, 5], abs=1e-6)
    assert report["added"] == 1 + len(reel) + len(second)  # the photograph too
    assert [f["timecode"] for f in reel] == ["00:00:00.000", "00:00:05.000", "00:00:10.000", "00:00:15.000"]
    assert all(f["shot"] is None for f in frames)  # shots are detected only when asked
    first = reel[0]
    assert (first["width"], first["height"], first["format"]) == (320, 180, "FRAME")
    assert first["path"] == f"{film_copy / 'reel.mp4'}#t=0.000"
    # Each frame is an image like any other: a thumbnail of the frame's picture.
    thumb = Image.open(io.BytesIO(project.thumbnail(reel[1]["hash"])))
    assert thumb.size == (256, 144)
    # Grouped by film, then by minute of time, sorted by time: each film a storyboard.
    view = project.query(None, sort=[{"property": "time"}],
                         group=[{"property": "film"}, {"property": "time", "bin": 60}])
    by_film = {group["key"]: group for group in view["groups"]}
    reel_group = by_film[str(film_copy / "reel.mp4")]
    assert reel_group["count"] == 4 and [g["key"] for g in reel_group["groups"]] == [0]
    assert view["ids"][reel_group["start"]:reel_group["end"]] == [f["id"] for f in reel]


def test_the_original_of_a_frame_is_decoded_again_from_the_film(film_copy, tmp_path):
    project = imagier.open(tmp_path / "p.imagier")
    project.import_folders(film_copy / "reel.mp4", workers=1)
    frame = _frames(project)[2]
    data, path, format_ = project.original(frame["hash"])
    assert path is None and format_ == "PNG"
    picture = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert picture.shape == (180, 320, 3)
    # The frame at 10 s is the still of chelsea just after its fade: its thumbnail is a small copy of it.
    thumb = np.asarray(Image.open(io.BytesIO(project.thumbnail(frame["hash"]))).resize((320, 180)), dtype=float)
    assert np.abs(thumb - picture).mean() < 8
    # A film changed on disk no longer gives the frame under its hash.
    film = film_copy / "reel.mp4"
    film.write_bytes(film.read_bytes()[:-1000] + bytes(1000))
    with pytest.raises(Conflict, match="changed on disk"):
        project.original(frame["hash"])


def test_shots_are_found_at_the_cuts_and_fades_and_not_inside_pans(films):
    for name in ("mp4", "webm"):
        plan = films[f"{name}_plan"]
        times, histograms = video.features(str(films[name]), 0.0, float("inf"))
        assert len(times) == plan.frames
        shots = video.detect_shots(times, histograms, plan.fps)
        starts = [int(round(start * plan.fps)) for start, _ in shots]
        assert starts[0] == 0 and len(starts) == len(plan.boundaries), (name, starts, plan.boundaries)
        assert all(abs(found - true) <= 2 for found, true in zip(starts, plan.boundaries)), (name, starts)
        assert corpus.shot_f1(starts, plan.boundaries)["f1"] == 1.0


def test_a_film_imported_with_shots_has_one_frame_per_shot_and_each_frame_its_shot(film_copy, tmp_path):
    project = imagier.open(tmp_path / "p.imagier")
    report = project.import_folders(film_copy / "reel.mp4", workers=2, film_every=5, film_shots=True)
    assert report["failed"] == []
    plan = corpus.FilmPlan([corpus.Shot(*s) for s in MP4_SHOTS])
    starts = np.cumsum([0] + [s.seconds for s in plan.shots])[:-1]
    frames = _frames(project)
    assert sorted({f["shot"] for f in frames}) == [1, 2, 3, 4, 5]
    for f in frames:
        # Its shot is the one its time falls in (a fade's frames belong to the shot whose half they are in).
        true = int(np.searchsorted(starts, f["time"] + 0.5 / 25, side="right"))
        assert f["shot"] == true, f
        assert f["shot start"] <= f["time"] < f["shot end"]
    # Every 5 s (4 frames) and each shot's middle frame (5), none of them the same frame.
    assert len(frames) == 9
    middle = next(f for f in frames if f["shot"] == 2)
    detail = project.frame(middle["id"])
    assert detail["film"] == str(film_copy / "reel.mp4") and detail["film_shots"] == 5
    assert [s["id"] for s in detail["shot_frames"]] == [f["id"] for f in frames if f["shot"] == 2]
    assert project.file(detail["previous_shot"])["shot"] == 1
    assert project.file(detail["next_shot"])["shot"] == 3
    assert project.frame(detail["previous_shot"])["previous_shot"] is None
    with pytest.raises(NotFound, match="no frame of a film"):
        project.frame(10**9)


def test_reimporting_a_film_adds_nothing_and_a_changed_film_is_reported(film_copy, films, tmp_path):
    project = imagier.open(tmp_path / "p.imagier")
    first = project.import_folders(film_copy, workers=1)
    again = project.import_folders(film_copy, workers=1)
    assert again["added"] == 0 and again["changed"] == [] and again["missing"] == []
    assert again["total"] == first["total"]
    # Touched, same bytes: nothing new, nothing changed.
    film = film_copy / "second.webm"
    film.touch()
    touched = project.import_folders(film_copy, workers=1)
    assert touched["added"] == 0 and touched["changed"] == []
    # Other bytes under the same name: the film is reported changed, once, and its frames follow it.
    shutil.copyfile(films["mp4"], film_copy / "moved.mp4")
    film.unlink()
    corpus.make_film(film, _plan(list(reversed(WEBM_SHOTS)), fps=30, codec="vp9"))
    changed = project.import_folders(film_copy, workers=1)
    assert changed["changed"] == [str(film)]
    assert changed["total"] == first["total"] + 4  # moved.mp4's frames are new files
    hashes = {f["hash"] for f in _frames(project) if f["film"] == str(film)}
    assert len(hashes) == 2


def test_a_corrupt_or_unsupported_film_is_reported_and_the_others_import(film_copy, tmp_path):
    data = (film_copy / "reel.mp4").read_bytes()
    (film_copy / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (film_copy / "notes.mkv").write_bytes(b"these are field notes, not a film" * 20)
    (film_copy / "empty.webm").write_bytes(b"")
    project = imagier.open(tmp_path / "p.imagier")
    report = project.import_folders(film_copy, workers=2)
    failed = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert set(failed) == {"truncated.mp4", "notes.mkv", "empty.webm"}, failed
    assert "empty file" in failed["empty.webm"]
    assert "not a film FFmpeg can read" in failed["notes.mkv"]
    assert failed["truncated.mp4"]  # FFmpeg's own reason: the index of the film is missing
    assert {Path(f["film"]).name for f in _frames(project)} == {"reel.mp4", "second.webm"}


def test_an_import_of_films_cancelled_midway_resumes_without_taking_a_frame_twice(film_copy, tmp_path):
    project = imagier.open(tmp_path / "p.imagier")
    cancel = threading.Event()

    def progress(event: dict) -> None:
        if "film_seconds" in event or event.get("done", 0) >= 2:
            cancel.set()

    report = project.import_folders(film_copy, workers=1, film_shots=True, progress=progress, cancel=cancel)
    assert report["state"] == "cancelled"
    before = len(_frames(project))
    resumed = project.resume_import(report["job"], workers=2)
    assert resumed["state"] == "done" and resumed["failed"] == []
    frames = _frames(project)
    assert len(frames) > before
    assert len({f["path"] for f in frames}) == len(frames)
    whole = imagier.open(tmp_path / "whole.imagier")
    whole.import_folders(film_copy, workers=2, film_shots=True)
    assert [(f["path"], f["hash"], f["shot"]) for f in _frames(whole)] == [(f["path"], f["hash"], f["shot"])
                                                                           for f in frames]


def test_film_sampling_is_checked_before_anything_is_written(film_copy, tmp_path):
    project = imagier.open(tmp_path / "p.imagier")
    for every, shots in ((-1, False), (0, False), (float("nan"), False), (5, "yes")):
        with pytest.raises(InvalidInput):
            project.import_folders(film_copy, film_every=every, film_shots=shots)
    assert project.file_count() == 0


def test_csv_export_carries_film_time_and_shot(film_copy, tmp_path):
    project = imagier.open(tmp_path / "p.imagier")
    project.import_folders(film_copy / "reel.mp4", workers=1, film_every=5, film_shots=True)
    out = io.StringIO()
    project.export_csv(out, sort=[{"property": "time"}])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:5] == ["path", "film[path]", "timecode[text]", "time[number]", "shot[number]"]
    frames = _frames(project)
    assert [r[1] for r in rows[1:]] == [str(film_copy / "reel.mp4")] * len(frames)
    assert [float(r[3]) for r in rows[1:]] == sorted(f["time"] for f in frames)
    assert {int(r[4]) for r in rows[1:]} == {1, 2, 3, 4, 5}
    # Read back, the frames' columns are built-in and left alone.
    report = project.import_csv(io.StringIO(out.getvalue()), dry_run=True)
    skipped = {column["column"] if isinstance(column, dict) else column for column in report["skipped_columns"]}
    assert skipped >= {"film[path]", "timecode[text]", "time[number]", "shot[number]"}, report["skipped_columns"]


def test_the_server_streams_a_film_with_range_requests_and_only_films_of_the_project(film_copy, tmp_path,
                                                                                     tmp_path_factory):
    from imagier.server.app import create_app
    project = imagier.open(tmp_path / "p.imagier")
    project.import_folders(film_copy / "second.webm", workers=1)
    film_id = project.frame(_frames(project)[0]["id"])["film_id"]
    size = (film_copy / "second.webm").stat().st_size
    with LiveServer(create_app(project)) as server, httpx.Client(base_url=server.url) as client:
        whole = client.get(f"/api/films/{film_id}/video")
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/webm"
        assert whole.content == (film_copy / "second.webm").read_bytes()
        part = client.get(f"/api/films/{film_id}/video", headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206 and part.content == whole.content[100:1100]
        assert part.headers["content-range"] == f"bytes 100-1099/{size}"
        tail = client.get(f"/api/films/{film_id}/video", headers={"Range": f"bytes={size - 10}-"})
        assert tail.status_code == 206 and tail.content == whole.content[-10:]
        beyond = client.get(f"/api/films/{film_id}/video", headers={"Range": f"bytes={size + 10}-"})
        assert beyond.status_code == 416
        assert client.get(f"/api/films/{film_id + 1}/video").status_code == 404
        assert client.get("/api/films/..%2F..%2Fetc%2Fpasswd/video").status_code in (404, 422)
        frame = client.get(f"/api/files/{_frames(project)[0]['id']}/frame").json()
        assert frame["film_id"] == film_id and frame["time"] == 0
        original = client.get(f"/api/originals/{_frames(project)[1]['hash']}")
        assert original.status_code == 200 and original.headers["content-type"] == "image/png"
        # The film's path turned into a link to a file outside the imported folders and the server's roots
        # (the project's folder, the home folder): not served.
        outside = tmp_path_factory.mktemp("outside") / "elsewhere.webm"
        (film_copy / "second.webm").rename(outside)
        (film_copy / "second.webm").symlink_to(outside)
        refused = client.get(f"/api/films/{film_id}/video")
        assert refused.status_code == 403 and outside.name in refused.text


@pytest.mark.browser
def test_the_detail_of_a_frame_plays_the_film_from_the_frame_s_moment(film_copy, tmp_path, chromium):
    project = imagier.open(tmp_path / "p.imagier")
    project.import_folders(film_copy / "second.webm", workers=1, film_every=2, film_shots=True)
    frames = _frames(project)
    chosen = next(f for f in frames if f["time"] >= 4)
    with served_page(chromium, project) as (page, server):
        page.click("[data-testid=mode-table]")
        row = project.query_ids(None).index(chosen["id"])
        page.dblclick(f"[data-testid=table-row] >> nth={row} >> [data-testid=table-thumb]")
        page.wait_for_selector("[data-testid=detail-film-video]")
        page.wait_for_function("() => { const v = document.querySelector('[data-testid=detail-film-video]'); "
                               "return v.readyState >= 1 && v.currentTime > 0; }", timeout=20000)
        current = page.evaluate("document.querySelector('[data-testid=detail-film-video]').currentTime")
        assert current == pytest.approx(chosen["time"], abs=0.001)
        strip = page.locator("[data-testid=detail-film-frame]")
        assert strip.count() == len([f for f in frames if f["shot"] == chosen["shot"]])
        screenshot(page, "film-frame-detail")
        # The next shot's first frame, and the film moves there.
        page.click("[data-testid=detail-film-next]") if chosen["shot"] < 3 else page.click(
            "[data-testid=detail-film-previous]")
        target = project.frame(chosen["id"])["next_shot" if chosen["shot"] < 3 else "previous_shot"]
        time = project.file(target)["time"]
        page.wait_for_function(f"() => Math.abs(document.querySelector('[data-testid=detail-film-video]')"
                               f".currentTime - {time}) < 0.001", timeout=20000)


def test_a_project_s_own_property_named_like_a_frame_s_built_in_is_renamed_keeping_its_values(tmp_path):
    from conftest import older_project_file
    path = tmp_path / "older.imagier"
    conn = older_project_file(path, 7)
    with conn:
        conn.execute("INSERT INTO properties(id, name, type, scope) VALUES (1, 'Time', 'text', 'file'), "
                     "(2, 'place', 'text', 'file')")
        conn.execute("INSERT INTO property_values(property_id, target_id, value) VALUES (1, 5, 'dusk')")
    conn.close()
    project = imagier.open(path)
    own = {p["name"]: p for p in project.properties() if not p["builtin"]}
    assert set(own) == {"Time (own)", "place"}
    assert next(p for p in project.properties() if p["name"] == "time")["builtin"]
    with pytest.raises(InvalidInput):
        project.create_property("shot", "number")


def test_the_command_imports_a_film_and_shows_a_frame_s_film_time_and_shot(film_copy, tmp_path):
    def command(*args):
        done = subprocess.run([sys.executable, "-m", "imagier.cli", *map(str, args), "--json"], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    project = tmp_path / "p.imagier"
    report = command("import", project, film_copy / "second.webm", "--no-embed", "--every", 4, "--shots")
    assert report["failed"] == [] and report["added"] == 6  # at 0, 4 and 8 s, and the shots' middles, 1.5, 4.5, 7.5 s
    with imagier.open(project) as opened:
        frame = next(f for f in _frames(opened) if f["time"] == pytest.approx(4.0))
    shown = command("frame", project, frame["id"])
    assert (shown["film"], shown["time"], shown["shot"]) == (str(film_copy / "second.webm"), frame["time"], 2)


def test_the_page_s_import_job_takes_the_films_sampling(film_copy, tmp_path):
    from imagier.server.app import create_app
    from live import finished_job
    project = imagier.open(tmp_path / "p.imagier")
    with LiveServer(create_app(project, roots=[film_copy])) as server, httpx.Client(base_url=server.url) as client:
        started = client.post("/api/imports", json={"folders": [str(film_copy)], "embed": False, "film_every": 3})
        assert started.status_code == 202, started.text
        job = finished_job(client, started.json()["job"])
        assert job["state"] == "done", job
        refused = client.post("/api/imports", json={"folders": [str(film_copy)], "embed": False, "film_every": -1})
        assert refused.status_code == 422
    times = sorted(f["time"] for f in _frames(project) if f["film"].endswith("reel.mp4"))
    assert times == pytest.approx([0, 3, 6, 9, 12, 15], abs=1e-6)


def test_the_text_in_a_frame_is_read_from_the_frame_decoded_again(film_copy, tmp_path):
    project = imagier.open(tmp_path / "p.imagier")
    project.import_folders(film_copy / "reel.mp4", workers=1, film_every=10)
    report = project.read_text(workers=1)
    assert report["failed"] == [] and report["read"] == 2
