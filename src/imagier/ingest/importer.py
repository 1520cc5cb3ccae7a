"""Importing folders of images into a project: scan, decode in worker processes, write in batches.

The main process compares what is on disk with what the project holds, hands the files it must read
to a pool of worker processes (one decode per file, see decode.py), and writes their results in
transactions of a few hundred files. An interrupted import therefore keeps what it committed, and
running it again (or `resume_import`) skips those files by their size and modification time.
"""

from __future__ import annotations

import multiprocessing
import os
import posixpath
import select
import sys
import threading
import time
from collections import deque
from contextlib import closing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator

from ..checks import DEFAULT_FILM_EVERY, film_sampling
from ..errors import Conflict, ImagierError, NotFound
from ..operations.oplog import OpLog
from ..store import films as films_sql
from ..store import imports as sql
from ..store import jobs as job_rows
from ..store.db import Database, storable
from .decode import Decoded, DecodeError, decode
from .films import FilmRead, FilmReader
from .scan import is_under, is_video_name, resolve_roots, scan
from .video import Frame, film_of_path

BATCH_FILES = 200
BATCH_BYTES = 64 << 20  # with store_originals, a batch of large files is flushed before 200
PROGRESS_INTERVAL = 0.2  # seconds between progress reports
PARENT_CHECK_INTERVAL = 0.5  # seconds between a worker's checks that the importing process runs (not on Linux)
INLINE_BELOW = 8  # starting worker processes takes longer than decoding a handful of files in this one

# Jobs being run by this process, so they are not offered as interrupted ones: {(project path, job id)}.
_active: set[tuple[str, int]] = set()
_active_lock = threading.Lock()


class Importer:
    """The imports of one project file: its import jobs, run and resumed, each logged in `oplog`."""

    def __init__(self, db: Database, oplog: OpLog):
        self.db = db
        self.oplog = oplog

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
        roots = resolve_roots(folders)
        params = {"folders": roots, "store_originals": bool(store_originals),
                  "films": film_sampling(film_every, film_shots)}
        if links_within is not None:  # kept in the job, so that resuming it keeps the rule
            params["links_within"] = sorted(os.path.realpath(folder) for folder in links_within)
        interrupted = [j for j in self.pending_imports() if _same_import(j["params"], params)]
        params = {**params, **(then or {})}
        if interrupted:
            job_id = interrupted[-1]["id"]
        else:
            with self.db.write() as conn:
                job_id = job_rows.start_job(conn, "import", params)
        return self._run_import(job_id, params, workers, progress, cancel)

    def check_folders(self, folders) -> list[str]:
        """The folders as the import will read them (absolute, nested ones merged); NotFound or
        InvalidInput for one that is missing or not a folder."""
        return resolve_roots(folders)

    def imported_folders(self) -> list[str]:
        """The folders (and single files) the imports of this project were started on, resolved."""
        return sorted({folder for job in job_rows.jobs(self.db.reader, "import") for folder in job["params"]["folders"]})

    def pending_imports(self) -> list[dict]:
        """Imports that were interrupted (the process stopped while they ran), oldest first."""
        with _active_lock:
            return [j for j in job_rows.jobs(self.db.reader, "import", state="running")
                    if (str(self.db.path), j["id"]) not in _active]

    def resume_import(self, job_id: int, *, workers: int | None = None,
                      progress: Callable[[dict], None] | None = None,
                      cancel: threading.Event | None = None) -> dict:
        """Finish an interrupted, cancelled or failed import, skipping the files it already wrote."""
        return self._run_import(job_id, self.resumable_import(job_id), workers, progress, cancel)

    def resumable_import(self, job_id: int) -> dict:
        """The parameters of the import job `job_id`, which can be resumed: NotFound when the project has
        no such import, Conflict when it is done, NotFound or InvalidInput when a folder is gone."""
        found = job_rows.jobs(self.db.reader, "import", job_id=job_id) if storable(job_id) else []
        if not found:
            raise NotFound(f"no import job {job_id} in this project", job=job_id)
        if found[0]["state"] == "done":
            raise Conflict(f"import job {job_id} is already done", job=job_id)
        params = found[0]["params"]
        return {**params, "folders": resolve_roots(params["folders"])}

    def _run_import(self, job_id: int, params: dict, workers: int | None,
                    progress: Callable[[dict], None] | None, cancel: threading.Event | None) -> dict:
        key = (str(self.db.path), job_id)
        with _active_lock:
            if key in _active:
                raise Conflict(f"import job {job_id} is already running", job=job_id)
            _active.add(key)
        try:
            with self.db.write() as conn:
                job_rows.restart_job(conn, job_id, params)
            run = _ImportRun(self.db, job_id, params["folders"], params["store_originals"], progress,
                             params.get("links_within"), params.get("films") or film_sampling())
            try:
                state = run.execute(workers or os.cpu_count() or 1, cancel)
            except Exception as e:  # an interruption (Ctrl-C, a kill) leaves it 'running', to resume
                with self.db.write() as conn:
                    job_rows.finish_job(conn, job_id, "failed", {**run.counts(), "error": f"{type(e).__name__}: {e}"})
                raise
        finally:
            with _active_lock:
                _active.discard(key)
        result = run.result(state)
        roots = ", ".join(params["folders"])
        self.oplog.log("import", f"import {result['added']} images from {roots}" +
                       (" (cancelled)" if state == "cancelled" else ""),
                       {"folders": params["folders"], "job": job_id,
                        **{k: (len(v) if isinstance(v, list) else v) for k, v in result.items()}})
        return result


