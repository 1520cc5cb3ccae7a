"""The ImageNet guesses: their probabilities for the page's hover, and turning them off for good or on."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import Field

from . import Body, ProjectDep, RunnerDep

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


@router.put("/labels", summary="Turn the ImageNet guesses off for good (deleting them: {enabled, deleted}) or on "
                               "again (a 202 with the id of the job that writes them again: {enabled, job})")
def set_labels(project: ProjectDep, runner: RunnerDep, body: LabelsSetting, response: Response) -> dict:
    if not body.enabled:
        return project.delete_machine_labels()
    # Writing the guesses of every image again takes minutes on a large corpus: not inside a request.
    response.status_code = 202
    return {"enabled": True, "job": runner.submit("labels").id}
