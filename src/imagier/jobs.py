"""One job system: every long Project operation (import, embedding, duplicates, clustering, layout, plugin
runs, the labels recompute, a model download) runs as a job, in a thread of the process that starts it.

A job has an integer id, a row in the project file's `jobs` table (kind, parameters, state, progress,
result or error: see store/jobs.py), progress events for any number of subscribers, cancel, and resume.
The kinds of job, their parameter checks and what resuming means for each are in job_kinds.py. Nothing
here knows about HTTP, so the command line or a notebook use it as the server does:

    runner = JobRunner(project)
    job = runner.submit("import", {"folders": ["photos"]})
    job.wait()
    print(job.snapshot()["result"])

`runner.start(kind, operation)` runs any callable taking `progress` and `cancel` as a job too.

Subscribers are told *that* a job changed, not what changed: they read `snapshot()` when they are ready.
A slow reader (a browser on a bad connection) so never makes a fast import queue up events; it just sees
fewer, later ones.

A job whose process died (a killed server) keeps 'running' in its row; it reads as 'interrupted' wherever
the row is read, since the row names its process (host, pid and a per-process token). Another process
stops a running job by flagging its row: the job reads the flag as it reports progress.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from typing import Callable

from . import job_kinds
from .errors import Conflict, ImagierError, InvalidInput, NotFound
from .store import jobs as job_rows
from .store.oplog import now

log = logging.getLogger(__name__)

RUNNING, DONE, FAILED, CANCELLED, INTERRUPTED = "running", "done", "failed", "cancelled", "interrupted"
# Seconds between writes of a job's progress to its row, and between reads of its cancel flag: a fast import
# reports far more often than anyone reads the row.
PERSIST_INTERVAL = 1.0
# Seconds a new job waits for the file's write lock to write its row. A plugin's write action holds that
# lock for as long as it runs (its changes are one transaction), and a job started meanwhile (a grouping
# beside it) must not wait for it: it runs unsaved instead, under a negative id, as jobs without a project do.
ROW_WAIT = 1.0

# The jobs this process runs, by (project file, job id): a running row of this process that is not here was
# left behind by a run that ended without finishing it (a Ctrl-C in a notebook).
_running_here: set[tuple[str, int]] = set()
_running_lock = threading.Lock()
_unsaved_ids = itertools.count(1)  # ids of the jobs of a runner without a project


class Job:
    """One run of an operation. Read it with `snapshot()`; never mutate it from outside."""

    def __init__(self, job_id: int, kind: str, params: dict | None = None, scope: str | None = None,
                 project=None):
        self.id = job_id
        self.kind = kind
        self.scope = scope or kind
        self.params = params or {}
        self.state = RUNNING
        self.progress: dict = {}
        self.result = None
        self.error: dict | None = None
        self.started = now()
        self.finished: str | None = None
        self.cancel_event = threading.Event()
        # Bumped on every change, so a subscriber can tell whether it has already seen a state.
        self.seq = 0
        self._project = project
        self._saved_at = 0.0
        self._lock = threading.Lock()
        self._finished_event = threading.Event()
        self._listeners: list[Callable[[], None]] = []

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def snapshot(self) -> dict:
        with self._lock:
            return {"id": self.id, "kind": self.kind, "state": self.state, "params": self.params,
                    "progress": dict(self.progress), "result": self.result, "error": self.error,
                    "started": self.started, "finished": self.finished, "seq": self.seq,
                    "resumes": _resumes(self.kind)}

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener()` (from the job's thread) after every change; returns the unsubscribe function.
        The listener must be quick and must not block: typically it wakes up a waiting consumer."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe

    def cancel(self) -> None:
        """Ask the operation to stop at its next check; the job ends as 'cancelled' once it has."""
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended; False if `timeout` passed first."""
        return self._finished_event.wait(timeout)

    def _update(self, **changes) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)
            self.seq += 1
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # a broken subscriber must not break the import it watches
                log.exception("job %s: a progress listener failed", self.id)

    def _report(self, progress: dict) -> None:
        self._update(progress=dict(progress))
        if self._project is not None and time.monotonic() - self._saved_at >= PERSIST_INTERVAL:
            self._saved_at = time.monotonic()
            self._save_progress(progress)

    def _save_progress(self, progress: dict) -> None:
        """Write the progress to the row and read whether another process asked the job to stop. A failed
        write (another program holding the file's lock too long) must not stop the work it reports."""
        try:
            with self._project.db.write() as conn:
                job_rows.set_job_progress(conn, self.id, progress)
            if job_rows.cancel_requested(self._project.db.reader, self.id):
                self.cancel()
        except ImagierError:
            log.warning("job %s: its progress could not be saved", self.id, exc_info=True)

    def _run(self, operation: Callable) -> None:
        try:
            result = operation(progress=self._report, cancel=self.cancel_event)
        except ImagierError as e:
            ending = {"state": CANCELLED if self.cancel_event.is_set() else FAILED, "error": e.to_dict()}
        except Exception as e:
            log.exception("job %s (%s) failed", self.id, self.kind)
            ending = {"state": CANCELLED if self.cancel_event.is_set() else FAILED,
                      "error": {"error": type(e).__name__, "message": str(e) or type(e).__name__}}
        else:
            ending = {"state": CANCELLED if self.cancel_event.is_set() else DONE, "result": result}
        try:
            self._save_ending(ending)
        finally:
            self._update(finished=now(), **ending)
            if self._project is not None:
                with _running_lock:
                    _running_here.discard((str(self._project.path), self.id))
            self._finished_event.set()

    def _save_ending(self, ending: dict) -> None:
        if self._project is None:
            return
        try:
            with self._project.db.write() as conn:
                job_rows.finish_job(conn, self.id, ending["state"], result=ending.get("result"),
                                    error=ending.get("error"))
        except ImagierError:  # the row then reads as interrupted, which is what it is to another process
            log.exception("job %s: its end could not be saved", self.id)


