"""Plugins: the list of plugins and their actions' forms, and running an action as a background job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from . import Body, ProjectDep, RootsDep, RunnerDep

router = APIRouter(prefix="/api", tags=["plugins"])


class RunRequest(Body):
    params: dict[str, Any] = Field(default_factory=dict, description="the action's parameters, as its schema says")
    ids: list[int] | None = Field(None, description="the images to run on (a group, the selection; for a similar "
                                                    "action, the query); null: the images of the filter")
    filter: Any = Field(None, description="the view's filter (the candidates of a similar action; null: all images)")


@router.get("/plugins", summary="The plugins, their actions with the JSON Schema of their forms, and load errors")
def plugins(project: ProjectDep, reload: bool = False) -> dict:
    return project.plugins(reload=reload)


@router.post("/plugins/{plugin}/{action}/run", status_code=202,
             summary="Run a plugin's action in the background; the job's result depends on the action's kind")
def run(runner: RunnerDep, roots: RootsDep, plugin: str, action: str, body: RunRequest) -> dict:
    # Unknown actions, bad parameters, images or filters, and paths outside the roots are refused now rather
    # than as a failed job later. One run of an action at a time; different actions may run side by side.
    return {"job": runner.submit("plugin", {"action": f"{plugin}.{action}", **body.model_dump()}, roots=roots).id}
