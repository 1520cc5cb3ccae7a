"""Properties and their tags.

Properties and tags are named in the URL by their names (a tag's name may hold a slash: "AC/DC"; a
property's may not); in bodies a tag (a parent, a merge source) may be given by name or by id.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from . import Body, ProjectDep

router = APIRouter(prefix="/api/properties", tags=["properties"])


class NewProperty(Body):
    name: str
    type: str
    scope: str = "file"


class PropertyChange(Body):
    name: str


class NewTag(Body):
    name: str
    colour: str | None = None
    parents: list[int | str] = []


class TagChange(Body):
    name: str | None = None
    colour: str | None = None
    parents: list[int | str] | None = None


class TagMerge(Body):
    sources: list[int | str]
    into: int | str


@router.get("", summary="Every property, the built-in read-only ones first")
def list_properties(project: ProjectDep) -> list[dict]:
    return project.properties()


@router.post("", status_code=201, summary="Create a property (types: text, number, date, checkbox, url, "
                                          "colour, tag, multi-tag, path; scope: file or content)")
def create_property(project: ProjectDep, body: NewProperty) -> dict:
    return project.create_property(body.name, body.type, body.scope)


@router.get("/{name}", summary="One user property")
def get_property(project: ProjectDep, name: str) -> dict:
    return project.property(name)


@router.patch("/{name}", summary="Rename a property")
def rename_property(project: ProjectDep, name: str, body: PropertyChange) -> dict:
    return project.rename_property(name, body.name)


@router.delete("/{name}", status_code=204, summary="Delete a property and its values (undoable)")
def delete_property(project: ProjectDep, name: str) -> Response:
    project.delete_property(name)
    return Response(status_code=204)


@router.get("/{name}/tags", summary="The tags of a tag property, with colours, parents and counts")
def list_tags(project: ProjectDep, name: str) -> list[dict]:
    return project.tags(name)


@router.post("/{name}/tags", status_code=201, summary="Create a tag (parents that would make a cycle are refused)")
def create_tag(project: ProjectDep, name: str, body: NewTag) -> dict:
    return project.create_tag(name, body.name, body.colour, body.parents)


@router.post("/{name}/tags/merge", summary="Merge tags into one: their images and children move to it")
def merge_tags(project: ProjectDep, name: str, body: TagMerge) -> dict:
    return project.merge_tags(name, body.sources, body.into)


@router.get("/{name}/tags/{tag:path}", summary="One tag")
def get_tag(project: ProjectDep, name: str, tag: str) -> dict:
    return project.tag(name, tag)


@router.patch("/{name}/tags/{tag:path}", summary="Rename a tag, change its colour or replace its parents")
def update_tag(project: ProjectDep, name: str, tag: str, body: TagChange) -> dict:
    return project.update_tag(name, tag, name=body.name, colour=body.colour, parents=body.parents)


@router.delete("/{name}/tags/{tag:path}", status_code=204, summary="Delete a tag (undoable)")
def delete_tag(project: ProjectDep, name: str, tag: str) -> Response:
    project.delete_tag(name, tag)
    return Response(status_code=204)
