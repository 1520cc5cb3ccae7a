"""The Project: every operation of imagier, reached by the Python API, the CLI and the HTTP API.

A Project is a façade over explicit parts, each constructed in `__init__` with the parts it needs (see
docs/architecture.md). Each public method is a short delegation to the part that does the work, so this
class is the one place to see what a project can do, and each part the one place to read how.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .analysis.clustering import ClusterList, Clustering
from .analysis.duplicates import NEIGHBOURS, Duplicates
from .analysis.layout import Layout
from .analysis.memes import Memes
from .analysis.similarity import Query, Similarity
from .analysis.suggestions import Suggestions
from .analysis.textsearch import SearchResults, TextSearch
from .checks import DEFAULT_FILM_EVERY
from .errors import Conflict
from .exchange.csvfile import CsvExchange
from .ingest.iiif_import import DEFAULT_CONCURRENCY, DEFAULT_SIZE, IiifImport
from .ingest.importer import Importer
from .ingest.video import frame_png
from .ocr.reading import TextReading
from .operations.annotations import Annotations, TagRef
from .operations.files import Files
from .operations.films import Films
from .operations.oplog import OpLog
from .operations.query import Querying
from .operations.settings import Settings
from .operations.vectors import VectorStore
from .operations.views import Views
from .plugins.runner import PluginRunner
from .store.compiler import CompiledView
from .store.db import Database
from .vectors.base import Embedder
from .vectors.embed import Embedding
from .vectors.space import VectorSpace


class Project:
    """An imagier project file. Open one with `imagier.open(path)`."""

    def __init__(self, path: str | Path, create: bool = True):
        self.db = Database(path, create=create)
        self.oplog = OpLog(self.db)
        # The parts, bottom up: each is given what it uses, and nothing is made later.
        self.settings = Settings(self.db)
        self.annotations = Annotations(self.db, self.oplog)
        self.images = Files(self.db, read_frame=frame_png)
        self.films = Films(self.db)
        self.querying = Querying(self.db, self.annotations, self.images)
        self.saved_views = Views(self.db, self.querying)
        self.vector_store = VectorStore(self.db)
        self.vectors = VectorSpace(self.vector_store)
        self.importer = Importer(self.db, self.oplog)
        self.iiif = IiifImport(self.db, self.oplog)
        self.csv = CsvExchange(self.oplog, self.annotations, self.images, self.querying)
        self.embedding = Embedding(self.db, self.oplog, self.vector_store, self.images, self.settings)
        self.text_reading = TextReading(self.db, self.oplog, self.vector_store, self.images)
        self.memes = Memes(self.db, self.images)
        self.duplicate_finder = Duplicates(self.vectors, self.images, self.querying, self.memes)
        self.similarity = Similarity(self.vectors, self.images, self.querying, self.duplicate_finder)
        self.clustering = Clustering(self.vectors, self.similarity, self.images, self.querying, self.annotations,
                                     self.oplog, self.memes)
        self.suggesting = Suggestions(self.db, self.oplog, self.vectors, self.similarity, self.images,
                                      self.querying, self.annotations)
        self.text_search = TextSearch(self.vectors, self.images, self.querying)
        self.maps = Layout(self.db, self.vectors)
        self.plugin_runner = PluginRunner(self)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def ann_threshold(self) -> int:
        """Searches over more candidates than this use the approximate (FAISS) index; a project (or a test)
        may set its own."""
        return self.vectors.ann_threshold

    @ann_threshold.setter
    def ann_threshold(self, value: int) -> None:
        self.vectors.ann_threshold = value

    def info(self) -> dict:
        """A summary: counts of files and contents, the properties, the vector types, and the file's
        `data_version` when they were read."""
        return {
            "path": str(self.path),
            "version": self.data_version(),
            "files": self.file_count(),
            "contents": self.content_count(),
            "properties": [{"name": p["name"], "type": p["type"], "scope": p["scope"]}
                           for p in self.properties() if not p["builtin"]],
            "vectors": {t["name"]: {"model": t["model"], "dim": t["dim"], "count": t["count"],
                                    "default": t["default"]} for t in self.vector_types()},
        }

    def check_selection(self, filter=None, ids=None) -> None:
        """Refuse, before a background job starts, the images it would refuse once running: a filter that
        does not compile (InvalidInput or NotFound naming the bad part), or ids that are no image (NotFound).
        The filter is compiled, not run: checking it takes no time on any corpus."""
        self.querying.check_selection(filter, ids)

    def check_import(self, folders, *, embed: bool = True, model: str | None = None) -> list[str]:
        """Refuse, before any work starts, an import of folders that do not exist or an unknown model;
        returns the folders as the import will read them (see `check_folders`)."""
        checked = self.check_folders(folders)
        if embed:
            self.check_model(model)
        return checked

    def import_and_embed(self, folders, *, embed: bool = True, model: str | None = None,
                         progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None,
                         **import_options) -> dict:
        """Import folders, then embed the new images with `model` (the default one) unless embed=False:
        what `imagier import` and an import from the web page do. The import's report gains "embedding";
        progress events of the embedding carry "model"."""
        self.check_import(folders, embed=embed, model=model)
        report = self.import_folders(folders, progress=progress, cancel=cancel,
                                     then={"embed": embed, "model": model}, **import_options)
        return self._embed_imported(report, embed, model, progress, cancel)

    def resume_import_and_embed(self, job_id: int, *, workers: int | None = None,
                                progress: Callable[[dict], None] | None = None,
                                cancel: threading.Event | None = None) -> dict:
        """Finish an interrupted import as it was started: then embed the new images when the import was
        asked to (by `import_and_embed`: the command, the web page), with the model it named."""
        params = self.resumable_import(job_id)
        embed, model = params.get("embed", False), params.get("model")
        if embed:
            self.check_model(model)
        report = self.resume_import(job_id, workers=workers, progress=progress, cancel=cancel)
        return self._embed_imported(report, embed, model, progress, cancel)

    def _embed_imported(self, report: dict, embed: bool, model: str | None,
                        progress: Callable[[dict], None] | None, cancel: threading.Event | None) -> dict:
        if embed and not (cancel is not None and cancel.is_set()):
            report["embedding"] = self.embed(model, progress=progress, cancel=cancel)
        return report

    def undo(self) -> dict:
        """Undo the newest operation; returns what was undone."""
        return self.oplog.undo()

    def redo(self) -> dict:
        """Redo the operation undone last; returns what was redone."""
        return self.oplog.redo()

    def history(self, limit: int = 100) -> list[dict]:
        """The operation log, newest first."""
        return self.oplog.history(limit)

    def data_version(self) -> int:
        """A number that changes whenever the project file changes: a write here, by a job, or by another
        process (the CLI, a notebook). Open pages watch it to stay current."""
        return self.db.data_version()

    def save_copy(self, destination: str | Path) -> Path:
        """Write a consistent copy of the project, everything in it, to a new file (safe while the project
        is open and in use); returns the copy's path."""
        destination = Path(destination).expanduser()
        if destination.exists():
            raise Conflict(f"{destination} already exists; choose a new file name", path=str(destination))
        self.db.backup(destination)
        return destination

    def close(self) -> None:
        """Close the project file (a closed project can be copied whole, with everything in it)."""
        self.db.close()

    # ---- annotations -----------------------------------------------------------------------------

    def properties(self) -> list[dict]:
        """Every property: the built-in read-only ones first, then the user's in their order. `machine`:
        made by a model (the ImageNet guesses), whose values are guesses rather than annotations."""
        return self.annotations.properties()

    def property(self, name: str | int) -> dict:
        """One user property by name (case-insensitive) or id."""
        return self.annotations.property(name)

    def create_property(self, name: str, type: str, scope: str = "file") -> dict:
        """Create a property of a type (text, number, date, checkbox, url, colour, tag, multi-tag, path),
        per file or per content (shared by every file with the same bytes)."""
        return self.annotations.create_property(name, type, scope)

    def rename_property(self, name: str, new_name: str) -> dict:
        """Give a property another name; its values stay."""
        return self.annotations.rename_property(name, new_name)

    def delete_property(self, name: str) -> None:
        """Delete a property with its tags and values (undoable, like every change)."""
        return self.annotations.delete_property(name)

    def tags(self, property: str | int) -> list[dict]:
        """The tags of a tag property by name: id, name, colour, parent ids and number of images."""
        return self.annotations.tags(property)

    def tag(self, property: str | int, tag: TagRef) -> dict:
        """One tag of a tag property, by name or id."""
        return self.annotations.tag(property, tag)

    def create_tag(self, property: str | int, name: str, colour: str | None = None,
                   parents: Sequence[TagRef] = ()) -> dict:
        """Create a tag, with a colour (#rrggbb; one from the palette when None) and parent tags."""
        return self.annotations.create_tag(property, name, colour, parents)

    def update_tag(self, property: str | int, tag: TagRef, *, name: str | None = None, colour: str | None = None,
                   parents: Sequence[TagRef] | None = None) -> dict:
        """Rename a tag, change its colour, or replace its parents."""
        return self.annotations.update_tag(property, tag, name=name, colour=colour, parents=parents)

    def delete_tag(self, property: str | int, tag: TagRef) -> None:
        """Delete a tag; images lose it, its children lose it as a parent."""
        return self.annotations.delete_tag(property, tag)

    def merge_tags(self, property: str | int, sources: Sequence[TagRef], into: TagRef) -> dict:
        """Give every image of the source tags the target tag, move their children under it, delete them."""
        return self.annotations.merge_tags(property, sources, into)

    def set_values(self, property: str | int, ids: Iterable[int], value) -> int:
        """Give every image in `ids` this value (a tag property takes a tag name or a list of them; unknown
        tag names are created). None clears the value. Returns the number of images. One undoable operation."""
        return self.annotations.set_values(property, ids, value)

    def add_values(self, property: str | int, ids: Iterable[int], tags) -> int:
        """Add tags to every image in `ids`, keeping the tags they have (for a single-tag property, replace)."""
        return self.annotations.add_values(property, ids, tags)

    def remove_values(self, property: str | int, ids: Iterable[int], tags=None) -> int:
        """Remove these tags (or, with tags=None, every value of the property) from the images in `ids`."""
        return self.annotations.remove_values(property, ids, tags)

    def set_many(self, property: str | int, values: dict[int, object]) -> int:
        """Give each image its own value: {file id: value} (tag properties: a tag name or a list; unknown
        tags are created). Values are checked before anything is written. One undoable operation."""
        return self.annotations.set_many(property, values)

    def values(self, ids: Iterable[int], properties: Sequence[str] | None = None) -> dict[int, dict]:
        """The user properties' values of these images: {file id: {property name: value}}; absent = no value."""
        return self.annotations.values(ids, properties)

    # ---- images ----------------------------------------------------------------------------------

    def files(self, ids: Iterable[int]) -> list[dict]:
        """The built-in properties of these images, in the order asked; unknown ids are left out."""
        return self.images.files(ids)

    def existing_files(self, ids: Iterable[int]) -> list[dict]:
        """The built-in properties of these images, in the order asked, each once; NotFound naming the ids
        that are no image of the project (what every operation given ids from outside checks first)."""
        return self.images.existing_files(ids)

    def file(self, ref: int | str) -> dict:
        """One image by id or by path (absolute, or a unique suffix of its path)."""
        return self.images.file(ref)

    def file_id(self, path: str) -> int:
        """The id of the image at this path (absolute, or a unique end of its path)."""
        return self.images.file_id(path)

    def all_paths(self) -> list[tuple[int, str]]:
        """(id, path) of every file, for matching paths from outside (CSV) in one pass."""
        return self.images.all_paths()

    def file_count(self) -> int:
        """The number of files in the project."""
        return self.images.file_count()

    def content_count(self) -> int:
        """The number of distinct contents (files with identical bytes count once)."""
        return self.images.content_count()

    def same_content(self, file_id: int) -> list[dict]:
        """The other files with the same bytes as this one."""
        return self.images.same_content(file_id)

    def thumbnail(self, content_hash: str) -> bytes:
        """The JPEG thumbnail of a content, by its hash."""
        return self.images.thumbnail(content_hash)

    def original(self, content_hash: str, may_read: Callable[[Path], Path] | None = None
                 ) -> tuple[bytes | None, Path | None, str]:
        """The original image of a content: its bytes when stored in the project, else the path of a file
        of the project that still has those bytes on disk. Returns (bytes, path, format).

        A file counts as unchanged when its size and modification time are those recorded at import;
        one that differs is hashed again, so no other bytes are ever given under the content's hash.
        Conflict when the content's files all changed on disk since their import. `may_read` (the
        server's rule) gives the path to read for a file's path or raises Forbidden: a file it refuses
        is neither read nor hashed, and when it refuses them all, its refusal is raised. The original of a
        frame of a film is the frame decoded again from the film, as PNG bytes."""
        return self.images.original(content_hash, may_read)

    # ---- films -----------------------------------------------------------------------------------

    def frame(self, file_id: int) -> dict:
        """The film, time and shot of a frame: {"id", "film_id", "film", "time", "shot", "shot_start", "shot_end",
        "film_duration", "film_fps", "film_shots", "shot_frames": [{"id", "time", "hash"}] (by time),
        "previous_shot", "next_shot" (the first frame of the nearest shot before and after that has frames, or
        None)}. NotFound when the image is no frame of a film."""
        return self.films.frame(file_id)

    def film_video(self, film_id: int, may_read: Callable[[Path], Path] | None = None) -> Path:
        """The video file of a film, to play: NotFound when the project has no such film or the file is gone,
        Conflict when it changed since its import (its frames' times may no longer match), and `may_read`'s
        Forbidden (the server's rule) when it may not be read."""
        return self.films.film_video(film_id, may_read)

    # ---- saved_views -----------------------------------------------------------------------------

    def views(self) -> list[dict]:
        """The saved views, in their order: id, name and state."""
        return self.saved_views.views()

    def save_view(self, name: str, state: dict, id: int | None = None) -> dict:
        """Create a view, or replace view `id`. The state's filter, sort and group are checked first."""
        return self.saved_views.save_view(name, state, id)

    def delete_view(self, id: int) -> None:
        """Delete a saved view."""
        return self.saved_views.delete_view(id)

    # ---- querying --------------------------------------------------------------------------------

    def compile_view(self, filter=None, sort=None, group=None) -> CompiledView:
        """Check a view and compile it to SQL; raises InvalidInput or NotFound naming the bad part."""
        return self.querying.compile_view(filter, sort, group)

    def query(self, filter=None, sort=None, group=None, *, limit: int | None = None, offset: int = 0) -> dict:
        """The images of a view, in order: {"total", "rows", "ids", "groups"?}.

        `total` is the number of images matching the filter, `rows` the length of the whole ordered list
        (larger than `total` only when a multi-tag grouping repeats images), `ids` the file ids of the
        window [offset, offset + limit) of that list. When grouped, `groups` is a tree of
        {"key", "count", "start", "end", "groups"} whose start/end (end exclusive) index the whole
        ordered list, so a client fetches values only for the window it shows.
        """
        return self.querying.query(filter, sort, group, limit=limit, offset=offset)

    def query_ids(self, filter=None, sort=None) -> list[int]:
        """The ids of the images matching `filter`, in `sort` order, each once."""
        return self.querying.query_ids(filter, sort)

    def text_matches(self, image: int | str, property: str, search: str) -> list[list[int]]:
        """Where a text search (words as the filter op `search` takes them: "phrases", prefix*, OR, NOT)
        matches an image's (by id or path) value of a text property: the [start, end] characters of the
        words it matches, accents and case folded as the full-text index folds them; none when the value as
        a whole does not match (the words the detail view marks)."""
        return self.querying.text_matches(self.images.file(image)["id"], property, search)

    # ---- vector_store ----------------------------------------------------------------------------

    def vector_types(self) -> list[dict]:
        """Every vector type of the project: name, model, params, dim, dtype, metric, default, count."""
        return self.vector_store.vector_types()

    def vector_type(self, name: str | None = None) -> dict:
        """One vector type by name, or the default one when name is None."""
        return self.vector_store.vector_type(name)

    def create_vector_type(self, name: str, model: str, dim: int, *, params: dict | None = None,
                           dtype: str = "float32", metric: str = "cosine", default: bool | None = None) -> dict:
        """Register a vector type; the first one becomes the default unless default=False. Creating a type
        that exists with the same model, params and shape returns it; a different one is a Conflict."""
        return self.vector_store.create_vector_type(name, model, dim, params=params, dtype=dtype, metric=metric,
                                                    default=default)

    def set_default_vector_type(self, name: str) -> dict:
        """Make this vector type the one similarity, clustering and duplicates use when none is named."""
        return self.vector_store.set_default_vector_type(name)

    # ---- vectors ---------------------------------------------------------------------------------

    def delete_vector_type(self, name: str) -> None:
        """Delete a vector type and its vectors (they can be computed again)."""
        return self.vectors.delete_vector_type(name)

    def put_vectors(self, name: str, content_ids, rows: np.ndarray) -> int:
        """Store (or replace) the vectors of these contents in one transaction; returns how many."""
        return self.vector_store.put_vectors(name, content_ids, rows)

    def check_iiif(self, sources, *, size: int | str | None = DEFAULT_SIZE, language: str | None = None,
                   concurrency: int = DEFAULT_CONCURRENCY, embed: bool = True, model: str | None = None) -> dict:
        """Refuse, before any request is sent, an IIIF import of sources that are neither http(s) URLs nor
        files, a bad size, language or concurrency, or an unknown model; returns the options as the import
        will run them (see `import_iiif`)."""
        checked = self.iiif.check_iiif(sources, size=size, language=language, concurrency=concurrency)
        if embed:
            self.check_model(model)
        return {**checked, "embed": bool(embed), "model": model}

    def import_iiif(self, sources, *, size: int | str | None = DEFAULT_SIZE, language: str | None = None,
                    concurrency: int = DEFAULT_CONCURRENCY, embed: bool = True, model: str | None = None,
                    progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> dict:
        """Import the images of IIIF manifests and collections (URLs or files; versions 2 and 3), each
        canvas's image fetched through the Image API with `size` pixels on its long side ("max": the largest
        the server gives), `concurrency` requests at a time, then embed the new images unless embed=False.

        An image's path is its canvas's id, its name the canvas's label, its folder the manifest; the
        manifest's label (property "manifest"), metadata pairs, attribution and licence become text
        properties, in `language` where the manifest offers several (default: the environment's). Canvases
        already imported are skipped, so an interrupted import run again fetches only what is missing.
        Returns {"added", "skipped", "failed": [{"manifest" or "canvas", "error"}], "manifests", "total",
        "state"} (with "embedding" after embedding); InvalidInput when no source could be read as IIIF."""
        self.check_iiif(sources, size=size, language=language, concurrency=concurrency, embed=embed, model=model)
        report = self.iiif.import_iiif(sources, size=size, language=language, concurrency=concurrency,
                                       progress=progress, cancel=cancel)
        return self._embed_imported(report, embed, model, progress, cancel)

    def iiif_source(self, image: int) -> dict | None:
        """Where an image imported from IIIF comes from: {"manifest", "canvas", "image" (the URL of its
        bytes), "homepage"}; None for an image imported otherwise; NotFound for no image."""
        return self.iiif.iiif_source(image)

    def vectors_of(self, name: str, content_ids) -> np.ndarray:
        """The vectors of these contents as stored (not normalised), in the order asked; a content without
        one is a NotFound."""
        return self.vector_store.vectors_of(name, content_ids)

    # ---- importer --------------------------------------------------------------------------------

    def import_folders(self, folders: str | os.PathLike | Iterable[str | os.PathLike], *, workers: int | None = None,
                       store_originals: bool = False, progress: Callable[[dict], None] | None = None,
                       cancel: threading.Event | None = None, then: dict | None = None,
                       links_within: Iterable[str | os.PathLike] | None = None,
                       film_every: float | None = DEFAULT_FILM_EVERY, film_shots: bool = False) -> dict:
        """Import the images under these folders (recursively), or update them when already imported.

        Returns {"added", "skipped", "failed": [{"path", "error"}], "moved": [{"from", "to"}],
        "changed": [path], "missing": [path], "total": files in the project, "job": id, "state"}.
        An interrupted import of the same folders is picked up where it stopped. `then` records in the
        job what its caller does after the import (say, embedding), so resuming it does the same. Symbolic
        links to files are followed wherever they lead, unless `links_within` lists folders: then links to
        files outside them are not imported but listed in "failed" (what an import started from the web
        page does). Films (video files) are imported as frames: one every `film_every` seconds and, with
        `film_shots`, one per shot, each frame knowing its shot; "changed" and "missing" name films, not frames.
        """
        return self.importer.import_folders(folders, workers=workers, store_originals=store_originals,
                                            progress=progress, cancel=cancel, then=then, links_within=links_within,
                                            film_every=film_every, film_shots=film_shots)

    def check_folders(self, folders) -> list[str]:
        """The folders as the import will read them (absolute, nested ones merged); NotFound or
        InvalidInput for one that is missing or not a folder."""
        return self.importer.check_folders(folders)

    def imported_folders(self) -> list[str]:
        """The folders (and single files) the imports of this project were started on, resolved."""
        return self.importer.imported_folders()

    def pending_imports(self) -> list[dict]:
        """Imports that were interrupted (the process stopped while they ran), oldest first."""
        return self.importer.pending_imports()

    def resume_import(self, job_id: int, *, workers: int | None = None,
                      progress: Callable[[dict], None] | None = None,
                      cancel: threading.Event | None = None) -> dict:
        """Finish an interrupted, cancelled or failed import, skipping the files it already wrote."""
        return self.importer.resume_import(job_id, workers=workers, progress=progress, cancel=cancel)

    def resumable_import(self, job_id: int) -> dict:
        """The parameters of the import job `job_id`, which can be resumed: NotFound when the project has
        no such import, Conflict when it is done, NotFound or InvalidInput when a folder is gone."""
        return self.importer.resumable_import(job_id)

    # ---- csv -------------------------------------------------------------------------------------

    def export_csv(self, out, filter=None, sort=None, *, key: str = "path",
                   properties: list[str] | None = None, separator: str = ",") -> dict:
        """Write the images of the view (all by default) as CSV to a path or a text file object."""
        return self.csv.export_csv(out, filter, sort, key=key, properties=properties, separator=separator)

    def import_csv(self, source, *, dry_run: bool = False, skip_unmatched: bool = False,
                   skip_invalid: bool = False, encoding: str | None = None) -> dict:
        """Read a CSV of values and apply it as one undoable operation.

        Missing properties and tags are created. Empty cells are left alone (they do not clear values).
        Rows whose path or id matches no image, and cells that do not fit their property's type, make the
        import fail with the list of them, unless `skip_unmatched` / `skip_invalid` say to leave them out;
        `dry_run` reports all of this and writes nothing. Rows naming an image named before are reported
        as duplicates; the last one wins. The file is UTF-8 (with or without a byte order mark) unless
        `encoding` names another; a file that does not decode is refused. It is read row by row, twice,
        so a large file needs little memory."""
        return self.csv.import_csv(source, dry_run=dry_run, skip_unmatched=skip_unmatched, skip_invalid=skip_invalid,
                                   encoding=encoding)

    # ---- embedding -------------------------------------------------------------------------------

    def models(self) -> list[str]:
        """The embedders this imagier can run; each makes a vector type of its name."""
        return self.embedding.models()

    def model_offer(self, adding: int = 0) -> dict:
        """The model this project's images are embedded with, and the CLIP model it could use instead:
        {"uses": the default vector type's model (None before any embedding), "better": None when the project
        uses CLIP already, else {"name", "present", "images": the images it would embed (those without its
        vectors, plus `adding` about to be imported), "seconds" and "estimate" ("about 3 minutes for 1,520
        images"): the time at this machine's measured speed, None while the model is absent, "get": the
        command that installs it}}. The speed is measured once, which takes a few seconds."""
        return self.embedding.model_offer(adding)

    def check_model(self, model: str | None = None, model_path: str | None = None) -> str:
        """The model `embed(model, model_path=...)` would run (the default one when None); InvalidInput when
        unknown, NotFound when its files are missing."""
        return self.embedding.check_model(model, model_path)

    def default_model(self) -> str:
        """The model `embed` uses when none is named: the project's default vector type when an embedder
        makes it, else the offline EfficientNet-Lite0."""
        return self.embedding.default_model()

    def embed(self, model: str | Embedder | None = None, *, model_path: str | None = None, batch_size: int = 32,
              progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> dict:
        """Compute the vectors of `model` (the default one when None) for every image that has none yet.
        `model_path`: the folder of a downloadable model's files (CLIP), instead of the hub's copy.

        Creates the vector type when missing (the first one becomes the default). Commits every batch, so
        an interrupted run resumes where it stopped; `cancel` stops it between batches. Models with labels
        (EfficientNet-Lite0: ImageNet classes) also write the machine-made `ImageNet guess` property, outside
        the undo log, unless the project turned guesses off (`delete_machine_labels`).
        Returns {"model", "embedded": vectors computed now, "total": images with a vector of the type,
        "failed": [{"content", "error"}]}; progress gets {"done", "total", "model"}.
        """
        return self.embedding.embed(model, model_path=model_path, batch_size=batch_size, progress=progress,
                                    cancel=cancel)

    def read_text(self, *, workers: int | None = None, progress: Callable[[dict], None] | None = None,
                  cancel: threading.Event | None = None) -> dict:
        """Read the text in every image not read yet (OCR, offline: RapidOCR's PP-OCRv6 models), from its
        original, in `workers` processes (default: one per core; 1 reads in this process). Writes the
        machine-made `text in image` property (lines of words; outside the undo log, recomputed by a new
        reading) and the words with their confidences and boxes (`image_text`). Commits every few images, so
        an interrupted run resumes where it stopped; `cancel` stops it between batches. An image whose
        original is missing or cannot be decoded is reported by path and skipped.
        Returns {"engine", "read": images read now, "with_text", "total": images read so far,
        "failed": [{"content", "path", "error"}]}; progress gets {"done", "total"}."""
        return self.text_reading.read_text(workers=workers, progress=progress, cancel=cancel)

    def image_text(self, image: int | str, search: str | None = None) -> dict:
        """The text read in an image (by id or path): {"id", "read": when (None before any reading),
        "engine", "text", "words": [{"text", "confidence", "line", "x", "y", "w", "h"}]}, each box as
        fractions of the upright picture's width and height (for plugins and the detail view's boxes).
        With `search` (words as the filter op `search` takes them: "phrases", prefix*, OR, NOT), each word
        also has "match": whether the search matches it, accents and case folded as the full-text index
        folds them (the words the detail view highlights)."""
        return self.text_reading.image_text(self.images.file(image)["id"], search)

    def machine_labels_enabled(self) -> bool:
        """Whether embedding with EfficientNet-Lite0 writes the `ImageNet guess` property (until
        `delete_machine_labels`)."""
        return self.embedding.machine_labels_enabled()

    def delete_machine_labels(self) -> dict:
        """Delete the `ImageNet guess` property for good: its values go (outside the undo log, like their
        writing) and later embeddings write none until `enable_machine_labels`. Returns {"enabled": False,
        "deleted": whether the property was there}."""
        return self.embedding.delete_machine_labels()

    def enable_machine_labels(self) -> dict:
        """Turn the ImageNet guesses back on: written at once for every image that has EfficientNet-Lite0
        vectors (from the stored vectors), and by later embeddings. Returns {"enabled": True, "images":
        contents whose guesses were computed}."""
        return self.embedding.enable_machine_labels()

    def guesses(self, ids) -> dict[int, list[dict]]:
        """The ImageNet guesses of these images with their probabilities, computed from the stored vectors
        as embedding computed them: {file id: [{"label", "probability"}]} (an empty list for an image with
        no confident guess or no EfficientNet-Lite0 vector; none at all while guesses are turned off)."""
        return self.embedding.guesses(ids)

    # ---- similarity ------------------------------------------------------------------------------

    def similar(self, query: Query, *, top_k: int = 20, min_score: float | None = None, filter=None,
                vector_type: str | None = None, may_read: Callable[[Path], Path] | None = None) -> list[dict]:
        """The images most similar to `query`, best first: [{"id", "path", "score", "similarity", "rank",
        "copy", "relation", "edited"}].

        `query` is an image id, a path of the project, a list of ids or paths (a group: ranked by mean
        similarity to its members), or an image file outside the project (embedded on the fly). The
        query's own images and files with the same bytes are left out. `filter` restricts the results
        to a view's images; `min_score` drops results with a lower calibrated score.

        For one image of the project, the results that show the same picture (a crop, a mirrored,
        captioned, recoloured... copy, checked on the pictures as duplicates() checks a pair) come
        first, with "copy": true, their "relation" and which of the two is "edited" ("result" or
        "query"); mere likeness follows ("copy": false). `may_read` (the server's rule) gives the path to
        read for an image file outside the project or raises Forbidden, before it is looked at: a refused
        path is neither read nor told apart from a missing one."""
        return self.similarity.similar(query, top_k=top_k, min_score=min_score, filter=filter,
                                       vector_type=vector_type, may_read=may_read)

    def calibration(self, vector_type: str | None = None) -> dict:
        """How similarities are distributed among random pairs of this project's images, for a vector
        type (the default one when None): the numbers behind every calibrated score."""
        return self.similarity.calibration(vector_type)

    def explain_similarity(self, similarity: float, vector_type: str | None = None) -> dict:
        """What a raw similarity means in this project: its calibrated score, rank and a sentence."""
        return self.similarity.explain_similarity(similarity, vector_type)

    # ---- clustering ------------------------------------------------------------------------------

    def cluster(self, filter=None, *, ids=None, k: int | None = None, method: str = "kmeans",
                vector_type: str | None = None, save_as: str | None = None, parent: str | None = None,
                min_cluster_size: int | None = None, text_weight: float = 0.0,
                cancel: threading.Event | None = None) -> ClusterList:
        """Cluster a set of images: those of `ids` (file ids), else of `filter`, else of the tag `parent`
        of the property `save_as`, else every image. Returns [{"cluster", "score", "similarity", "size",
        "ids", "paths"}] covering every input image once (see the module for the details), with
        `.provenance`. `save_as` saves them as tags of that property, as one undoable operation.
        `text_weight` (0 to 1) weighs the words read in the images (`imagier ocr`) against the pictures."""
        return self.clustering.cluster(filter, ids=ids, k=k, method=method, vector_type=vector_type, save_as=save_as,
                                       parent=parent, min_cluster_size=min_cluster_size, text_weight=text_weight,
                                       cancel=cancel)

    def check_cluster(self, filter=None, *, ids=None, k: int | None = None, method: str = "kmeans",
                      vector_type: str | None = None, save_as: str | None = None, parent: str | None = None,
                      min_cluster_size: int | None = None, text_weight: float = 0.0) -> None:
        """Refuse, before a clustering starts in the background, what `cluster` would refuse once running:
        an unknown method, a bad k, min_cluster_size or text_weight, a bad filter, ids that are no image,
        an unknown vector type."""
        return self.clustering.check_cluster(filter, ids=ids, k=k, method=method, vector_type=vector_type,
                                             save_as=save_as, parent=parent, min_cluster_size=min_cluster_size,
                                             text_weight=text_weight)

    def save_clusters(self, property: str, clusters: list[dict], *, parent: str | None = None,
                      provenance: dict | None = None) -> list[dict]:
        """Save clusters as tags of the tag property `property` (created when missing) in one undoable
        operation whose params are `provenance` (how the clusters were made).

        Each cluster is {"ids": file ids, "cluster": its number, "noise": bool, "clusters": its
        sub-clusters (optional, the same shape, among its images)}; clusters of one level share no image.
        Tags are named "cluster N" ("unclustered" for noise), a sub-cluster's "cluster N.M" under its
        cluster's tag; with `parent` (a tag of the property) the top level is named "PARENT.N" under it.
        An image gets the tag of the deepest cluster holding it (a multi-tag property adds every level's
        tag). Sets "tag" in each cluster dict, sub-clusters included, and returns `clusters`."""
        return self.clustering.save_clusters(property, clusters, parent=parent, provenance=provenance)

    # ---- suggesting ------------------------------------------------------------------------------

    def suggestions(self, property: str, value, *, top_k: int = 20, filter=None,
                    vector_type: str | None = None) -> list[dict]:
        """Images not in the group `property` = `value` that probably belong to it, best first:
        [{"id", "path", "score", "similarity", "rank"}]; rejected ones are never proposed again."""
        return self.suggesting.suggestions(property, value, top_k=top_k, filter=filter, vector_type=vector_type)

    def accept_suggestions(self, property: str, value, ids) -> int:
        """Give these images the group's value (a tag is added to a multi-tag property's other tags), as one
        undoable operation; returns the number of images."""
        return self.suggesting.accept_suggestions(property, value, ids)

    def reject_suggestions(self, property: str, value, ids) -> int:
        """Remember that these images do not belong to the group `property` = `value`, so they are never
        suggested for it again (nor any file with the same bytes); returns how many were newly rejected.
        Undoable, like every decision of the user's."""
        return self.suggesting.reject_suggestions(property, value, ids)

    # ---- text_search -----------------------------------------------------------------------------

    def search(self, text: str, *, top_k: int = 50, filter=None, vector_type: str | None = None,
               model_path: str | None = None, text_model: str | None = None) -> SearchResults:
        """The images that best match `text`: a list of {"id", "path", "score"}, best first, at most `top_k`,
        only among the images `filter` matches (all when None); its `message` says why it is empty, or which
        words were not understood. With a CLIP vector type the score is the cosine of the text and image
        embeddings; with EfficientNet-Lite0 it is the images' probability of the ImageNet classes the words
        name through WordNet ("animal", "a boat", "dogs"), and images below MIN_PROBABILITY are left out.
        The type is `vector_type`, else the default one if it is CLIP, else any CLIP type, else
        EfficientNet-Lite0. `model_path`: the CLIP model's folder (see clip.py). `text_model`:
        "clip-vit-b32-multilingual" encodes the text with the multilingual encoder (50+ languages) instead
        of CLIP's own (see multilingual.py)."""
        return self.text_search.search(text, top_k=top_k, filter=filter, vector_type=vector_type,
                                       model_path=model_path, text_model=text_model)

    # ---- duplicate_finder ------------------------------------------------------------------------

    def duplicates(self, *, vector_type: str | None = None, filter=None, k: int = NEIGHBOURS,
                   min_similarity: float | None = None, workers: int = 2,
                   progress: Callable[[dict], None] | None = None,
                   cancel: threading.Event | None = None) -> list[dict]:
        """Groups of images that show the same picture: [{"ids": [file ids], "pairs": [{"a", "b",
        "relation", "score"}]}], largest first. A pair reads "a <relation> b": "identical" (same bytes),
        "same" (recompressed), "resized", "crop of", "bordered", "greyscale", "mirrored", "overlay"
        (a caption or text added), and between images whose text was read (`imagier ocr`) "same template"
        (the pictures agree once their text is masked, the words differ) and "same text" (the words agree,
        the pictures do not); score (0..1) is how well the aligned pictures agree: the share of aligned
        pixels that agree when keypoints aligned them, else their structural agreement (for "same text",
        how well the words agree).

        Candidates are the `k` nearest neighbours of each image in `vector_type` (the default one when
        None) with at least `min_similarity` (by default, also the 3 nearest down to a cosine of 0.5),
        plus those of the project's perceptual hash ("phash") when it has one; `filter` restricts the
        images looked at. `cancel` stops between chunks of pairs (checked pairs are remembered: asking
        again resumes); progress gets {"stage", "done", "total"}."""
        return self.duplicate_finder.duplicates(vector_type=vector_type, filter=filter, k=k,
                                                min_similarity=min_similarity, workers=workers, progress=progress,
                                                cancel=cancel)

    def check_duplicates(self, *, vector_type: str | None = None, filter=None, k: int = NEIGHBOURS,
                         workers: int = 2) -> None:
        """Refuse, before a search starts in the background, what `duplicates` would refuse once running:
        a bad k or workers, an unknown vector type or one without vectors, a bad filter."""
        return self.duplicate_finder.check_duplicates(vector_type=vector_type, filter=filter, k=k, workers=workers)

    # ---- maps ------------------------------------------------------------------------------------

    def layout(self, vector_type: str | None = None, *, compute: bool = True,
               progress: Callable[[dict], None] | None = None,
               cancel: threading.Event | None = None) -> dict:
        """The 2-D similarity map of a vector type (the default one when None): {"vector_type", "version",
        "params", "ids" (file ids, int64 array), "xy" (float32 array n x 2, in [0, 1]), "missing" (files
        without a vector, not on the map)}. Computed when missing or made from older vectors (unless
        compute=False: then a NotFound), and kept in the project file."""
        return self.maps.layout(vector_type, compute=compute, progress=progress, cancel=cancel)

    # ---- plugin_runner ---------------------------------------------------------------------------

    def plugins(self, reload: bool = False) -> dict:
        """The plugins found (built-in, entry points `imagier.plugins`, $IMAGIER_PLUGINS folders and
        `plugins/` beside the project file): {"plugins": [{"name", "version", "module", "distribution",
        "source", "builtin", "actions": [{"name", "kind", "label", "description", "timeout", "schema"}]}],
        "errors": [{"plugin", "source", "error"}]}. Found once per project; reload=True looks again."""
        return self.plugin_runner.plugins(reload)

    def check_action(self, action: str, params: dict | None = None, *, ids=None, filter=None) -> dict:
        """The action "PLUGIN.ACTION" as `plugins()` lists it (with "plugin"), after checking `params`
        against its form, and `ids` and `filter` as `run_action` would: what a caller does before starting
        a run in the background."""
        return self.plugin_runner.check_action(action, params, ids=ids, filter=filter)

    def run_action(self, action: str, params: dict | None = None, *, ids=None, filter=None,
                   progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None):
        """Run a plugin's action "PLUGIN.ACTION" with `params` (checked against its form) on the images `ids`
        (file ids), else those of `filter` (all images when both are None). For a "similar" action `ids`
        are the query and `filter` the candidates. Returns, by kind: group -> [{"name", "ids", "paths"}];
        similar -> [{"id", "path", "score"}], best first; execute -> {"message", ...}; embed -> {"message",
        "model", "embedded", "total", "failed"}. Writes are one undoable operation, kept only when the
        action succeeds; a failure is a PluginFailed and leaves the project unchanged."""
        return self.plugin_runner.run_action(action, params, ids=ids, filter=filter, progress=progress, cancel=cancel)

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<imagier.Project {self.path}>"
