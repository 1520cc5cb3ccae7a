"""The jobs of the served project (imports, embeddings, clusterings, plugin runs, ...; see imagier/jobs.py):
starting one of any kind, their state, cancelling and resuming them, and their progress as server-sent
events. The routes of each area (POST /api/imports, /api/embed, ...) start the same jobs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from ...job_kinds import KINDS
from ...jobs import Job
from . import KEEPALIVE_SECONDS, KEEPALIVE_LINE, Body, RootsDep, RunnerDep, event_stream

router = APIRouter(prefix="/api", tags=["jobs"])

# How often a progress stream may send: a fast import reports far more often than a browser can draw.
EVENT_INTERVAL = 0.1


class JobRequest(Body):
    kind: str = Field(..., description=f"the kind of job: {', '.join(sorted(KINDS))}")
    params: dict[str, Any] = Field(default_factory=dict, description="its parameters (those of the kind's own "
                                                                     "route, such as POST /api/duplicates)")


@router.get("/jobs", summary="This server's jobs and the project's unfinished ones (run by another process, or "
                              "interrupted), newest first; with history=true, the project's newest jobs of all")
def list_jobs(runner: RunnerDep, history: bool = Query(False, description="also the jobs that ended before this "
                                                                          "server started, and other processes'")
              ) -> list[dict]:
    return runner.snapshots(history=history)


@router.post("/jobs", status_code=202, summary="Start a job of any kind; returns its id")
def start_job(runner: RunnerDep, roots: RootsDep, body: JobRequest) -> dict:
    return {"job": runner.submit(body.kind, body.params, roots=roots).id}


@router.get("/jobs/{job_id}", summary="One job: state (running, done, failed, cancelled or interrupted), "
                                      "progress, result or error")
def get_job(runner: RunnerDep, job_id: str) -> dict:
    return runner.snapshot(job_id)


@router.post("/jobs/{job_id}/cancel", status_code=202, summary="Ask a job to stop; it ends as 'cancelled'")
def cancel_job(runner: RunnerDep, job_id: str) -> dict:
    found = runner.cancel(job_id)
    return found.snapshot() if isinstance(found, Job) else found


@router.post("/jobs/{job_id}/resume", status_code=202,
             summary="Run a stopped job again (an import goes on from the files it wrote; see its `resumes`)")
def resume_job(runner: RunnerDep, job_id: str) -> dict:
    return {"job": runner.resume(job_id).id}


@router.get("/jobs/{job_id}/events", summary="The job's progress as server-sent events, ending with its result",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def job_events(runner: RunnerDep, job_id: str) -> StreamingResponse:
    found = runner.get(job_id)
    return event_stream(_events(found) if isinstance(found, Job) else _ended(found))


async def _ended(snapshot: dict):
    """A job this server does not run (ended, interrupted, or another process's): its state, once."""
    yield f"id: 0\ndata: {json.dumps(snapshot, default=str)}\n\n"


async def _events(job: Job):
    """One `data: {snapshot}` per change, at most every EVENT_INTERVAL, the last one when the job ends."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    unsubscribe = job.subscribe(lambda: loop.call_soon_threadsafe(changed.set))
    try:
        sent = None
        while True:
            changed.clear()
            snapshot = job.snapshot()
            if snapshot["seq"] != sent:
                sent = snapshot["seq"]
                yield f"id: {sent}\ndata: {json.dumps(snapshot, default=str)}\n\n"
            if snapshot["state"] != "running":
                return
            try:
                await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield KEEPALIVE_LINE
            else:
                await asyncio.sleep(EVENT_INTERVAL)
    finally:
        unsubscribe()
