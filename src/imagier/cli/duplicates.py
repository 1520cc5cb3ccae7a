"""The near-duplicates command."""

from __future__ import annotations

import click

from ..project import Project
from .base import emit, json_option, command, main, terminal_progress


@command(main)
@json_option("filter")
@click.option("--vector-type", help="the vector type whose neighbours are the candidates (default: the project's default)")
@click.option("--k", type=click.IntRange(1), default=10, show_default=True, help="neighbours looked at per image")
@click.option("--details", is_flag=True, help="also list, for each pair, how the two images relate")
def duplicates(project: Project, as_json: bool, filter, vector_type, k, details):
    """Groups of images showing the same picture: copies, crops, captioned, resized, recompressed,
    greyscale, mirrored or bordered versions (each pair checked on the images themselves)."""
    with terminal_progress(as_json, "checking pairs") as progress:
        groups = project.duplicates(vector_type=vector_type, filter=filter, k=k, progress=progress)
    paths = {f["id"]: f["path"] for f in project.files([i for g in groups for i in g["ids"]])}
    lines = []
    for number, group in enumerate(groups, 1):
        lines.append(f"group {number}: {len(group['ids'])} images")
        lines += [f"  {paths[i]}" for i in group["ids"]]
        if details:
            lines += [f"    {paths[p['a']]} {p['relation']} {paths[p['b']]} ({p['score']:.2f})" for p in group["pairs"]]
    text = "\n".join(lines) or "no duplicates"
    if details:
        data = [{"paths": [paths[i] for i in g["ids"]],
                 "pairs": [{"a": paths[p["a"]], "b": paths[p["b"]], "relation": p["relation"], "score": p["score"]}
                           for p in g["pairs"]]} for g in groups]
    else:
        data = [[paths[i] for i in g["ids"]] for g in groups]
    emit(as_json, data, text)
