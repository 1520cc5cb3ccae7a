"""Saved views: the state of a tab (filter, sort, group, display options) kept in the project."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from . import Body, ProjectDep

router = APIRouter(prefix="/api/views", tags=["views"])


class View(Body):
    name: str
    state: dict[str, Any]


@router.get("", summary="Every saved view")
def list_views(project: ProjectDep) -> list[dict]:
    return project.views()


@router.post("", status_code=201, summary="Save a new view (its filter, sort and group are checked first)")
def create_view(project: ProjectDep, body: View) -> dict:
    return project.save_view(body.name, body.state)


@router.put("/{view_id}", summary="Replace a saved view")
def replace_view(project: ProjectDep, view_id: int, body: View) -> dict:
    return project.save_view(body.name, body.state, id=view_id)


@router.delete("/{view_id}", status_code=204, summary="Delete a saved view")
def delete_view(project: ProjectDep, view_id: int) -> Response:
    project.delete_view(view_id)
    return Response(status_code=204)
