"""Plugins: the list of plugins and their actions' forms, and running an action as a background job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from ...plugins.schema import KIND
from . import Body, ProjectDep, RunnerDep

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
def run(request: Request, project: ProjectDep, runner: RunnerDep, plugin: str, action: str, body: RunRequest) -> dict:
    # Unknown actions, bad parameters, images or filters are refused now rather than as a failed job later.
    chosen = project.check_action(f"{plugin}.{action}", body.params, ids=body.ids, filter=body.filter)
    _check_paths(request, chosen["schema"], body.params)
    qualified = f"{chosen['plugin']}.{chosen['name']}"

    def run_it(progress, cancel):
        return project.run_action(qualified, body.params, ids=body.ids, filter=body.filter, progress=progress,
                                  cancel=cancel)

    # One run of an action at a time; different actions may run side by side (their writes take turns).
    return {"job": runner.start("plugin", run_it, params={"action": qualified, "kind": chosen["kind"],
                                                          "label": chosen["label"], "params": body.params},
                                scope=qualified).id}


def _check_paths(request: Request, schema: dict, params: dict) -> None:
    """Forbidden for a path parameter outside the allowed roots: a form must not make the server read, or
    tell about, files the page may not see."""
    for name, field in schema["properties"].items():
        if field.get(KIND) == "path" and isinstance(params.get(name), str):
            request.app.state.roots.check(params[name], name)