class JobRunner:
    """Runs a project's jobs in background threads; remembers the running ones and the last `keep` ended.

    With a project, each job is a row of the project file (its id is the row's), listed, resumed and
    cancelled from any process; without one (`JobRunner()`), jobs live in memory only."""

    def __init__(self, project=None, keep: int = 100):
        self.project = project
        self.keep = keep
        self._jobs: OrderedDict[int, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    # ---- starting ----------------------------------------------------------------------------------------

    def submit(self, kind: str, params: dict | None = None, roots=None) -> Job:
        """Start a job of a kind of job_kinds.py, once its parameters pass the kind's check (which raises the
        error naming the one at fault before any work starts). `roots`: the folders path parameters must
        lie in (a server's)."""
        entry = job_kinds.kind(kind)
        checked = entry.check(self._need_project(), params or {}, roots)
        return self._launch(entry, checked, self._interrupted_twin(entry, checked))

    def start(self, kind: str, operation: Callable, params: dict | None = None, scope: str | None = None) -> Job:
        """Run `operation(progress=..., cancel=...)` as a job of `kind` in a new thread. One job of a scope (by
        default its kind) runs at a time: two imports into one project at once would compete for the same
        files. A narrower scope lets jobs of a kind run side by side (two different plugin actions)."""
        return self._launch(_AdHoc(kind, operation, scope), params or {}, None)

    def resume(self, job_id: int | str) -> Job:
        """Run a stopped job (interrupted, cancelled or failed) again, as its kind resumes (job_kinds.py):
        NotFound for no such job, Conflict when it is running or done."""
        row = self.row(job_id)
        if row["state"] == DONE:
            raise Conflict(f"job {row['id']} ({row['kind']}) is already done", job=row["id"])
        if row["state"] == RUNNING:
            raise Conflict(f"job {row['id']} ({row['kind']}) is running; cancel it first", job=row["id"])
        entry = job_kinds.kind(row["kind"])
        return self._launch(entry, row["params"], row["id"])

    def _interrupted_twin(self, entry, params: dict) -> int | None:
        """An interrupted job of a kind that continues, doing what is asked now: it is picked up rather than
        left interrupted for good beside a new one (an import of the same folders)."""
        if entry.same_work is None:
            return None
        stopped = [row for row in job_rows.jobs(self.project.db.reader, entry.name, state=RUNNING)
                   if not _alive(self.project, row) and entry.same_work(row["params"], params)]
        return stopped[-1]["id"] if stopped else None

    def _launch(self, entry, params: dict, resumed: int | None) -> Job:
        scope = entry.scope_of(params)
        with self._lock:
            if self._closed:
                raise Conflict("this project is no longer served (the server switched to another one): "
                               "reload the page to start jobs on the project it serves now")
            busy = next((j for j in self._jobs.values() if j.scope == scope and j.running), None)
            if busy is not None:
                what = scope if scope != entry.name else f"a {entry.name} job"
                raise Conflict(f"{what} is already running ({busy.id}); wait for it or cancel it", job=busy.id)
            job = self._new_job(entry, params, scope, resumed)
            self._jobs[job.id] = job
            self._forget_old()

        def operation(progress, cancel):
            return entry.run(self.project, params, progress, cancel, job.id)
        threading.Thread(target=job._run, args=(operation,), name=f"imagier-{entry.name}-{job.id}",
                         daemon=True).start()
        return job

    def _new_job(self, entry, params: dict, scope: str, resumed: int | None) -> Job:
        if self.project is None:
            return Job(next(_unsaved_ids), entry.name, params, scope)
        try:
            with self.project.db.write(wait=None if resumed else ROW_WAIT) as conn:
                if resumed is None:
                    job_id = job_rows.start_job(conn, entry.name, params)
                else:
                    job_id = resumed
                    job_rows.restart_job(conn, job_id, params)
        except Conflict:
            if resumed is not None:
                raise
            log.warning("the project file is busy: a %s job runs without its row", entry.name)
            return Job(-next(_unsaved_ids), entry.name, params, scope)
        with _running_lock:
            _running_here.add((str(self.project.path), job_id))
        return Job(job_id, entry.name, params, scope, project=self.project)

    # ---- reading -----------------------------------------------------------------------------------------

    def get(self, job_id: int | str) -> Job | dict:
        """The job (a live Job of this runner, else the snapshot of its row); NotFound when there is none."""
        number = _job_number(job_id)
        with self._lock:
            job = self._jobs.get(number)
        return job if job is not None else self.row(number)

    def snapshot(self, job_id: int | str) -> dict:
        found = self.get(job_id)
        return found.snapshot() if isinstance(found, Job) else found

    def row(self, job_id: int | str) -> dict:
        """The job as its row says, with 'interrupted' for a running one whose process is gone."""
        number = _job_number(job_id)
        row = job_rows.job(self._need_project().db.reader, number) if self.project is not None else None
        if row is None:
            raise NotFound(f"no job {job_id} in this project", job=str(job_id))
        return _row_snapshot(self.project, row)

    def jobs(self) -> list[Job]:
        """The jobs this runner started and remembers, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def snapshots(self, limit: int = 100, *, history: bool = False) -> list[dict]:
        """Newest first: the jobs this runner remembers, and the project's jobs that have not ended (those
        other processes run, and interrupted ones); with `history`, the project's newest `limit` jobs of
        every process, ended or not."""
        live = {job.id: job.snapshot() for job in self.jobs()}
        if self.project is None:
            return list(live.values())
        reader = self.project.db.reader
        rows = job_rows.recent_jobs(reader, limit) if history else job_rows.jobs_in_state(reader, RUNNING)
        found = {**{row["id"]: _row_snapshot(self.project, row) for row in rows}, **live}
        return [found[job_id] for job_id in sorted(found, reverse=True)][:limit]

    # ---- stopping ----------------------------------------------------------------------------------------

    def cancel(self, job_id: int | str) -> Job | dict:
        """Stop a job: this runner's at its next check; another process's through its row (that process
        reads the flag as the job reports progress); an interrupted one is marked cancelled. Conflict when
        the job has ended."""
        found = self.get(job_id)
        if isinstance(found, Job):
            found.cancel()
            return found
        if found["state"] not in (RUNNING, INTERRUPTED):
            raise Conflict(f"job {found['id']} ({found['kind']}) has ended ({found['state']})", job=found["id"])
        with self.project.db.write() as conn:
            if found["state"] == RUNNING:
                job_rows.request_cancel(conn, found["id"])
            else:
                job_rows.finish_job(conn, found["id"], CANCELLED)
        return self.row(found["id"])

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every running job and wait (up to `timeout` seconds in all) for them to stop."""
        running = [j for j in self.jobs() if j.running]
        for job in running:
            job.cancel()
        deadline = time.monotonic() + timeout
        for job in running:
            job.wait(max(0.0, deadline - time.monotonic()))

    def check_idle(self) -> None:
        """Conflict naming a running job, if one runs (before its project is switched away from)."""
        with self._lock:
            self._refuse_running()

    def close(self) -> None:
        """Start no more jobs (its project is about to close); Conflict, and still open, while one runs."""
        with self._lock:
            self._refuse_running()
            self._closed = True

    def _refuse_running(self) -> None:
        busy = next((job for job in self._jobs.values() if job.running), None)
        if busy is not None:
            raise Conflict(f"a {busy.kind} job is running ({busy.id}); wait for it to end or cancel it "
                           "before switching projects", job=busy.id)

    def _need_project(self):
        if self.project is None:
            raise InvalidInput("this job runner has no project: create it as JobRunner(project)")
        return self.project

    def _forget_old(self) -> None:
        ended = [job_id for job_id, job in self._jobs.items() if not job.running]
        for job_id in ended[:max(0, len(ended) - self.keep)]:
            del self._jobs[job_id]


