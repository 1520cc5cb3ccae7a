"""The background jobs of this server (imports, embeddings, clusterings, plugin runs, ...): their state,
cancelling them, and their progress as server-sent events."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ...jobs import Job
from . import KEEPALIVE_SECONDS, KEEPALIVE_LINE, RunnerDep, event_stream

router = APIRouter(prefix="/api", tags=["jobs"])

# How often a progress stream may send: a fast import reports far more often than a browser can draw.
EVENT_INTERVAL = 0.1


@router.get("/jobs", summary="The background jobs of this server, newest first")
def list_jobs(runner: RunnerDep) -> list[dict]:
    return [job.snapshot() for job in runner.jobs()]


@router.get("/jobs/{job_id}", summary="One job: state, progress, result or error")
def get_job(runner: RunnerDep, job_id: str) -> dict:
    return runner.get(job_id).snapshot()


@router.post("/jobs/{job_id}/cancel", status_code=202, summary="Ask a job to stop; it ends as 'cancelled'")
def cancel_job(runner: RunnerDep, job_id: str) -> dict:
    return runner.cancel(job_id).snapshot()


@router.get("/jobs/{job_id}/events", summary="The job's progress as server-sent events, ending with its result",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def job_events(runner: RunnerDep, job_id: str) -> StreamingResponse:
    return event_stream(_events(runner.get(job_id)))


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
