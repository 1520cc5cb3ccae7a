"""The folders a server may show to its page: allowed roots, and a listing of one folder's sub-folders.

The web page picks folders to import, and where to open or create projects, on the server's machine.
It may only see inside the allowed roots (by default the project's own folder and the user's home):
every path is resolved, symbolic links included, before it is checked, so neither `..` nor a link can
lead out of them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import Conflict, Forbidden, InvalidInput, NotFound, refuse_nul
from .scan import is_image_name, walk

# A folder with more sub-folders than this is listed in part (the page says so): counting the images of
# each costs a directory read.
MAX_ENTRIES = 2000
# Seconds a listing may spend counting images in sub-folders; counts it could not finish are lower
# bounds, marked incomplete ("at least").
COUNT_BUDGET = 1.0


class FolderRoots:
    """The folders a page may browse, and the checks that keep it inside them."""

    def __init__(self, roots):
        resolved = []
        for root in roots:
            path = Path(root).expanduser().resolve()
            if path.is_dir() and path not in resolved:
                resolved.append(path)
        self.roots = resolved

    def check(self, path: str | os.PathLike, parameter: str = "path") -> Path:
        """The resolved path, or Forbidden when it lies outside every root; InvalidInput naming `parameter`
        when it is no path."""
        if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
            raise InvalidInput(f"a folder path is needed for {parameter}", parameter=parameter)
        resolved = Path(refuse_nul(path, parameter)).expanduser().resolve()
        if not self.allows(resolved):
            raise Forbidden(f"{path} is outside the folders this server may show ({self.describe()}); "
                            "serve with `imagier serve --root DIR` to allow another folder", path=str(path))
        return resolved

    def project_file(self, path: str | os.PathLike, create: bool = False) -> Path:
        """The resolved path of a project file to open (it must exist) or to create (it must not yet; the
        .imagier suffix is added when missing, and its folder must exist), inside the roots."""
        resolved = self.check(path)
        if not create:
            if not resolved.is_file():
                raise NotFound(f"no project file at {resolved}", path=str(resolved))
            return resolved
        if resolved.suffix != ".imagier":
            resolved = self.check(resolved.with_name(resolved.name + ".imagier"))
        if resolved.exists():
            raise Conflict(f"{resolved} already exists; open it instead, or choose another name", path=str(resolved))
        if not resolved.parent.is_dir():
            raise NotFound(f"no folder {resolved.parent} to create the project in", path=str(resolved.parent))
        return resolved

    def allows(self, resolved: Path) -> bool:
        return any(resolved == root or resolved.is_relative_to(root) for root in self.roots)

    def describe(self) -> str:
        return ", ".join(str(root) for root in self.roots) or "none"

    def listing(self, path: str | os.PathLike | None = None) -> dict:
        """A folder's sub-folders, each with its number of images and of folders directly in it; without a
        path, the roots themselves. Images are counted as an import would find them, in sub-folders too
        (hidden ones and linked folders left out), within COUNT_BUDGET seconds: a count not finished
        by then is a lower bound, with "complete": false.

        {"path", "parent", "images", "complete", "projects": [file name], "folders": [{"name", "path",
        "images", "complete", "folders"}], "truncated"}; `projects` are the .imagier files there. Hidden
        folders and links that lead out of the roots are left out."""
        deadline = time.monotonic() + COUNT_BUDGET
        if path is None or str(path).strip() == "":
            folders = [self._entry(root, str(root), deadline) for root in self.roots]
            return {"path": None, "parent": None, "images": 0, "complete": True, "projects": [], "folders": folders,
                    "truncated": False}
        folder = self.check(path)
        if not folder.is_dir():
            raise NotFound(f"no folder at {folder}", path=str(folder))
        try:
            children = sorted(os.scandir(folder), key=lambda e: e.name.lower())
        except OSError as e:
            raise Forbidden(f"cannot read {folder}: {e.strerror}", path=str(folder)) from None
        images, projects, folders, truncated, complete = 0, [], [], False, True
        for child in children:
            if child.name.startswith("."):
                continue
            if _is_file(child):
                images += is_image_name(child.name)
                if child.name.endswith(".imagier"):
                    projects.append(child.name)
                continue
            if not _is_dir(child):
                continue
            resolved = Path(child.path).resolve()
            if not self.allows(resolved):
                continue
            if len(folders) == MAX_ENTRIES:
                truncated = True
                continue
            entry = self._entry(resolved, child.name, deadline)
            folders.append(entry)
            if not child.is_symlink():  # an import does not follow linked folders either
                images += entry["images"]
                complete = complete and entry["complete"]
        parent = folder.parent if folder not in self.roots and self.allows(folder.parent) else None
        return {"path": str(folder), "parent": None if parent is None else str(parent), "images": images,
                "complete": complete and not truncated, "projects": projects, "folders": folders, "truncated": truncated}

    def _entry(self, folder: Path, name: str, deadline: float) -> dict:
        # An unreadable folder is still listed (walk skips it); opening it says why it cannot be read.
        images, subfolders, complete = 0, 0, True
        for parent, entry in walk(str(folder)):
            if time.monotonic() > deadline:
                complete = False
                break
            if _is_file(entry):
                images += is_image_name(entry.name)
            elif parent == str(folder) and _is_dir(entry):
                subfolders += 1
        return {"name": name, "path": str(folder), "images": images, "complete": complete, "folders": subfolders}


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
