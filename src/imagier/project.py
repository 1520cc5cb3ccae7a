"""The Project: every operation of imagier, reached by the Python API, the CLI and the HTTP API.

Each family of operations lives in its own module and is mixed in here, so this class is the one
place to see what a project can do.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from .analysis.clustering import Clustering
from .analysis.duplicates import Duplicates
from .analysis.layout import Layout
from .analysis.similarity import Similarity
from .analysis.suggestions import Suggestions
from .analysis.textsearch import TextSearch
from .errors import Conflict
from .exchange.csvfile import CsvExchange
from .ingest.importer import Importing
from .plugins.runner import PluginRunning
from .store.annotations import Annotations
from .store.db import Database
from .store.files import Files
from .store.oplog import OpLog
from .store.query import Querying
from .store.vectors import Vectors
from .store.views import Views
from .vectors.embed import Embedding


class Project(Annotations, Files, Views, Querying, Vectors, Importing, CsvExchange, Embedding,
              Similarity, Clustering, Suggestions, TextSearch, Duplicates, Layout, PluginRunning):
    """An imagier project file. Open one with `imagier.open(path)`."""

    def __init__(self, path: str | Path, create: bool = True):
        self.db = Database(path, create=create)
        self.oplog = OpLog(self.db)

    @property
    def path(self) -> Path:
        return self.db.path

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
        if filter is not None:
            self.compile_view(filter)
        if ids is not None:
            self.existing_files(ids)

    def check_import(self, folders, *, embed: bool = True, model: str | None = None) -> None:
        """Refuse, before any work starts, an import of folders that do not exist or an unknown model."""
        self.check_folders(folders)
        if embed:
            self.check_model(model)

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

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<imagier.Project {self.path}>"
