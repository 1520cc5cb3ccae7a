"""The ImageNet guesses: their probabilities for the page's hover, and turning them off for good or on."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from . import Body, ProjectDep

router = APIRouter(prefix="/api", tags=["guesses"])


class GuessesRequest(Body):
    ids: list[int] = Field(..., max_length=10_000, description="image (file) ids")


class LabelsSetting(Body):
    enabled: bool = Field(..., description="false deletes the `ImageNet guess` property and stops later "
                                           "embeddings writing it; true computes the guesses again")


@router.post("/guesses", summary="The ImageNet guesses of these images with their probabilities: "
                                 "{id: [{label, probability}]}")
def guesses(project: ProjectDep, body: GuessesRequest) -> dict[int, list[dict]]:
    return project.guesses(body.ids)


@router.get("/labels", summary="Whether the project's embeddings write ImageNet guesses")
def labels_status(project: ProjectDep) -> dict:
    return {"enabled": project.machine_labels_enabled()}


@router.put("/labels", summary="Turn the ImageNet guesses off for good (deleting them) or on again")
def set_labels(project: ProjectDep, body: LabelsSetting) -> dict:
    return project.enable_machine_labels() if body.enabled else project.delete_machine_labels()
