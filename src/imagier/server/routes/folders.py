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

from . import Body, ProjectDep, RootsDep

router = APIRouter(prefix="/api", tags=["folders and projects"])


@router.get("/folders", summary="A folder's sub-folders with their image counts (the allowed roots without a path)")
def folders(roots: RootsDep, path: str | None = Query(None, description="a folder inside the allowed roots")) -> dict:
    return {**roots.listing(path), "roots": [str(root) for root in roots.roots]}


class OpenRequest(Body):
    path: str = Field(..., description="an .imagier file inside the allowed roots")
    create: bool = Field(False, description="create a new project there (the file must not exist yet)")


@router.post("/project/open", summary="Serve another project: open an existing one or create a new one")
def open_project(request: Request, body: OpenRequest) -> dict:
    # Requests in flight finish on the project they started with; a running job refuses the switch (409).
    return request.app.state.server.switch(body.path, create=body.create).info()


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

