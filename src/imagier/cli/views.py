"""`imagier views`: the saved views of a project (the page's tabs), listed, saved and deleted."""

from __future__ import annotations

import click

from ..project import Project
from .base import emit, json_option, command, main


@main.group()
def views():
    """List, save and delete the saved views (a filter, sort and group the page opens as a tab)."""


@command(views, "list")
def views_list(project: Project, as_json: bool):
    """List the saved views of PROJECT, in their order."""
    found = project.views()
    emit(as_json, found, "\n".join(f"{v['id']}\t{v['name']}" for v in found) or "no saved views")


@command(views, "save")
@click.argument("name")
@json_option("filter")
@json_option("sort")
@json_option("group")
@click.option("--replace", "view_id", type=int, help="replace the saved view of this id instead of adding one")
def views_save(project: Project, as_json: bool, name, filter, sort, group, view_id):
    """Save a view NAME of --filter, --sort and --group (checked first), or replace view --replace."""
    state = {key: value for key, value in (("filter", filter), ("sort", sort), ("group", group)) if value is not None}
    saved = project.save_view(name, state, id=view_id)
    emit(as_json, saved, f"saved view {saved['id']}: {saved['name']}")


@command(views, "delete")
@click.argument("view_id", type=int)
def views_delete(project: Project, as_json: bool, view_id):
    """Delete the saved view VIEW_ID."""
    project.delete_view(view_id)
    emit(as_json, {"deleted": view_id}, f"deleted view {view_id}")
