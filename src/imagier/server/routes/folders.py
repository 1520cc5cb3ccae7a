"""The server's machine as the page may see it: folders inside the allowed roots, opening or creating
another project there, and the project file as a download."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import Field
from starlette.background import BackgroundTask

from ...errors import Conflict
from ...ingest.browse import FolderRoots
from ...project import Project
from . import Body, ProjectDep, RunnerDep

router = APIRouter(prefix="/api", tags=["folders and projects"])


def _roots(request: Request) -> FolderRoots:
    return request.app.state.roots


@router.get("/folders", summary="A folder's sub-folders with their image counts (the allowed roots without a path)")
def folders(request: Request, path: str | None = Query(None, description="a folder inside the allowed roots")) -> dict:
    listing = _roots(request).listing(path)
    return {**listing, "roots": [str(root) for root in _roots(request).roots]}


class OpenRequest(Body):
    path: str = Field(..., description="an .imagier file inside the allowed roots")
    create: bool = Field(False, description="create a new project there (the file must not exist yet)")


@router.post("/project/open", summary="Serve another project: open an existing one or create a new one")
def open_project(request: Request, runner: RunnerDep, body: OpenRequest) -> dict:
    path = _roots(request).project_file(body.path, create=body.create)
    busy = [job.kind for job in runner.jobs() if job.running]
    if busy:
        # A running job holds the open project: switching now would pull the file from under it.
        raise Conflict(f"a {busy[0]} job is running; wait for it to end or cancel it before switching projects")
    old: Project = request.app.state.project
    if path == old.path:
        return old.info()
    new = Project(path, create=body.create)
    request.app.state.project = new
    old.close()
    return new.info()


@router.get("/project/download", summary="The whole project file, a consistent copy made while it stays in use",
            response_class=FileResponse, responses={200: {"content": {"application/vnd.sqlite3": {}}}})
async def download(project: ProjectDep) -> FileResponse:
    # A temporary folder rather than file: the backup creates the copy itself (and its journal beside it).
    folder = tempfile.mkdtemp(prefix="imagier-download-")
    try:
        copy = await run_in_threadpool(project.save_copy, Path(folder) / project.path.name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(copy, media_type="application/vnd.sqlite3", filename=f"{project.path.stem}.imagier",
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))

