"""What an action receives as its first argument: the images it runs on, the project, progress and cancel."""

from __future__ import annotations

import io
import threading
from typing import Callable, Iterator

import numpy as np
from PIL import Image


class Cancelled(Exception):
    """Raised by `Context.check_cancelled()` when the user cancelled the run."""


class Context:
    """The world of one run of an action.

    - `ids`: the file ids it runs on (a group, the selection or the view); for a "similar" action, the
      query images. `filter`: the view's filter (the candidates of a "similar" action; None: all images).
    - `project`: the Project, with every operation of the Python API (values, properties, tags, vectors).
      Writes made during a run are one undoable operation, kept only if the action succeeds.
    - `progress(done, total)` reports progress; `cancelled` says whether the user asked to stop.
    """

    def __init__(self, project, ids: list[int], filter=None, *, params: dict | None = None,
                 progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None):
        self.project = project
        self.ids = list(ids)
        self.filter = filter
        self.params = dict(params or {})
        self._progress = progress
        self._cancel = cancel or threading.Event()

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Report that `done` of `total` steps are done (shown as a progress bar)."""
        if self._progress is not None:
            event = {"done": int(done), "total": None if total is None else int(total)}
            if message:
                event["phase"] = str(message)
            self._progress(event)

    @property
    def cancelled(self) -> bool:
        """Whether the user asked the run to stop: check it now and then in long loops."""
        return self._cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        """The event set on cancel, for Project operations that take `cancel=` (cluster, embed, import)."""
        return self._cancel

    def check_cancelled(self) -> None:
        """Raise `Cancelled` if the user asked the run to stop."""
        if self.cancelled:
            raise Cancelled("cancelled")

    def files(self, ids: list[int] | None = None) -> list[dict]:
        """The built-in fields of the images (default: `ids`): id, path, name, width, content_id, ..."""
        return self.project.files(self.ids if ids is None else ids)

    def values(self, properties: list[str] | None = None, ids: list[int] | None = None) -> dict[int, dict]:
        """The property values of the images (default: `ids`): {id: {property: value}}."""
        return self.project.values(self.ids if ids is None else ids, properties)

    def vectors(self, vector_type: str | None = None, ids: list[int] | None = None) -> np.ndarray:
        """One vector per image (default: `ids`, in order) of a vector type (default: the project's); an
        image without one is an error naming it."""
        files = self.files(ids)
        name = self.project.vector_type(vector_type)["name"]
        return self.project.vectors_of(name, [f["content_id"] for f in files])

    def images(self, ids: list[int] | None = None, batch: int = 256) -> Iterator[tuple[int, Image.Image]]:
        """(file id, thumbnail as a PIL image) for the images (default: `ids`), read a batch at a time; the
        thumbnails are at most 256 pixels a side, made at import (the originals are never read again)."""
        wanted = self.files(ids)
        for start in range(0, len(wanted), batch):
            chunk = wanted[start:start + batch]
            thumbnails = self.project.images.thumbnails_of([f["content_id"] for f in chunk])
            for f in chunk:
                data = thumbnails.get(f["content_id"])
                if data is not None:
                    image = Image.open(io.BytesIO(data))
                    image.load()
                    yield f["id"], image