class _AdHoc:
    """A kind of job made of one callable (`JobRunner.start`), which can be neither checked nor resumed."""

    def __init__(self, name: str, operation: Callable, scope: str | None):
        self.name = name
        self._operation = operation
        self._scope = scope

    def scope_of(self, params: dict) -> str:
        return self._scope or self.name

    def run(self, project, params, progress, cancel, job_id):
        return self._operation(progress=progress, cancel=cancel)


def _job_number(job_id: int | str) -> int:
    try:
        return int(job_id)
    except (TypeError, ValueError):
        raise NotFound(f"no job {job_id!r}: job ids are numbers", job=str(job_id)) from None


def _resumes(kind: str) -> str | None:
    entry = job_kinds.KINDS.get(kind)
    return entry.resumes if entry else None


def _row_snapshot(project, row: dict) -> dict:
    """A row as a job's snapshot (seq 0: nothing has changed since this process read it)."""
    state = row["state"]
    if state == RUNNING and not _alive(project, row):
        state = INTERRUPTED
    return {"id": row["id"], "kind": row["kind"], "state": state, "params": row["params"],
            "progress": row["progress"], "result": row["result"], "error": row["error"], "started": row["started"],
            "finished": row["finished"], "seq": 0, "resumes": _resumes(row["kind"])}


def _alive(project, row: dict) -> bool:
    """Whether the process that runs this job still runs it. A process of another machine (a project on a
    shared drive) cannot be asked: its jobs are taken as running."""
    owner = row["owner"]
    if owner == job_rows.THIS_PROCESS:
        with _running_lock:
            return (str(project.path), row["id"]) in _running_here
    parts = (owner or "").rsplit(":", 2)
    if len(parts) != 3:  # a row older than owners (an import of an earlier version): long gone
        return False
    host, pid, _token = parts
    if host != socket.gethostname():
        return True
    if not pid.isdigit() or int(pid) == os.getpid():
        return False  # an earlier process that had this pid
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process runs it
        return True
    return True
