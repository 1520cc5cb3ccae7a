"""Importing IIIF manifests and collections: the `IiifImport` part.

An import reads its sources (manifests and collections, by URL or from local files, collections followed
into their members), then fetches each canvas's image through the Image API at the size asked, a few at a
time (iiif_fetch.py), and writes them in transactions of a few dozen images: the image's bytes are stored in
the project (nothing of it stays on disk), its path is its canvas's id, its name the canvas's label, its
folder the manifest (inside the folders of the collections that listed it), and the manifest's label,
metadata pairs, attribution and licence become text properties of it. A canvas already in the project is
skipped, so running an import again, or resuming an interrupted one, fetches only the images missing. A
source or a canvas that fails is reported with its reason; the others go on.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..checks import whole_number
from ..errors import InvalidInput, NotFound
from ..operations.oplog import OpLog
from ..store import annotations as annotations_sql
from ..store import files as files_sql
from ..store import iiif as iiif_sql
from ..store import imports as imports_sql
from ..store.db import Database, storable
from ..store.oplog import now
from ..store.types import BUILTINS
from .decode import Decoded, DecodeError, decode_bytes
from .iiif import Canvas, Collection, Manifest, NotIiif, image_request, read_document, read_info
from .iiif_fetch import FetchCancelled, Fetcher, FetchError

DEFAULT_SIZE = 1600  # pixels on the long side: enough to see a page, a fraction of a scan's bytes
DEFAULT_CONCURRENCY = 4  # requests at a time: polite to a library's server
MAX_CONCURRENCY = 16
MAX_DEPTH = 8  # collections nested deeper are not followed (and a collection listing itself ends there)
BATCH = 32  # images written per transaction
PROGRESS_INTERVAL = 0.2
MANIFEST = "manifest"  # the property holding the manifest's label
READING, FETCHING = "reading manifests", "fetching images"  # the phases of the progress events
# What a service answers a size it does not serve (400 Bad Request, 501 Not Implemented): its info.json says
# which it does.
SIZE_REFUSED = {400, 501}
# A property name the import cannot use (a built-in, or a user's property of another type) gets this suffix.
SUFFIX = " (IIIF)"

_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")


class IiifImport:
    """The IIIF imports of one project file, each logged in `oplog`."""

    def __init__(self, db: Database, oplog: OpLog):
        self.db = db
        self.oplog = oplog

    def check_iiif(self, sources, *, size: int | str | None = DEFAULT_SIZE, language: str | None = None,
                   concurrency: int = DEFAULT_CONCURRENCY) -> dict:
        """The options of an import as it will run them: sources (http or https URLs, or manifest files,
        made absolute), size (pixels on the long side, or "max"), language and concurrency; InvalidInput or
        NotFound naming the one at fault."""
        if isinstance(sources, (str, os.PathLike)):
            sources = [sources]
        if not isinstance(sources, (list, tuple)) or not sources:
            raise InvalidInput("give at least one IIIF manifest or collection: a URL or a file", sources=None)
        return {"sources": [_source(s) for s in sources], "size": _size(size), "language": _language(language),
                "concurrency": whole_number("concurrency", concurrency, maximum=MAX_CONCURRENCY)}

    def import_iiif(self, sources, *, size: int | str | None = DEFAULT_SIZE, language: str | None = None,
                    concurrency: int = DEFAULT_CONCURRENCY, progress: Callable[[dict], None] | None = None,
                    cancel: threading.Event | None = None) -> dict:
        """Import the images of IIIF manifests and collections (see the module). Returns {"added", "skipped",
        "failed": [{"manifest" or "canvas", "error"}], "manifests": read, "total": files in the project,
        "state"}. InvalidInput when no source could be read as IIIF (nothing is written then)."""
        options = self.check_iiif(sources, size=size, language=language, concurrency=concurrency)
        cancel = cancel or threading.Event()
        with Fetcher(options["concurrency"], cancel) as fetcher:
            run = _IiifRun(self.db, fetcher, options, progress, cancel)
            state = run.execute()
        report = {"added": run.added, "skipped": run.skipped, "failed": run.failed, "manifests": len(run.manifests),
                  "total": files_sql.file_count(self.db.reader), "state": state}
        self.oplog.log("import-iiif",
                       f"import {run.added} images from IIIF" + (" (cancelled)" if state == "cancelled" else ""),
                       {"sources": options["sources"], "size": options["size"], "added": run.added,
                        "skipped": run.skipped, "failed": len(run.failed)})
        return report

    def iiif_source(self, image: int) -> dict | None:
        """Where an image imported from IIIF comes from: {"manifest", "canvas", "image" (the URL its bytes
        were fetched from), "homepage"}; None for an image imported otherwise; NotFound for no image."""
        file_id = whole_number("image", image)
        if not (storable(file_id) and files_sql.files(self.db.reader, [file_id])):
            raise NotFound(f"no image with id {file_id}", id=file_id)
        return iiif_sql.source(self.db.reader, file_id)


def default_language() -> str:
    """The user's language from the environment (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), as a language tag;
    "en" when it names none."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "").split(":")[0].split(".")[0].split("@")[0].replace("_", "-")
        if value and value not in ("C", "POSIX") and _LANGUAGE.match(value):
            return value
    return "en"


