"""Folders the page may browse (allowed roots, links that lead out), switching projects, and the project
file as a download: through the Python API and a real server."""

from __future__ import annotations

import os
import shutil
import sqlite3

import httpx
import pytest

import imagier
from imagier.errors import Forbidden, InvalidInput
from imagier.ingest.browse import FolderRoots
from imagier.server.app import create_app
from live import LiveServer


@pytest.fixture
def tree(tmp_path, photo_dir):
    """root/ holding photos/ (2 images, one sub-folder), .hidden/, and links to inside and outside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "photos" / "more").mkdir(parents=True)
    (root / ".hidden").mkdir()
    outside.mkdir()
    shutil.copy(photo_dir / "2019" / "astronaut.jpg", root / "photos")
    shutil.copy(photo_dir / "2019" / "coffee.jpg", root / "photos")
    (root / "photos" / "notes.txt").write_text("not an image")
    os.symlink(outside, root / "escape")
    os.symlink(root / "photos", root / "inside")
    return root, outside


def test_a_listing_counts_images_and_leaves_out_hidden_folders_and_escaping_links(tree, photo_dir):
    root, outside = tree
    roots = FolderRoots([root])
    listing = roots.listing(root)
    names = [f["name"] for f in listing["folders"]]
    assert names == ["inside", "photos"]  # not .hidden, not the link to outside
    photos = next(f for f in listing["folders"] if f["name"] == "photos")
    assert (photos["images"], photos["folders"], photos["complete"]) == (2, 1, True)
    # Images in sub-folders count, as an import finds them; a linked folder is not followed.
    shutil.copy(photo_dir / "2020" / "chelsea.jpg", root / "photos" / "more")
    listing = roots.listing(root)
    assert next(f for f in listing["folders"] if f["name"] == "photos")["images"] == 3
    assert (listing["images"], listing["complete"]) == (3, True)  # not 6: "inside" links to photos
    assert listing["parent"] is None  # the root's parent is outside
    (root / "photos" / "corpus.imagier").write_bytes(b"")
    inner = roots.listing(root / "photos")
    assert inner["images"] == 3 and inner["parent"] == str(root) and inner["projects"] == ["corpus.imagier"]
    assert roots.listing(None)["folders"][0]["path"] == str(root)


@pytest.mark.parametrize("path", ["{outside}", "{root}/..", "{root}/escape", "{root}/escape/x", "/"])
def test_paths_outside_the_roots_are_refused(tree, path):
    root, outside = tree
    with pytest.raises(Forbidden, match="outside the folders"):
        FolderRoots([root]).listing(path.format(root=root, outside=outside))


def test_a_nul_character_in_a_path_is_invalid_input_naming_the_parameter(tree, imported):
    root, _ = tree
    with pytest.raises(InvalidInput, match="the folders .* contains a NUL character") as refused:
        FolderRoots([root]).check(f"{root}\x00/x", "folders")
    assert refused.value.details == {"parameter": "folders"}
    with pytest.raises(InvalidInput, match="NUL character"):
        imported.import_folders([f"{root}\x00"])
    with pytest.raises(InvalidInput, match="the image path .* contains a NUL character"):
        imported.file_id(f"{root}/x\x00.jpg")


@pytest.fixture
def served(imported, tmp_path):
    with LiveServer(create_app(imported)) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield server, client, imported


def test_the_folder_route_lists_inside_the_roots_and_refuses_outside(served, tmp_path):
    server, client, project = served
    (tmp_path / "sub").mkdir()
    answer = client.get("/api/folders", params={"path": str(tmp_path)})
    assert answer.status_code == 200
    assert "sub" in [f["name"] for f in answer.json()["folders"]]
    assert str(tmp_path) in answer.json()["roots"]
    refused = client.get("/api/folders", params={"path": "/etc"})
    assert refused.status_code == 403
    assert refused.json()["error"] == "Forbidden" and "outside the folders" in refused.json()["message"]
    assert client.get("/api/folders", params={"path": str(tmp_path / "missing")}).status_code == 404
    nul = client.get("/api/folders", params={"path": f"{tmp_path}\x00"})
    assert nul.status_code == 400 and nul.json()["parameter"] == "path" and "NUL" in nul.json()["message"]


def test_the_download_is_a_valid_copy_of_the_project(served, tmp_path):
    server, client, project = served
    project.create_property("note", "text")
    first = project.query_ids()[0]
    project.set_values("note", [first], "kept in the copy")
    answer = client.get("/api/project/download")
    assert answer.status_code == 200
    assert 'filename="test.imagier"' in answer.headers["content-disposition"]
    copy = tmp_path / "downloaded.imagier"
    copy.write_bytes(answer.content)
    assert sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with imagier.open(copy, create=False) as opened:
        assert opened.values([first]) == {first: {"note": "kept in the copy"}}
        assert opened.file_count() == project.file_count()


def test_switching_projects_opens_and_creates_inside_the_roots_only(served, tmp_path):
    server, client, project = served
    new = tmp_path / "fresh"
    created = client.post("/api/project/open", json={"path": str(new), "create": True})
    assert created.status_code == 200, created.text
    assert created.json()["path"] == str(new) + ".imagier" and created.json()["files"] == 0
    assert client.get("/api/info").json()["files"] == 0
    again = client.post("/api/project/open", json={"path": str(new) + ".imagier", "create": True})
    assert again.status_code == 409
    back = client.post("/api/project/open", json={"path": str(tmp_path / "test.imagier")})
    assert back.status_code == 200 and back.json()["files"] > 0
    outside = client.post("/api/project/open", json={"path": "/tmp/../etc/x.imagier", "create": True})
    assert outside.status_code == 403
    missing = client.post("/api/project/open", json={"path": str(tmp_path / "nope.imagier")})
    assert missing.status_code == 404


def test_counting_stops_at_its_time_budget_and_says_the_count_is_a_lower_bound(tmp_path, monkeypatch):
    from imagier.ingest import browse
    deep = tmp_path / "deep"
    folder = deep
    for level in range(30):
        folder = folder / f"level{level}"
        folder.mkdir(parents=True)
        (folder / "a.jpg").write_bytes(b"")
    monkeypatch.setattr(browse, "COUNT_BUDGET", 0.0)
    listing = FolderRoots([tmp_path]).listing(tmp_path)
    assert listing["complete"] is False and listing["folders"][0]["complete"] is False
    assert listing["folders"][0]["images"] < 30
    monkeypatch.setattr(browse, "COUNT_BUDGET", 10.0)
    listing = FolderRoots([tmp_path]).listing(tmp_path)
    assert listing["complete"] is True and listing["folders"][0]["images"] == 30
