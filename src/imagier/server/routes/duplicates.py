"""Near-duplicates, found in the background: a job whose result is the groups (see /api/jobs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from . import Body, RunnerDep

router = APIRouter(prefix="/api", tags=["duplicates"])


class DuplicatesRequest(Body):
    filter: Any = Field(None, description="look only at the images of this filter (as in /api/query)")
    vector_type: str | None = Field(None, description="whose neighbours are the candidates (default: the default type)")
    k: int = Field(10, ge=1, le=100, description="neighbours looked at per image")


@router.post("/duplicates", status_code=202,
             summary="Start finding groups of near-duplicate images; returns the job id (its result: the groups)")
def start_duplicates(runner: RunnerDep, body: DuplicatesRequest) -> dict:
    # A bad filter or vector type: refused now, not as a failed job later.
    return {"job": runner.submit("duplicates", body.model_dump()).id}
