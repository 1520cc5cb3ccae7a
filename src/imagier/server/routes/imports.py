"""Folder imports as background jobs (their progress is read through routes/jobs.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field

from . import Body, ProjectDep, RunnerDep

router = APIRouter(prefix="/api", tags=["imports"])


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
    roots = request.app.state.roots
    for folder in body.folders:
        roots.check(folder, "folders")
    project.check_import(body.folders, embed=body.embed, model=body.model)

    def run(progress, cancel):
        # Links to files outside the allowed roots are not followed: they would let the page read them.
        return project.import_and_embed(body.folders, embed=body.embed, model=body.model, workers=body.workers,
                                        store_originals=body.store_originals, progress=progress, cancel=cancel,
                                        links_within=roots.roots)

    return {"job": runner.start("import", run, params=body.model_dump()).id}


@router.get("/imports/pending", summary="Imports that were interrupted (the server stopped while they ran)")
def pending_imports(project: ProjectDep) -> list[dict]:
    return project.pending_imports()


@router.post("/imports/{import_id}/resume", status_code=202,
             summary="Finish an interrupted import in the background, skipping the files it already wrote")
def resume_import(project: ProjectDep, runner: RunnerDep, import_id: int) -> dict:
    # An unknown or finished import is a 404 or 409 now rather than a failed job later.
    project.resumable_import(import_id)

    def run(progress, cancel):
        return project.resume_import_and_embed(import_id, progress=progress, cancel=cancel)

    return {"job": runner.start("import", run, params={"resume": import_id}).id}
