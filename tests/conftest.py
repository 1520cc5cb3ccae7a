"""Shared fixtures: real photographs in every supported format, broken files, and projects.

The photographs are scikit-image's sample images (astronaut, coffee, chelsea, ...), written once per
session with known EXIF dates and orientations; `photo_manifest` says what each file should import as.
Every test gets its own project file; the slow parts (writing photos, importing them) run once.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import sys
from pathlib import Path

import apsw
import numpy as np
import pillow_heif
import pytest
import skimage.data
from PIL import Image

import imagier
from imagier.store.db import APPLICATION_ID, migrations

pillow_heif.register_heif_opener()

_EXIF_IFD, _DATETIME_ORIGINAL, _DATETIME, _ORIENTATION = 0x8769, 0x9003, 0x0132, 0x0112

# relative path -> (sample image, format, EXIF DateTimeOriginal, EXIF DateTime, EXIF orientation)
_PHOTOS = {
    "2019/astronaut.jpg": ("astronaut", "JPEG", "2019:03:14 10:15:00", None, None),
    "2019/coffee.jpg": ("coffee", "JPEG", "2019:07:02 08:30:05", None, None),
    "2020/chelsea.jpg": ("chelsea", "JPEG", "2020:01:05 17:45:00", None, None),
    "2020/summer/motorcycle.jpg": ("motorcycle_left", "JPEG", "2020:08:21 12:00:00", None, None),
    "2020/summer/hubble.jpg": ("hubble_deep_field", "JPEG", "2020:08:23 22:10:30", None, None),
    "2021/camera.jpg": ("camera", "JPEG", None, "2021:05:06 07:08:09", None),  # only the fallback DateTime
    "2021/rotated.jpg": ("rocket", "JPEG", "2021:11:30 09:00:00", None, 6),  # stored landscape, shown portrait
    "retina.jpg": ("retina", "JPEG", None, None, None),  # no EXIF at all
    "formats/camera.png": ("camera", "PNG", None, None, None),
    "formats/coffee.webp": ("coffee", "WEBP", None, None, None),
    "formats/chelsea.gif": ("chelsea", "GIF", None, None, None),
    "formats/astronaut.tiff": ("astronaut", "TIFF", None, None, None),
    "formats/rocket.BMP": ("rocket", "BMP", None, None, None),  # upper-case extension on purpose
    "formats/hubble.heic": ("hubble_deep_field", "HEIF", None, None, None),
}
# A byte-identical copy: two files, one content.
_COPIES = {"copies/astronaut-copy.jpg": "2019/astronaut.jpg"}
# Files next to the photos that are not images by name, so the scan must leave them out.
_NOT_IMAGES = {"notes.txt": b"field notes", "2019/.hidden.jpg": b"not looked at"}


def sample_pixels(name: str) -> np.ndarray:
    """One of scikit-image's sample photographs, by its loader's name or its file's (motorcycle_left)."""
    if name in skimage.data.__all__:
        return getattr(skimage.data, name)()
    return np.asarray(Image.open(Path(skimage.data.__file__).parent / f"{name}.png").convert("RGB"))


def _write_photo(path: Path, sample: str, fmt: str, original: str | None, fallback: str | None,
                 orientation: int | None) -> dict:
    img = Image.fromarray(sample_pixels(sample))
    exif = Image.Exif()
    if original:
        exif.get_ifd(_EXIF_IFD)[_DATETIME_ORIGINAL] = original
    if fallback:
        exif[_DATETIME] = fallback
    if orientation:
        exif[_ORIENTATION] = orientation
    options = {"JPEG": {"quality": 88}, "WEBP": {"quality": 80}, "HEIF": {"quality": 60}}.get(fmt, {})
    if original or fallback or orientation:
        options["exif"] = exif.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt, **options)
    width, height = img.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    date = original or fallback
    return {"format": fmt, "width": width, "height": height, "orientation": orientation or 1,
            "taken": date.replace(":", "-", 2).replace(" ", "T") if date else None,
            "size": path.stat().st_size, "sample": sample}



def older_project_file(path: Path, version: int) -> apsw.Connection:
    """A project file as an older imagier made it: its first `version` migrations and their header, open for
    the test to add the rows that version wrote."""
    conn = apsw.Connection(str(path))
    for number, sql in migrations()[:version]:
        with conn:
            conn.execute(sql)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {number}")
    return conn


