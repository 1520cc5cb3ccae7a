"""Background jobs: run a long Project operation (an import, later an embedding) in a thread.

A job wraps any callable that takes `progress` (called with a dict as work advances) and `cancel` (a
threading.Event it checks now and then). The runner keeps each job's state, lets any number of
subscribers hear about changes, and cancels on request. Nothing here knows about HTTP, so the CLI or
a notebook can use it as the server does:

    runner = JobRunner()
    job = runner.start("import", lambda progress, cancel: project.import_folders(
        ["photos"], progress=progress, cancel=cancel))
    job.wait()
    print(job.snapshot()["result"])

Subscribers are told *that* a job changed, not what changed: they read `snapshot()` when they are ready.
A slow reader (a browser on a bad connection) so never makes a fast import queue up events; it just sees
fewer, later ones. Resumable state lives in the project's own jobs table, written by the operation.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Callable

from .errors import Conflict, ImagierError, NotFound

log = logging.getLogger(__name__)

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


def _now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()


class Job:
    """One background run of an operation. Read it with `snapshot()`; never mutate it from outside."""

    def __init__(self, kind: str, params: dict | None = None, scope: str | None = None):
        self.id = uuid.uuid4().hex[:12]
        self.kind = kind
        self.scope = scope or kind
        self.params = params or {}
        self.state = RUNNING
        self.progress: dict = {}
        self.result = None
        self.error: dict | None = None
        self.started = _now()
        self.finished: str | None = None
        self.cancel_event = threading.Event()
        # Bumped on every change, so a subscriber can tell whether it has already seen a state.
        self.seq = 0
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
                    "started": self.started, "finished": self.finished, "seq": self.seq}

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
        self._update(finished=_now(), **ending)
        self._finished_event.set()


class JobRunner:
    """Starts jobs in background threads and remembers them (the running ones and the last `keep` ended)."""

    def __init__(self, keep: int = 100):
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, kind: str, operation: Callable, params: dict | None = None, scope: str | None = None) -> Job:
        """Run `operation(progress=..., cancel=...)` in a new thread. One job of a scope (by default its
        kind) runs at a time: two imports into one project at once would compete for the same files.
        A narrower scope lets jobs of a kind run side by side (two different plugin actions)."""
        with self._lock:
            busy = next((j for j in self._jobs.values() if j.scope == (scope or kind) and j.running), None)
            if busy is not None:
                what = scope if scope else f"a {kind} job"
                raise Conflict(f"{what} is already running ({busy.id}); wait for it or cancel it", job=busy.id)
            job = Job(kind, params, scope)
            self._jobs[job.id] = job
            self._forget_old()
        threading.Thread(target=job._run, args=(operation,), name=f"imagier-{kind}-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r} (jobs are kept until the server restarts)", job=job_id)
        return job

    def jobs(self) -> list[Job]:
        """Every remembered job, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        job.cancel()
        return job

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every running job and wait (up to `timeout` seconds in all) for them to stop."""
        running = [j for j in self.jobs() if j.running]
        for job in running:
            job.cancel()
        deadline = time.monotonic() + timeout
        for job in running:
            job.wait(max(0.0, deadline - time.monotonic()))

    def _forget_old(self) -> None:
        ended = [job_id for job_id, job in self._jobs.items() if not job.running]
        for job_id in ended[:max(0, len(ended) - self.keep)]:
            del self._jobs[job_id]