def _same_import(recorded: dict, asked: dict) -> bool:
    """Whether an interrupted job imports what is asked now (what it was to do after may differ)."""
    recorded = {"films": film_sampling(), **recorded}  # recorded before films were imported: the default
    return all(recorded.get(key) == value for key, value in asked.items())


class _ImportRun:
    """The state of one run of an import job."""

    def __init__(self, db, job_id: int, roots: list[str], store_originals: bool,
                 progress: Callable[[dict], None] | None, links_within: list[str] | None = None,
                 sampling: dict | None = None):
        self.db = db
        self.film_sampling = sampling or film_sampling()
        self.job_id = job_id
        self.roots = roots
        self.links_within = links_within
        self.store_originals = store_originals
        self.report = progress
        self.added = self.skipped = self.done = self.total = 0
        self.failed: list[dict] = []
        self.moved: list[dict] = []
        self.changed: list[str] = []
        self.replaced: set[str] = set()  # hashes of contents that changed files no longer have
        self.folders: dict[str, int] = {}
        self.last_path: str | None = None
        self.last_report = 0.0

    def execute(self, workers: int, cancel: threading.Event | None) -> str:
        found, unreadable = scan(self.roots, self.links_within)
        self.failed.extend(unreadable)
        films = [f for f in found if is_video_name(f.path)]
        found = [f for f in found if not is_video_name(f.path)]
        self.known = sql.files_under(self.db.reader, self.roots)
        # A frame is on disk while its film is.
        film_paths = {f.path for f in films}
        on_disk = {f.path for f in found} | {p for p in self.known if film_of_path(p) in film_paths}
        # Files of the project that are gone from under the roots, by content: a new file with the same
        # bytes is the same image moved.
        self.gone: dict[str, list[tuple[str, int]]] = {}
        for path, known in self.known.items():
            if path not in on_disk:
                self.gone.setdefault(known.hash, []).append((path, known.id))
        todo = []
        for f in found:
            known = self.known.get(f.path)
            if (known and known.size == f.size and known.mtime_ns == f.mtime_ns
                    and (known.has_original or not self.store_originals)):
                self.skipped += 1
            else:
                todo.append(f.path)
        self.total = len(found) + len(films)
        self.done = self.skipped
        self._progress(force=True)

        batch: list[Decoded] = []
        batch_bytes = 0
        cancelled = False
        with closing(_decode_all(todo, workers, self.store_originals)) as results:
            for path, outcome in results:
                self.done += 1
                self.last_path = path
                if isinstance(outcome, Decoded):
                    batch.append(outcome)
                    batch_bytes += outcome.size if self.store_originals else len(outcome.thumbnail)
                else:
                    self.failed.append({"path": path, "error": outcome})
                cancelled = cancel is not None and cancel.is_set()
                if cancelled or len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                    self._write(batch)
                    batch, batch_bytes = [], 0
                self._progress(force=cancelled)
                if cancelled:
                    break
        if films and not cancelled:
            self._write(batch)
            batch = []
            cancelled = not self._import_films(films, workers, cancel)
        state = "cancelled" if cancelled else "done"
        self._write(batch, final_state=state)
        self._progress(force=True)
        return state

    def _import_films(self, films, workers: int, cancel: threading.Event | None) -> bool:
        """Read each film into frames and write them with the film; False when cancelled."""
        known_films = films_sql.films_under(self.db.reader, self.roots)
        with FilmReader(workers, _new_pool, cancel) as reader:
            for found in films:
                self.last_path = found.path
                known = known_films.get(found.path)
                if known and (known.size, known.mtime_ns, known.sampling) == (found.size, found.mtime_ns,
                                                                                 self.film_sampling):
                    self.skipped += 1
                    self.done += 1
                    continue
                read = reader.read(found.path, self.film_sampling, known, self._film_progress)
                if read is None:
                    return False
                self.done += 1
                if isinstance(read, str):
                    self.failed.append({"path": found.path, "error": read})
                elif read.unchanged:
                    self.skipped += 1
                    self._write([], then=lambda conn: films_sql.touch_film(conn, known.id, read.film.mtime_ns))
                else:
                    if known and known.hash != read.film.hash:
                        self.changed.append(found.path)
                    self._write([f.frame for f in read.frames], then=lambda conn: self._record_film(conn, read))
                self._progress(force=True)
        return True

    def _record_film(self, conn, read: FilmRead) -> None:
        film = read.film
        film_id = films_sql.save_film(conn, film.path, film.hash, film.size, film.mtime_ns, film.duration, film.fps,
                                      film.width, film.height, film.codec, self.film_sampling, read.shots)
        films_sql.record_frames(conn, film_id, [(f.frame.path, f.frame.time, f.shot, f.shot_start, f.shot_end)
                                                for f in read.frames])

    def _film_progress(self, seconds: float, duration: float) -> None:
        if self.report is not None and time.monotonic() - self.last_report >= PROGRESS_INTERVAL:
            self.last_report = time.monotonic()
            self.report({**self.counts(), "path": self.last_path, "film_seconds": round(seconds, 3),
                         "film_duration": round(duration, 3)})

    def _write(self, batch: list[Decoded], final_state: str | None = None, then=None) -> None:
        with self.db.write() as conn:
            sql.add_contents(
                conn,
                [(d.hash, d.format, d.width, d.height, d.size, d.taken, d.orientation, d.thumbnail_width,
                  d.thumbnail_height, d.thumbnail) for d in batch],
                [(d.hash, d.data) for d in batch if d.data is not None])
            self._find_moves_from_elsewhere(conn, batch)
            new, updated = [], []
            for d in batch:
                folder = posixpath.dirname(d.path)
                on_disk = film_of_path(d.path) or d.path  # a frame is where its film is
                root = next(r for r in self.roots if is_under(on_disk, r))
                folder_id = sql.folder_id(conn, folder, folder if root == on_disk else root, self.folders)
                place = (d.path, folder_id, posixpath.basename(d.path))
                stamp = (d.hash, _iso(d.mtime_ns), d.mtime_ns)
                known = self.known.get(d.path)
                source = None if known else self._take_gone(d.hash)
                if known:
                    if known.hash != d.hash:
                        if not isinstance(d, Frame):  # a changed film is reported once, as the film
                            self.changed.append(d.path)
                        self.replaced.add(known.hash)
                    else:
                        self.skipped += 1
                    updated.append((known.id, *place, *stamp))
                elif source:
                    self.moved.append({"from": source[0], "to": d.path})
                    updated.append((source[1], *place, *stamp))
                else:
                    self.added += 1
                    new.append((*place, *stamp))
            sql.update_files(conn, updated)
            sql.insert_files(conn, new)
            if then is not None:
                then(conn)
            if final_state:
                if self.replaced:
                    sql.drop_unused_contents(conn, self.replaced)
                job_rows.finish_job(conn, self.job_id, final_state, self.counts())
            else:
                job_rows.set_job_progress(conn, self.job_id, self.counts())

    def _find_moves_from_elsewhere(self, conn, batch: list[Decoded]) -> None:
        """Files outside the roots that are gone from disk but whose bytes turn up here were moved here."""
        hashes = {d.hash for d in batch if d.path not in self.known and d.hash not in self.gone}
        if not hashes:
            return
        for hash_, file_id, path in sql.files_with_hashes(conn, hashes):
            # Only a file's path can have moved: an image fetched from IIIF has its canvas's URL as path.
            source = film_of_path(path) or path  # a frame is on disk while its film is
            if os.path.isabs(source) and not any(is_under(source, r) for r in self.roots) and not os.path.exists(source):
                self.gone.setdefault(hash_, []).append((path, file_id))

    def _take_gone(self, hash_: str) -> tuple[str, int] | None:
        candidates = self.gone.get(hash_)
        return candidates.pop(0) if candidates else None

    def counts(self) -> dict:
        return {"done": self.done, "total": self.total, "added": self.added, "skipped": self.skipped,
                "failed": len(self.failed), "moved": len(self.moved), "changed": len(self.changed)}

    def _progress(self, force: bool = False) -> None:
        if self.report is None:
            return
        now = time.monotonic()
        if force or now - self.last_report >= PROGRESS_INTERVAL:
            self.last_report = now
            self.report({**self.counts(), "path": self.last_path})

    def result(self, state: str) -> dict:
        # A cancelled run has not looked at every file, so it cannot tell which are missing.
        sources = {film_of_path(path) or path for candidates in self.gone.values() for path, _ in candidates}
        missing = [] if state != "done" else sorted(p for p in sources if any(is_under(p, r) for r in self.roots))
        total = sql.file_count(self.db.reader)
        return {"added": self.added, "skipped": self.skipped, "failed": self.failed, "moved": self.moved,
                "changed": self.changed, "missing": missing, "total": total, "job": self.job_id, "state": state}