def load_benchmark(name: str):
    """The script benchmarks/NAME.py as a module, for tests that run its builders and measures small.
    Registered in sys.modules, since a dataclass of the script looks its module up there."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def model_cache(tmp_path_factory, monkeypatch):
    """One cache of the built ONNX graphs for the session, so each test does not build them again."""
    monkeypatch.setenv("IMAGIER_CACHE", str(tmp_path_factory.getbasetemp() / "model-cache"))

@pytest.fixture(scope="session")
def photo_tree(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    root = tmp_path_factory.mktemp("photos")
    manifest = {rel: _write_photo(root / rel, *spec) for rel, spec in _PHOTOS.items()}
    for rel, source in _COPIES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / source, root / rel)
        manifest[rel] = dict(manifest[source])
    for rel, data in _NOT_IMAGES.items():
        (root / rel).write_bytes(data)
    return root, manifest


@pytest.fixture(scope="session")
def photo_dir(photo_tree) -> Path:
    """A folder of real photographs (shared by the session: copy it before changing anything in it)."""
    return photo_tree[0]


@pytest.fixture(scope="session")
def photo_manifest(photo_tree) -> dict[str, dict]:
    """What each file of photo_dir should import as: {relative path: {format, width, height, taken,
    orientation, size, sample}}; width and height as displayed, taken as ISO 8601 or None."""
    return photo_tree[1]


@pytest.fixture
def photo_copy(photo_dir, tmp_path) -> Path:
    """A private copy of photo_dir (same modification times), for tests that move or edit files."""
    return Path(shutil.copytree(photo_dir, tmp_path / "photos", copy_function=shutil.copy2))


def write_broken_files(folder: Path) -> dict[str, str]:
    """Write one file of each broken kind into `folder`; returns {name: words its error must contain}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.jpg").write_bytes(b"")
    jpeg = folder / "whole.jpg"
    Image.fromarray(skimage.data.coffee()).save(jpeg, "JPEG", quality=90)
    data = jpeg.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    png = folder / "whole.png"
    Image.fromarray(skimage.data.chelsea()).save(png, "PNG")
    (folder / "truncated.png").write_bytes(png.read_bytes()[:20_000])
    (folder / "text.png").write_text("this is a text file with an image's name\n")
    corrupt = bytearray(data)
    corrupt[200:] = np.random.default_rng(0).integers(0, 256, len(data) - 200, dtype=np.uint8).tobytes()
    (folder / "garbled.jpg").write_bytes(bytes(corrupt))
    return {"empty.jpg": "empty file (0 bytes)", "truncated.jpg": "truncated image",
            "truncated.png": "truncated image", "text.png": "not an image Pillow can read",
            "garbled.jpg": "image"}


@pytest.fixture(scope="session")
def broken_files(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A folder of broken files next to two good ones (whole.jpg, whole.png), and the expected reasons."""
    folder = tmp_path_factory.mktemp("broken")
    return folder, write_broken_files(folder)


@pytest.fixture
def broken_dir(broken_files) -> Path:
    return broken_files[0]


@pytest.fixture
def project(tmp_path):
    """A fresh, empty project at tmp_path/'test.imagier'."""
    with imagier.open(tmp_path / "test.imagier") as p:
        yield p


@pytest.fixture(scope="session")
def imported_template(photo_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("imported") / "template.imagier"
    with imagier.open(path) as p:
        p.import_folders([photo_dir])
    return path


def open_copy(template: Path, path: Path):
    """Open a copy of a project made once for the session, so that a test's writes stay its own."""
    shutil.copyfile(template, path)
    return imagier.open(path)


@pytest.fixture
def imported(imported_template, tmp_path):
    """A project of its own with photo_dir imported (a copy of one import made for the session)."""
    with open_copy(imported_template, tmp_path / "test.imagier") as p:
        yield p


HIST = "hist"


def histograms(project) -> tuple[list[int], np.ndarray]:
    """A 64-bin RGB histogram of every content's stored thumbnail: a tiny feature whose neighbours are
    easy to check by hand."""
    rows = project.db.reader.execute("SELECT id, hash FROM contents ORDER BY id").fetchall()
    feats = []
    for _, digest in rows:
        pixels = np.asarray(Image.open(io.BytesIO(project.thumbnail(digest))).convert("RGB")) // 64
        codes = (pixels[..., 0] * 16 + pixels[..., 1] * 4 + pixels[..., 2]).ravel()
        feats.append(np.bincount(codes, minlength=64) / codes.size)
    return [r[0] for r in rows], np.array(feats, dtype=np.float32)


@pytest.fixture(scope="session")
def embedded_template(photo_dir, tmp_path_factory) -> Path:
    """One project per session with the photos imported, embedded with EfficientNet-Lite0 (the default
    type) and phash, and holding the histogram type HIST."""
    path = tmp_path_factory.mktemp("embedded") / "template.imagier"
    with imagier.open(path) as p:
        p.import_folders([photo_dir])
        p.embed("efficientnet-lite0")
        p.embed("phash")
        ids, feats = histograms(p)
        p.create_vector_type(HIST, "test-histogram", 64)
        p.put_vectors(HIST, ids, feats)
    return path


@pytest.fixture
def embedded(embedded_template, tmp_path):
    """A project of its own with the photos imported and embedded (a copy of one made for the session)."""
    with open_copy(embedded_template, tmp_path / "embedded.imagier") as p:
        yield p


def _annotation_state(project) -> dict:
    """Every row of the tables a user's work lives in, to compare before and after a refused request."""
    tables = ("properties", "property_values", "tags", "tag_parents", "tag_values", "views", "ops", "files")
    conn = project.db.reader
    return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables}


@pytest.fixture
def state_of():
    """state_of(project) -> a snapshot of the user's work; equal snapshots mean the project is unchanged."""
    return _annotation_state


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, through Playwright (installed by the README's test command)."""
    from playwright.sync_api import sync_playwright
    from live import CHROMIUM, CHROMIUM_FLAGS
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def webui(embedded, chromium):
    """The web UI on a project of its own (the photographs imported and embedded), served on loopback and
    open in a fresh 1366x768 page: yields (page, server, project). Errors the page logs fail the test."""
    from live import served_page
    with served_page(chromium, embedded) as (page, server):
        server.project = embedded
        yield page, server, embedded
