"""The project as a whole: its summary, the undo/redo log, and a stream that says when it changed."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from . import KEEPALIVE_SECONDS, KEEPALIVE_LINE, ProjectDep, event_stream

# How often the change stream looks at the file.
CHANGES_INTERVAL = 0.5

router = APIRouter(prefix="/api", tags=["project"])


@router.get("/info", summary="Counts of files and contents, the properties, the vector types")
def info(project: ProjectDep) -> dict:
    return project.info()


@router.get("/history", summary="The operation log, newest first")
def history(project: ProjectDep, limit: int = Query(100, ge=1, le=10_000)) -> list[dict]:
    return project.history(limit)


@router.post("/undo", summary="Undo the newest operation")
def undo(project: ProjectDep) -> dict:
    return project.undo()


@router.post("/redo", summary="Redo the operation undone last")
def redo(project: ProjectDep) -> dict:
    return project.redo()


@router.get("/changes", summary="Server-sent events, one {\"version\": n} each time the project file changes "
                                "(a write from any page, job or process), so open pages can refresh",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def changes(request: Request) -> StreamingResponse:
    return event_stream(_changes(request))


async def _changes(request: Request):
    sent, quiet = None, 0.0
    while not await request.is_disconnected():
        # Read the serving project each time: the page may have switched the server to another one.
        version = await run_in_threadpool(_data_version, request.app.state.server)
        if version != sent:
            sent, quiet = version, 0.0
            yield f"data: {json.dumps({'version': version})}\n\n"
        elif quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield KEEPALIVE_LINE
        await asyncio.sleep(CHANGES_INTERVAL)
        quiet += CHANGES_INTERVAL


def _data_version(server) -> int:
    # Leased: the page may switch the server to another project between two reads.
    with server.lease() as served:
        return served.project.data_version()
