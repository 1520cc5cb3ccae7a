"""The demo corpus: real photographs that ship inside scikit-image, with edited copies and dates,
imported into a project with a few annotations, so every feature has something to show offline."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageOps

from .errors import ImagierError
from .project import Project

# Photographs among scikit-image's bundled data, with a subject for the demo's "subject" tags.
PHOTOS = {
    "astronaut.png": "people", "camera.png": "people", "chelsea.png": "animal", "coffee.png": "object",
    "coins.png": "object", "rocket.jpg": "space", "hubble_deep_field.jpg": "space", "moon.png": "space",
    "motorcycle_left.png": "object", "motorcycle_right.png": "object", "retina.jpg": "science",
    "ihc.png": "science", "brick.png": "texture", "grass.png": "texture", "gravel.png": "texture",
    "clock_motion.png": "object", "page.png": "document", "text.png": "document",
}
EDITS = {
    "original": lambda im: im,
    "mirrored": ImageOps.mirror,
    "cropped": lambda im: im.crop((im.width // 8, im.height // 8, im.width * 7 // 8, im.height * 7 // 8)),
    "grey": lambda im: ImageOps.grayscale(im).convert("RGB"),
}
EXIF_IFD, DATE_TAKEN = 0x8769, 0x9003


def sample_photo_folder() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise ImagierError("the demo uses the photographs shipped with scikit-image: "
                           "pip install 'imagier[demo]' (or pip install scikit-image)")
    return Path(spec.origin).parent / "data"


def write_demo_photos(folder: Path) -> list[Path]:
    """Write the photographs and their edited copies as JPEGs with EXIF dates, one subfolder per edit."""
    source = sample_photo_folder()
    written, start = [], datetime(2019, 1, 15, 10, 30)
    for index, (name, _subject) in enumerate(sorted(PHOTOS.items())):
        if not (source / name).exists():
            continue
        with Image.open(source / name) as opened:
            photo = opened.convert("RGB")
        for edit_index, (edit, apply) in enumerate(EDITS.items()):
            taken = start + timedelta(days=97 * index + 31 * edit_index, hours=edit_index)
            exif = Image.Exif()
            exif.get_ifd(EXIF_IFD)[DATE_TAKEN] = taken.strftime("%Y:%m:%d %H:%M:%S")
            target = folder / edit / f"{Path(name).stem}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            apply(photo).save(target, quality=90, exif=exif)
            written.append(target)
    return written


def build_demo(folder: Path) -> dict:
    """Create (or refresh) the demo project in `folder`, embedded with the default model; returns its path
    and size."""
    folder = folder.expanduser().resolve()
    photos = folder / "photos"
    if not photos.exists():
        write_demo_photos(photos)
    project_path = folder / "demo.imagier"
    with Project(project_path) as project:
        report = project.import_folders([photos])
        project.embed()  # the offline model: similar images, clusters, labels and duplicates work at once
        if not any(p["name"] == "subject" for p in project.properties()):
            project.create_property("subject", "multi-tag")
            project.create_property("note", "text")
            for name, subject in PHOTOS.items():
                ids = project.query_ids({"property": "name", "op": "eq", "value": f"{Path(name).stem}.jpg"})
                if ids:
                    project.add_values("subject", ids, [subject])
        files = project.file_count()
    return {"project": str(project_path), "files": files, "added": report["added"], "failed": report["failed"]}
