"""Vector types and the embedding job (progress through the jobs' server-sent events)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from pydantic import Field

from . import Body, ProjectDep, RootsDep, RunnerDep
from ...vectors import models as catalogue

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


@router.get("/models", summary="The models: what each is for, whether it is on the server's machine, where and "
                               "how big, and the command that installs it (see `imagier models`)")
def models() -> list[dict]:
    return catalogue.catalogue()


@router.post("/models/{name}/get", status_code=202, summary="Download a model from the model hub onto the server's "
                                                            "machine in the background (see `imagier models get`); "
                                                            "returns the job id")
def get_model(runner: RunnerDep, name: str) -> dict:
    # An unknown or built-in model is a 400 now rather than a failed job later.
    return {"job": runner.submit("download", {"model": name}).id}


@router.get("/models/offer", summary="The model this project uses and the CLIP model it could use, with the time "
                                     "it would take at this machine's measured speed")
def model_offer(project: ProjectDep, adding: int = Query(0, ge=0, description="images about to be imported")) -> dict:
    return project.model_offer(adding)


@router.put("/vector-types/default", summary="Choose the default vector type")
def set_default(project: ProjectDep, body: DefaultRequest) -> dict:
    return project.set_default_vector_type(body.name)


@router.delete("/vector-types/{name}", status_code=204, summary="Delete a vector type and its vectors (embedding "
                                                                "computes them again)")
def delete_vector_type(project: ProjectDep, name: str) -> Response:
    project.delete_vector_type(name)
    return Response(status_code=204)


@router.post("/embed", status_code=202, summary="Embed every image that lacks vectors of a model, in the "
                                                  "background; returns the job id")
def start_embed(runner: RunnerDep, roots: RootsDep, body: EmbedRequest) -> dict:
    # A model folder outside the roots, an unknown model or a missing model folder is an error now rather
    # than a failed job later.
    return {"job": runner.submit("embed", body.model_dump(), roots=roots).id}
