"""`imagier plugins` and `imagier run`: list the plugins and run one of their actions."""

from __future__ import annotations

import click

from ..plugins.runner import text_params
from ..project import Project
from .base import emit, json_option, command, main, terminal_progress


@command(main)
def plugins(project: Project, as_json: bool):
    """List the plugins PROJECT can use (built-in, installed, in $IMAGIER_PLUGINS folders and in plugins/
    beside the project file), their actions with their parameters, and the plugins that failed to load."""
    found = project.plugins()
    lines = []
    for plugin in found["plugins"]:
        lines.append(f"{plugin['name']} {plugin['version'] or ''}  ({plugin['source']})".rstrip())
        for act in plugin["actions"]:
            params = ", ".join(act["schema"]["properties"]) or "no parameters"
            lines.append(f"  {plugin['name']}.{act['name']}  [{act['kind']}]  {act['label']}: {params}")
    lines += [f"failed to load {e['plugin']} ({e['source']}): {e['error']}" for e in found["errors"]]
    emit(as_json, found, "\n".join(lines))


@command(main)
@click.argument("action", metavar="PLUGIN.ACTION")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="a parameter of the action (repeatable)")
@json_option("filter")
@click.option("--id", "ids", multiple=True, type=int, help="run on this image (repeatable; for a similar action: "
                                                           "the query); default: the images of --filter")
@click.option("--path", "paths", multiple=True, help="run on the image at this path (repeatable)")
def run(project: Project, as_json: bool, action, params, filter, ids, paths):
    """Run a plugin's ACTION (PLUGIN.ACTION; PLUGIN is the plugin's, module's or distribution's name) on the
    images of --id / --path, else of --filter (all by default). Writes are one undoable operation; a
    failing action leaves the project unchanged."""
    chosen = list(ids) + [project.file_id(p) for p in paths]
    with terminal_progress(as_json, f"running {action}") as progress:
        result = project.run_action(action, text_params(project, action, list(params)), ids=chosen or None,
                                    filter=filter, progress=progress)
    if isinstance(result, dict):
        emit(as_json, result, result["message"])
    elif result and "name" in result[0]:  # groups; an empty list prints the same either way
        emit(as_json, [{"name": g["name"], "paths": g["paths"]} for g in result],
              "\n".join(f"{g['name']}: {len(g['paths'])} images" for g in result) or "no groups")
    else:
        emit(as_json, [{"path": r["path"], "score": r["score"]} for r in result],
              "\n".join(f"{r['score']:.4f}\t{r['path']}" for r in result) or "no result")