def _source(source) -> str:
    text = str(source).strip() if isinstance(source, (str, os.PathLike)) else None
    if not text:
        shown = str(source)[:100]
        raise InvalidInput(f"a IIIF source must be a URL or a file, not {shown!r}", source=shown)
    if text.startswith(("http://", "https://")):
        return text
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        raise InvalidInput(f"{text[:200]!r}: only http and https URLs or manifest files are read", source=text[:200])
    path = Path(text).expanduser()
    if not path.is_file():
        raise NotFound(f"no manifest file or URL {text!r}", source=text)
    return str(path.resolve())


def _size(size) -> int | str:
    if size is None or (isinstance(size, str) and size.strip().lower() in ("max", "full")):
        return "max"
    if isinstance(size, str) and size.strip().isdigit():
        size = int(size)
    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 100_000:
        raise InvalidInput(f"size must be a number of pixels from 16 to 100000 on the long side, or \"max\", "
                           f"not {str(size)[:50]!r}", size=str(size)[:50])
    return size


def _language(language) -> str:
    if language is None or language == "":
        return default_language()
    if not isinstance(language, str) or not _LANGUAGE.match(language):
        shown = str(language)[:50]
        raise InvalidInput(f"{shown!r} is not a language tag (say en, fr or fr-CA)", language=shown)
    return language


@dataclass(frozen=True)
class _Fetched:
    canvas: Canvas
    manifest: Manifest
    url: str
    image: Decoded