def _decode_all(paths: list[str], workers: int, keep_bytes: bool) -> Iterator[tuple[str, Decoded | str]]:
    """Decode the files in worker processes, yielding (path, result or reason of failure) in the order given.

    Only a few files per worker are in flight at a time, so results never pile up in memory and a
    cancelled import stops quickly.
    """
    if workers <= 1 or len(paths) < INLINE_BELOW:
        for path in paths:
            yield path, _attempt(path, keep_bytes)
        return
    pool = _new_pool(None, workers)
    try:
        queue: deque = deque()
        upcoming = iter(paths)
        while True:
            while len(queue) < workers * 4 and (path := next(upcoming, None)) is not None:
                queue.append((path, _submit(pool, path, keep_bytes)))
            if not queue:
                return
            path, future = queue.popleft()
            try:
                outcome = future.result()
            except BrokenProcessPool:
                outcome = None
            if outcome is not None:
                yield path, outcome
                continue
            # A worker died (a decoder crash, the kernel out of memory) and took the pool with it. Retry the
            # files that were in flight one at a time, so the one that kills a worker again is named and skipped.
            suspects = [path] + [p for p, _ in queue]
            queue.clear()
            pool = _new_pool(pool, workers)
            for suspect in suspects:
                try:
                    outcome = _submit(pool, suspect, keep_bytes).result()
                except BrokenProcessPool:
                    outcome = "the image decoder crashed on this file"
                    pool = _new_pool(pool, workers)
                yield suspect, outcome
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor, path: str, keep_bytes: bool) -> Future:
    try:
        return pool.submit(_attempt, path, keep_bytes)
    except BrokenProcessPool as e:  # broken since the last result was taken: this file becomes a suspect too
        failed: Future = Future()
        failed.set_exception(e)
        return failed


