"""IIIF imports as background jobs (their progress is read through routes/jobs.py), and where an image
imported from IIIF comes from."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from ...ingest.iiif_import import DEFAULT_CONCURRENCY, DEFAULT_SIZE, MAX_CONCURRENCY
from . import Body, ProjectDep, RootsDep, RunnerDep

router = APIRouter(prefix="/api", tags=["imports"])


class IiifImportRequest(Body):
    sources: list[str] = Field(..., min_length=1, description="URLs of IIIF manifests or collections (Presentation "
                                                              "API 2 or 3), or manifest files inside the allowed roots")
    size: int | str = Field(DEFAULT_SIZE, description="pixels on each image's long side, or \"max\" for the largest "
                                                      "the server gives")
    language: str | None = Field(None, description="the language of labels and metadata where a manifest offers "
                                                   "several (default: the server's)")
    concurrency: int = Field(DEFAULT_CONCURRENCY, ge=1, le=MAX_CONCURRENCY, description="requests at a time")
    embed: bool = Field(True, description="then embed the new images (as `imagier import-iiif` does)")
    model: str | None = Field(None, description="the embedder to run after importing")


@router.post("/imports/iiif", status_code=202,
             summary="Start importing the images of IIIF manifests in the background; returns the job id")
def start_iiif_import(runner: RunnerDep, roots: RootsDep, body: IiifImportRequest) -> dict:
    # A bad source, size or model is an error now rather than a failed job later.
    return {"job": runner.submit("iiif", body.model_dump(), roots=roots).id}


@router.get("/files/{file_id}/iiif", summary="Where an image imported from IIIF comes from (null for other images)")
def iiif_source(project: ProjectDep, file_id: int) -> dict | None:
    return project.iiif_source(file_id)
