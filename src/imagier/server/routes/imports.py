"""Folder imports as background jobs (their progress is read through routes/jobs.py)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from . import Body, ProjectDep, RootsDep, RunnerDep

router = APIRouter(prefix="/api", tags=["imports"])


class ImportRequest(Body):
    folders: list[str] = Field(..., min_length=1, description="folders inside the allowed roots (see GET /api/folders), "
                                                              "imported recursively")
    store_originals: bool = Field(False, description="keep the original files inside the project, for sharing")
    workers: int | None = Field(None, ge=1, le=64)
    embed: bool = Field(True, description="then embed the new images (as `imagier import` does)")
    model: str | None = Field(None, description="the embedder to run after importing (default: the project's "
                                                "default vector type, else efficientnet-lite0)")
    film_every: float = Field(5.0, ge=0, description="films: a frame every this many seconds (0: none)")
    film_shots: bool = Field(False, description="films: detect the shots (decoding every frame) and take one frame "
                                                "per shot too")


@router.post("/imports", status_code=202, summary="Start importing folders in the background; returns the job id")
def start_import(runner: RunnerDep, roots: RootsDep, body: ImportRequest) -> dict:
    # A folder outside the roots, a missing one or an unknown model is an error now rather than a failed
    # job later; links to files outside the roots are not followed (they would let the page read them).
    return {"job": runner.submit("import", body.model_dump(), roots=roots).id}


@router.get("/imports/pending", summary="Imports that were interrupted (the server stopped while they ran)")
def pending_imports(project: ProjectDep) -> list[dict]:
    return project.pending_imports()


@router.post("/imports/{import_id}/resume", status_code=202,
             summary="Finish an interrupted import in the background, skipping the files it already wrote "
                     "(as POST /api/jobs/{id}/resume)")
def resume_import(project: ProjectDep, runner: RunnerDep, import_id: int) -> dict:
    # An unknown or finished import is a 404 or 409 now rather than a failed job later.
    project.resumable_import(import_id)
    return {"job": runner.resume(import_id).id}
