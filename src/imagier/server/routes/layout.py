"""The similarity map: computed in the background once per version of a vector type's vectors, then served
compactly for the map view (500,000 points are 6 MB of binary rather than tens of MB of JSON)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field

from . import Body, ProjectDep, RunnerDep

router = APIRouter(prefix="/api", tags=["similarity map"])


class LayoutRequest(Body):
    vector_type: str | None = Field(None, description="the vector type laid out (default: the project's default)")


@router.post("/layout", status_code=202,
             summary="Compute the 2-D similarity map of a vector type in the background (at once when it is "
                     "already computed); the job's result says how it was made")
def compute_layout(runner: RunnerDep, body: LayoutRequest) -> dict:
    # An unknown vector type is a 404 now rather than a failed job later.
    return {"job": runner.submit("layout", body.model_dump()).id}


@router.get("/layout", summary="The similarity map, if computed (else a 404: POST /api/layout first), as binary: "
                               "the file ids (int32), then x, y per image (float32, in [0, 1]), little-endian; "
                               "headers X-Points, X-Missing, X-Vector-Type (URL-encoded), X-Version",
            response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})
def get_layout(project: ProjectDep, vector_type: str | None = None) -> Response:
    found = project.layout(vector_type, compute=False)
    body = found["ids"].astype("<i4").tobytes() + found["xy"].astype("<f4").tobytes()
    return Response(body, media_type="application/octet-stream", headers={
        "X-Points": str(len(found["ids"])), "X-Missing": str(found["missing"]),
        "X-Vector-Type": quote(found["vector_type"]), "X-Version": str(found["version"]), "Cache-Control": "no-store"})