class _IiifRun:
    """The state of one run of an import."""

    def __init__(self, db: Database, fetcher: Fetcher, options: dict, progress, cancel: threading.Event):
        self.db = db
        self.fetcher = fetcher
        self.sources = options["sources"]
        self.long_side = None if options["size"] == "max" else options["size"]
        self.language = options["language"]
        self.concurrency = options["concurrency"]
        self.report = progress
        self.cancel = cancel
        self.manifests: list[tuple[Manifest, str | None]] = []  # each with the id of the collection listing it
        self.collections: dict[str, tuple[str, str | None]] = {}  # id -> (label, id of its parent collection)
        self.folder_ids: dict[str, int] = {}
        self.property_ids: dict[str, int | None] = {}
        self.added = self.skipped = self.done = self.total = 0
        self.failed: list[dict] = []
        self.phase, self.last_path, self.last_report = READING, None, 0.0

    def execute(self) -> str:
        self._read_sources()
        if not self.manifests and not self.collections and self.failed and not self.cancel.is_set():
            raise InvalidInput("; ".join(f"{f['manifest']}: {f['error']}" for f in self.failed[:5]),
                               failed=self.failed[:20])
        todo = self._canvases_to_fetch()
        self.phase, self.total, self.done = FETCHING, self.skipped + len(todo), self.skipped
        self._progress(force=True)
        batch: list[_Fetched] = []
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="imagier-iiif") as pool:
            pending: set = set()
            upcoming = iter(todo)
            try:
                while True:
                    while not self.cancel.is_set() and len(pending) < 2 * self.concurrency \
                            and (item := next(upcoming, None)) is not None:
                        pending.add(pool.submit(self._fetch, *item))
                    if not pending:
                        break
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        self._take(future.result(), batch)
                    if len(batch) >= BATCH:
                        self._write(batch)
                        batch = []
                    self._progress()
            except BaseException:  # Ctrl-C, a failed write: requests in flight stop now, not after their retries
                self.cancel.set()
                raise
        self._write(batch)
        self._progress(force=True)
        return "cancelled" if self.cancel.is_set() else "done"

    # ---- reading the manifests ----------------------------------------------------------------------

    def _read_sources(self) -> None:
        """Read every source, following collections into their members, breadth first."""
        queue: deque = deque((source, None, 0) for source in self.sources)
        seen: set[str] = set()
        while queue and not self.cancel.is_set():
            item, parent, depth = queue.popleft()
            name = item if isinstance(item, str) else str(item.get("id") or item.get("@id"))
            if name in seen:
                continue
            seen.add(name)
            try:
                found = read_document(item if isinstance(item, dict) else self.fetcher.document(item), self.language)
            except (FetchError, NotIiif) as e:
                self.failed.append({"manifest": name, "error": str(e)})
                continue
            except FetchCancelled:
                break
            if isinstance(found, Collection):
                self.collections.setdefault(found.id, (found.label, parent))
                if depth >= MAX_DEPTH:
                    self.failed.append({"manifest": found.id, "error": f"collections nested more than {MAX_DEPTH} "
                                                                       "deep are not followed"})
                    continue
                queue.extend((member if _embedded(member) else str(member.get("id") or member.get("@id")),
                              found.id, depth + 1) for member in found.members)
            else:
                self.manifests.append((found, parent))
            self.done, self.total, self.last_path = self.done + 1, self.done + 1 + len(queue), name
            self._progress()

    def _canvases_to_fetch(self) -> list[tuple[Canvas, Manifest]]:
        """The canvases not in the project yet (each once); those that are count as skipped."""
        todo, queued = [], set()
        for manifest, _ in self.manifests:
            known = iiif_sql.file_ids_at(self.db.reader, [c.id for c in manifest.canvases])
            for canvas in manifest.canvases:
                if canvas.id in known or canvas.id in queued:
                    self.skipped += 1
                else:
                    queued.add(canvas.id)
                    todo.append((canvas, manifest))
        return todo

    # ---- fetching, in the pool's threads ------------------------------------------------------------

    def _fetch(self, canvas: Canvas, manifest: Manifest) -> _Fetched | dict | None:
        """The canvas's image fetched and decoded, or its failure as the report lists it; None when the
        import was cancelled before it started or while it waited to try again."""
        if self.cancel.is_set():
            return None
        try:
            url, data = self._image(canvas)
            return _Fetched(canvas, manifest, url, decode_bytes(data, canvas.id, time.time_ns(), keep_bytes=True))
        except FetchCancelled:
            return None
        except (FetchError, NotIiif, DecodeError) as e:
            return {"canvas": canvas.id, "manifest": manifest.id, "error": str(e)}
        except Exception as e:  # noqa: BLE001 - one canvas's failure, whatever it is, is that canvas's
            return {"canvas": canvas.id, "manifest": manifest.id, "error": f"unexpected error: {type(e).__name__}: {e}"}

    def _image(self, canvas: Canvas) -> tuple[str, bytes]:
        """The URL the canvas's picture is asked at, and its bytes."""
        if canvas.described is not None:  # one request, sized from the manifest's description
            url = image_request(canvas.described, self.long_side)
            try:
                return url, self.fetcher.get(url)
            except FetchError as e:
                if e.status not in SIZE_REFUSED:
                    raise
        if canvas.service:
            info = read_info(self.fetcher.document(f"{canvas.service}/info.json"), canvas.service)
            url = image_request(info, self.long_side)
        elif canvas.image:  # a plain image, not behind an Image API service: it comes as it is
            url = canvas.image
        else:
            raise NotIiif("the canvas has no image")
        return url, self.fetcher.get(url)

    def _take(self, outcome, batch: list[_Fetched]) -> None:
        if outcome is None:
            return
        self.done += 1
        if isinstance(outcome, _Fetched):
            batch.append(outcome)
            self.last_path = outcome.canvas.id
        else:
            self.failed.append(outcome)

    # ---- writing ------------------------------------------------------------------------------------

    def _write(self, batch: list[_Fetched]) -> None:
        """One transaction: the images' contents and originals, their files, sources and properties."""
        if not batch:
            return
        with self.db.write() as conn:
            images = [f.image for f in batch]
            imports_sql.add_contents(
                conn, [(d.hash, d.format, d.width, d.height, d.size, d.taken, d.orientation, d.thumbnail_width,
                        d.thumbnail_height, d.thumbnail) for d in images], [(d.hash, d.data) for d in images])
            fetched_at = now()
            imports_sql.insert_files(conn, [(f.canvas.id, self._folder_id(conn, f.manifest.id), f.canvas.label,
                                             f.image.hash, fetched_at, f.image.mtime_ns) for f in batch])
            ids = iiif_sql.file_ids_at(conn, [f.canvas.id for f in batch])
            iiif_sql.add_sources(conn, [(ids[f.canvas.id], f.manifest.id, f.canvas.id, f.url, f.manifest.homepage)
                                        for f in batch])
            values: dict[str, list[tuple[int, str]]] = {}
            for f in batch:
                for name, text in {MANIFEST: f.manifest.label, **f.manifest.properties}.items():
                    values.setdefault(name, []).append((ids[f.canvas.id], text))
            for name, pairs in values.items():
                property_id = self._property_id(conn, name)
                if property_id is not None:
                    annotations_sql.set_each_value(conn, property_id, pairs)
        self.added += len(batch)

    def _folder_id(self, conn, path: str) -> int:
        """The folder of a manifest or collection, inside those of the collections that listed it."""
        if path not in self.folder_ids:
            label, parent = self._folder_of(path)
            parent_id = self._folder_id(conn, parent) if parent else None
            self.folder_ids[path] = iiif_sql.folder(conn, path, label, parent_id)
        return self.folder_ids[path]

    def _folder_of(self, path: str) -> tuple[str, str | None]:
        if path in self.collections:
            return self.collections[path]
        return next((m.label, parent) for m, parent in self.manifests if m.id == path)

    def _property_id(self, conn, name: str) -> int | None:
        """The text property a manifest's field goes into: the one of its name, created when missing, or
        NAME (IIIF) when that name is a built-in's or a property of another type (which is left alone)."""
        if name not in self.property_ids:
            self.property_ids[name] = None
            for candidate in (name, name + SUFFIX):
                found = None if candidate.lower() in BUILTINS else _text_property(conn, candidate)
                if found is not None:
                    self.property_ids[name] = found["id"]
                    break
        return self.property_ids[name]

    def _progress(self, force: bool = False) -> None:
        if self.report is None:
            return
        moment = time.monotonic()
        if force or moment - self.last_report >= PROGRESS_INTERVAL:
            self.last_report = moment
            self.report({"phase": self.phase, "done": self.done, "total": self.total, "added": self.added,
                         "skipped": self.skipped, "failed": len(self.failed), "path": self.last_path})


def _text_property(conn, name: str) -> dict | None:
    """The user's text property `name`, created per file when there is none; None when the name is taken
    by a property of another type or by a machine-made one."""
    found = annotations_sql.property_named(conn, name)
    if found is None:
        annotations_sql.add_property(conn, name, "text", "file")
        found = annotations_sql.property_named(conn, name)
    return found if found["type"] == "text" and not found["machine"] else None


def _embedded(member: dict) -> bool:
    """Whether a collection's member is the whole document (its canvases or members are there) rather than
    a reference to fetch."""
    return any(key in member for key in ("sequences", "items", "manifests", "members", "collections"))
