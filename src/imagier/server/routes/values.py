"""Values: set, add and remove for a selection of images, and read them for a window of images.

A selection is either a list of image ids or a filter meaning "every image of the view"
(`"filter": null` is every image of the project), so annotating 100,000 images sends no id list.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field

from ...checks import comma_separated_ids
from ...errors import InvalidInput
from . import Body, ProjectDep, names_param

router = APIRouter(prefix="/api/values", tags=["values"])

TagList = int | str | list[int | str]


class Selection(Body):
    property: str
    ids: list[int] | None = None
    filter: Any = Field(None, description="the view's filter: every image it matches (null: every image)")

    def image_ids(self, project) -> list[int]:
        by_filter = "filter" in self.model_fields_set
        if (self.ids is not None) == by_filter:
            raise InvalidInput("give either 'ids' (a list of image ids) or 'filter' (the view's filter), not "
                               + ("both" if by_filter else "neither"))
        return self.ids if self.ids is not None else project.query_ids(self.filter)


class SetValues(Selection):
    value: Any


class AddValues(Selection):
    tags: TagList


class RemoveValues(Selection):
    tags: TagList | None = None


class ManyValues(Body):
    property: str
    values: dict[int, Any] = Field(..., description='each image its own value: {"12": "a", "15": "b"}')


class Window(Body):
    ids: list[int]
    properties: list[str] | None = None


def _window(project, ids: list[int], properties: list[str] | None) -> dict:
    values = project.values(ids, properties)
    return {"items": [{**file, "values": values[file["id"]]} for file in project.files(ids)]}


@router.post("/set", summary="Give every selected image this value (null clears it; tag names are created)")
def set_values(project: ProjectDep, body: SetValues) -> dict:
    return {"changed": project.set_values(body.property, body.image_ids(project), body.value)}


@router.post("/add", summary="Add tags to every selected image, keeping the tags they have")
def add_values(project: ProjectDep, body: AddValues) -> dict:
    return {"changed": project.add_values(body.property, body.image_ids(project), body.tags)}


@router.post("/remove", summary="Remove these tags (or, without tags, every value) from the selected images")
def remove_values(project: ProjectDep, body: RemoveValues) -> dict:
    return {"changed": project.remove_values(body.property, body.image_ids(project), body.tags)}


@router.post("/set-many", summary="Give each image its own value, all checked first, as one operation")
def set_many(project: ProjectDep, body: ManyValues) -> dict:
    return {"changed": project.set_many(body.property, body.values)}


@router.get("", summary="Built-in fields and property values of a window of images (unknown ids are left out)")
def get_values(project: ProjectDep,
               ids: str = Query(..., description="comma-separated image ids, e.g. 1,2,3"),
               properties: str | None = Query(None, description="comma-separated property names (default: all)"),
               ) -> dict:
    return _window(project, comma_separated_ids("ids", ids), names_param(properties))


@router.post("", summary="The same as GET /api/values, for windows too long for a URL")
def post_values(project: ProjectDep, body: Window) -> dict:
    return _window(project, body.ids, body.properties)
