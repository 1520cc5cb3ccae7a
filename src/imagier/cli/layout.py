"""The similarity map command: compute (once) the 2-D layout the web page's map view shows."""

from __future__ import annotations

import click

from ..analysis.layout import summary
from ..project import Project
from .base import emit, command, main


@command(main)
@click.option("--vector-type", help="the vector type laid out (default: the project's default)")
def layout(project: Project, as_json: bool, vector_type):
    """Compute the similarity map of PROJECT (kept in the project file until its vectors change), so the
    web page's map opens at once on a large corpus."""
    found = project.layout(vector_type)
    missing = f"; {found['missing']} image(s) without a vector are not on it" if found["missing"] else ""
    emit(as_json, summary(found), f"map of {found['vector_type']}: {len(found['ids'])} images{missing}")
