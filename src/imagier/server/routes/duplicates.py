"""Near-duplicates, found in the background: a job whose result is the groups (see /api/jobs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from . import Body, ProjectDep, RunnerDep

router = APIRouter(prefix="/api", tags=["duplicates"])


class DuplicatesRequest(Body):
    filter: Any = Field(None, description="look only at the images of this filter (as in /api/query)")
    vector_type: str | None = Field(None, description="whose neighbours are the candidates (default: the default type)")
    k: int = Field(10, ge=1, le=100, description="neighbours looked at per image")


@router.post("/duplicates", status_code=202,
             summary="Start finding groups of near-duplicate images; returns the job id (its result: the groups)")
def start_duplicates(project: ProjectDep, runner: RunnerDep, body: DuplicatesRequest) -> dict:
    options = body.model_dump()
    project.check_duplicates(**options)  # a bad filter or vector type: refused now, not as a failed job later

    def run(progress, cancel):
        return project.duplicates(**options, progress=progress, cancel=cancel)

    return {"job": runner.start("duplicates", run, params=options).id}
