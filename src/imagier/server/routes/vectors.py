"""Vector types and the embedding job (progress through the jobs' server-sent events)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field

from . import Body, ProjectDep, RunnerDep

router = APIRouter(prefix="/api", tags=["vectors"])


class EmbedRequest(Body):
    model: str | None = Field(None, description="the embedder (default: the project's default vector type, "
                                                "else efficientnet-lite0)")
    model_path: str | None = Field(None, description="the folder of the model's files on the server's machine "
                                                     "(CLIP's ONNX export), instead of the hub's copy; inside the "
                                                     "allowed roots")
    batch_size: int = Field(32, ge=1, le=1024)


class DefaultRequest(Body):
    name: str = Field(..., description="the vector type similarity, clustering and duplicates use by default")


@router.get("/vector-types", summary="The project's vector types: model, dimension, count, which is the default")
def vector_types(project: ProjectDep) -> list[dict]:
    return project.vector_types()


@router.get("/models", summary="The embedders this imagier can run (each makes a vector type of its name)")
def models(project: ProjectDep) -> list[str]:
    return project.models()


@router.put("/vector-types/default", summary="Choose the default vector type")
def set_default(project: ProjectDep, body: DefaultRequest) -> dict:
    return project.set_default_vector_type(body.name)


@router.post("/embed", status_code=202, summary="Embed every image that lacks vectors of a model, in the "
                                                  "background; returns the job id")
def start_embed(request: Request, project: ProjectDep, runner: RunnerDep, body: EmbedRequest) -> dict:
    if body.model_path is not None:
        # Checked first: outside the allowed roots, whether a model folder exists there is not told.
        request.app.state.roots.check(body.model_path)
    # An unknown model or a missing model folder is an error now rather than a failed job later.
    model = project.check_model(body.model, body.model_path)

    def run(progress, cancel):
        return project.embed(model, model_path=body.model_path, batch_size=body.batch_size, progress=progress,
                             cancel=cancel)

    return {"job": runner.start("embed", run, params={"model": model, "model_path": body.model_path,
                                                      "batch_size": body.batch_size}).id}