def _new_pool(old: ProcessPoolExecutor | None, workers: int) -> ProcessPoolExecutor:
    if old is not None:
        old.shutdown(wait=True, cancel_futures=True)
    pool = ProcessPoolExecutor(workers, mp_context=process_context(decode.__module__), initializer=exit_with,
                               initargs=(os.getpid(),))
    try:
        # A pool that cannot run a trivial task is broken by its surroundings, not by an image.
        pool.submit(int).result()
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        raise ImagierError(
            "cannot start the worker processes that decode images: they must be able to re-import the "
            "main script, so run it from a file with the import under `if __name__ == \"__main__\":`, "
            "or import with workers=1") from None
    return pool


def exit_with(importer: int) -> None:
    """Run first in each worker: end it once the importing process `importer` has ended. An import
    killed outright (kill -9, the kernel out of memory) never shuts its pool down, and its workers would
    wait for work for good. The importer is not always their parent (under a fork server it is the
    server's, and that server lives as long as any of its children), so it is watched by its pid."""

    def watch() -> None:
        try:
            handle = os.pidfd_open(importer)  # readable once the process has ended; immune to pid reuse
        except ProcessLookupError:
            os._exit(1)
        except (AttributeError, OSError):  # not Linux 5.3 or newer, where workers are the importer's children
            while os.getppid() == importer:
                time.sleep(PARENT_CHECK_INTERVAL)
        else:
            select.select([handle], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="imagier-importer-watch", daemon=True).start()


def _attempt(path: str, keep_bytes: bool) -> Decoded | str:
    """Decode, returning why it failed rather than raising: one bad file must not look like a broken pool
    (and an arbitrary exception may not survive the trip back from the worker)."""
    try:
        return decode(path, keep_bytes)
    except DecodeError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - any failure of one file is reported for that file
        return f"unexpected error while reading the image: {type(e).__name__}: {e}"


def process_context(preload: str):
    """The way to start worker processes (`preload`: the module a fork server loads once for them all); also
    the OCR's workers'."""
    if not sys.platform.startswith("linux"):
        return None
    # A plain script has one thread: forking it is safe and needs no `if __name__ == "__main__":` guard.
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    # Forking a process that has threads (a web server, a notebook kernel) can deadlock the child;
    # a fork server is started once, before any of that, and forks clean children with the decoder loaded.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([preload])
    return context


def _iso(mtime_ns: int) -> str:
    return datetime.fromtimestamp(mtime_ns / 1e9, timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()
