"""Finding the image files under the folders a user imports."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InvalidInput, refuse_nul

EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp",
                        ".heic", ".heif"})
# Films, imported as their frames (films.py).
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".ogv",
                              ".wmv", ".flv", ".3gp"})


@dataclass(frozen=True)
class Found:
    path: str  # absolute POSIX path
    size: int
    mtime_ns: int


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in EXTENSIONS


def is_video_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def _importable(name: str) -> bool:
    return is_image_name(name) or is_video_name(name)


def resolve_roots(folders: Iterable[str | os.PathLike]) -> list[str]:
    """The absolute, resolved roots of an import, without roots nested in other roots."""
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    roots = []
    for folder in folders:
        path = Path(refuse_nul(folder, "folders")).expanduser().resolve()
        if not path.exists():
            raise InvalidInput(f"cannot import {str(folder)!r}: no such folder", path=str(folder))
        if path.is_file() and not _importable(path.name):
            raise InvalidInput(f"cannot import {str(folder)!r}: not a folder, an image file nor a film",
                               path=str(folder))
        roots.append(path.as_posix())
    roots = sorted(set(roots))
    return [r for r in roots if not any(is_under(r, other) for other in roots if other != r)]


def is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def walk(root: str, errors: list[dict] | None = None) -> Iterator[tuple[str, os.DirEntry]]:
    """(folder, entry) for every file and folder under `root`, as an import sees them.

    Hidden files and folders are left out: they are mostly system litter (macOS's `._IMG_0001.JPG`
    resource forks look like JPEGs but are not). Symbolic links to folders are not followed, so a
    link cycle cannot make the walk endless. Folders that cannot be read go to `errors`, when given.
    """
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(entry.path)
                    except OSError:
                        pass  # yielded all the same: the caller's own reading of it says why it fails
                    yield folder, entry
        except OSError as e:
            if errors is not None:
                errors.append({"path": folder, "error": f"cannot read folder: {e.strerror or e}"})


def scan(roots: list[str], links_within: Iterable[str | os.PathLike] | None = None) -> tuple[list[Found], list[dict]]:
    """Every image file and film under the roots (see `walk`), sorted by path, and the files and folders that
    could not be read.

    Symbolic links to files are followed wherever they lead, unless `links_within` names folders: then
    a link whose target lies outside all of them is left out and listed with the reason (an import
    started from the web page may read only inside the server's allowed folders)."""
    allowed = None if links_within is None else [os.path.realpath(folder) for folder in links_within]
    found: list[Found] = []
    errors: list[dict] = []
    for root in roots:
        if os.path.isfile(root):
            st = os.stat(root)
            found.append(Found(root, st.st_size, st.st_mtime_ns))
            continue
        for _, entry in walk(root, errors):
            try:
                if not (_importable(entry.name) and entry.is_file()):
                    continue
                if allowed is not None and entry.is_symlink() and not _leads_inside(entry.path, allowed):
                    errors.append({"path": entry.path, "error": "a link to a file outside the folders this server "
                                                                "may read: not imported"})
                    continue
                st = entry.stat()
                found.append(Found(entry.path, st.st_size, st.st_mtime_ns))
            except OSError as e:
                errors.append({"path": entry.path, "error": f"cannot read: {e.strerror or e}"})
    found.sort(key=lambda f: f.path)
    return found, errors


def _leads_inside(link: str, folders: list[str]) -> bool:
    # Folders inside the roots are never followed (see walk), so only the file itself can be a link;
    # realpath follows a chain of links to its end.
    target = os.path.realpath(link)
    return any(is_under(target, folder) for folder in folders)
