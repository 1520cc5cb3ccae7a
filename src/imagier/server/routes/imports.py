"""Folder imports as background jobs, and the jobs' state and progress (as server-sent events)."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from ...jobs import Job
from . import Body, ProjectDep, RunnerDep

router = APIRouter(prefix="/api", tags=["imports and jobs"])

# How often a progress stream may send (a fast import reports far more often than a browser can draw),
# and how long it stays silent before a comment line keeps proxies and browsers from closing it.
EVENT_INTERVAL = 0.1
KEEPALIVE = 15.0


class ImportRequest(Body):
    folders: list[str] = Field(..., min_length=1, description="folders inside the allowed roots (see GET /api/folders), "
                                                              "imported recursively")
    store_originals: bool = Field(False, description="keep the original files inside the project, for sharing")
    workers: int | None = Field(None, ge=1, le=64)
    embed: bool = Field(True, description="then embed the new images (as `imagier import` does)")
    model: str | None = Field(None, description="the embedder to run after importing (default: the project's "
                                                "default vector type, else efficientnet-lite0)")


@router.post("/imports", status_code=202, summary="Start importing folders in the background; returns the job id")
def start_import(request: Request, project: ProjectDep, runner: RunnerDep, body: ImportRequest) -> dict:
    # The page may read only the folders it may browse; a missing folder or an unknown model is a 400
    # now rather than a failed job later.
    for folder in body.folders:
        request.app.state.roots.check(folder)
    project.check_import(body.folders, embed=body.embed, model=body.model)

    def run(progress, cancel):
        return project.import_and_embed(body.folders, embed=body.embed, model=body.model, workers=body.workers,
                                        store_originals=body.store_originals, progress=progress, cancel=cancel)

    return {"job": runner.start("import", run, params=body.model_dump()).id}


@router.get("/imports/pending", summary="Imports that were interrupted (the server stopped while they ran)")
def pending_imports(project: ProjectDep) -> list[dict]:
    return project.pending_imports()


@router.post("/imports/{import_id}/resume", status_code=202,
             summary="Finish an interrupted import in the background, skipping the files it already wrote")
def resume_import(project: ProjectDep, runner: RunnerDep, import_id: int) -> dict:
    def run(progress, cancel):
        return project.resume_import(import_id, progress=progress, cancel=cancel)

    return {"job": runner.start("import", run, params={"resume": import_id}).id}


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
    job = runner.get(job_id)
    return StreamingResponse(_events(job), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


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
                await asyncio.wait_for(changed.wait(), KEEPALIVE)
            except TimeoutError:
                yield ": keep-alive\n\n"
            else:
                await asyncio.sleep(EVENT_INTERVAL)
    finally:
        unsubscribe()
