"""The `imagier` command. Each command parses its arguments, calls one Project operation and prints
the result: readable text by default, one JSON document with --json (scripts depend on its shape).

This module holds the commands of the project file itself; `base.py` the group and the shared helpers;
the commands of each other area live in a module of this package, imported at the end of this file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import Project
from .base import command, emit, fetch_if_absent, json_option, main, remember_json_mode, terminal_progress

# ---- images -----------------------------------------------------------------------------------------

@command(main, "import", create=True)
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--workers", type=click.IntRange(1, 64), help="decoding processes (default: one per core)")
@click.option("--store-originals", is_flag=True, help="also keep the original files inside the project, to share it")
@click.option("--no-embed", is_flag=True, help="do not compute the images' vectors after importing")
@click.option("--model", help="the embedder to run after importing (default: the project's default vector type)")
@click.option("--every", "film_every", type=click.FloatRange(0), default=5.0, show_default=True,
              help="films: take a frame every this many seconds (0: none)")
@click.option("--shots", "film_shots", is_flag=True,
              help="films: detect the shots (decodes every frame) and take one frame per shot too")
def import_(project: Project, as_json: bool, folders, workers, store_originals, no_embed, model, film_every,
            film_shots):
    """Import the images of FOLDERS (recursively) into PROJECT, creating it when missing. FOLDERS may
    also name image files and films (video files, imported as their frames).

    Re-importing adds only new files and reports moved, changed and missing ones; an interrupted
    import resumes where it stopped. Then the new images are embedded (see `imagier embed`)."""
    if not no_embed:
        fetch_if_absent(model or project.default_model(), None, as_json)
    with terminal_progress(as_json, "importing") as progress:
        report = project.import_and_embed(list(folders), embed=not no_embed, model=model, workers=workers,
                                          store_originals=store_originals, progress=progress,
                                          film_every=film_every, film_shots=film_shots)
    summary = (f"added {report['added']}, skipped {report['skipped']}, failed {len(report['failed'])}; "
               f"{report['total']} files in {project.path.name}")
    lines = [summary] + [f"  failed: {f['path']}: {f['error']}" for f in report["failed"]]
    lines += [f"  moved: {m['from']} -> {m['to']}" for m in report.get("moved", [])]
    lines += [f"  changed: {p}" for p in report.get("changed", [])]
    lines += [f"  missing: {p}" for p in report.get("missing", [])]
    if "embedding" in report:
        from .embedding import embed_summary
        lines.append(embed_summary(report["embedding"]))
    if model is None and not as_json:
        lines += _model_offer(project)
    emit(as_json, report, "\n".join(lines))


def _model_offer(project: Project) -> list[str]:
    """A line offering the CLIP model when it is on this machine and the project does not use it yet."""
    better = project.model_offer()["better"]
    if not (better and better["present"] and better["images"]):
        return []
    return [f"{better['name']} is on this machine, for text search and finer similarity: "
            f"`imagier embed {project.path} --model {better['name']}` takes {better['estimate']}"]



@command(main)
@click.argument("image")
def frame(project: Project, as_json: bool, image):
    """Show the film, time and shot of IMAGE (an id or a path), a frame of a film: the other frames of its
    shot and the first frames of the shots before and after it."""
    data = project.frame(project.file(image)["id"])
    shot = (f"shot {data['shot']} ({data['shot_start']:.3f}-{data['shot_end']:.3f} s)" if data["shot"] is not None
            else "shots not detected (import with --shots)")
    lines = [f"{data['film']} at {data['time']:.3f} s, {shot}"]
    lines += [f"  shot frame: {f['id']} at {f['time']:.3f} s" for f in data["shot_frames"]]
    lines += [f"  {side} shot: image {data[key]}" for side, key in (("previous", "previous_shot"), ("next", "next_shot"))
              if data[key] is not None]
    emit(as_json, data, "\n".join(lines))


@command(main)
def info(project: Project, as_json: bool):
    """Summarise PROJECT: files, contents, properties and vector types (their models and counts)."""
    data = project.info()
    props = ", ".join(f"{p['name']} ({p['type']})" for p in data["properties"]) or "none"
    lines = [data["path"], f"  files: {data['files']}", f"  contents: {data['contents']}", f"  properties: {props}",
             "  vectors:" if data["vectors"] else "  vectors: none (run `imagier embed`)"]
    lines += [f"    {name}: model {v['model']}, {_count(v['count'], 'image')}" + (" (default)" if v["default"] else "")
              for name, v in data["vectors"].items()]
    emit(as_json, data, "\n".join(lines))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _group_lines(groups: list[dict], depth: int = 0) -> list[str]:
    """The group tree of a view, one line per group indented by its level, with its count."""
    lines = []
    for group in groups:
        key = "(no value)" if group["key"] is None else group["key"]
        lines.append(f"{'  ' * (depth + 1)}{key}: {_count(group['count'], 'image')}")
        lines += _group_lines(group.get("groups", []), depth + 1)
    return lines


@command(main)
@json_option("filter")
@json_option("sort")
@json_option("group")
@click.option("--limit", type=click.IntRange(0), help="list at most this many images")
@click.option("--offset", type=click.IntRange(0), default=0)
def query(project: Project, as_json: bool, filter, sort, group, limit, offset):
    """List the images of a view: filter, sort and group (JSON, see the README)."""
    result = project.query(filter, sort, group, limit=limit, offset=offset)
    paths = {f["id"]: f["path"] for f in project.files(result["ids"])}
    data = {"total": result["total"], "items": [{"id": i, "path": paths[i]} for i in result["ids"]]}
    if "groups" in result:
        data["groups"] = result["groups"]
    lines = [_count(result["total"], "image")]
    if "groups" in result:
        lines += [f"{_count(len(result['groups']), 'group')}:"] + _group_lines(result["groups"])
    lines += [f"{i['id']}\t{i['path']}" for i in data["items"]]
    emit(as_json, data, "\n".join(lines))


# ---- CSV --------------------------------------------------------------------------------------------

@command(main)
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@json_option("filter")
@json_option("sort")
@click.option("--key", type=click.Choice(["path", "id"]), default="path", help="the first column")
@click.option("--separator", type=click.Choice([",", ";"]), default=",")
def export(project: Project, as_json: bool, out, filter, sort, key, separator):
    """Export the images of a view (all by default) with their values to the CSV file OUT."""
    report = project.export_csv(out, filter, sort, key=key, separator=separator)
    emit(as_json, report, f"wrote {report['rows']} rows to {out}")


@command(main, "import-csv")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="only report what would be matched, created and refused")
@click.option("--skip-unmatched", is_flag=True, help="import the other rows when some match no image")
@click.option("--skip-invalid", is_flag=True, help="import the other cells when some are invalid")
@click.option("--encoding", help="the file's encoding when it is not UTF-8 (say cp1252 or latin-1)")
def import_csv(project: Project, as_json: bool, csv_file, dry_run, skip_unmatched, skip_invalid, encoding):
    """Import values from CSV_FILE (imagier's or Panoptic's format), as one undoable operation."""
    report = project.import_csv(csv_file, dry_run=dry_run, skip_unmatched=skip_unmatched, skip_invalid=skip_invalid,
                                encoding=encoding)
    text = (f"{'would import' if dry_run else 'imported'} {report['cells']} values from {report['rows']} rows: "
            f"{report['matched']} matched, {report['unmatched']} unmatched, {report['invalid_cells']} invalid cells"
            + (f"; new properties: {', '.join(report['created_properties'])}" if report["created_properties"] else "")
            + (f"; {report['duplicates']} rows repeat an image of an earlier row (the last one wins)"
               if report["duplicates"] else ""))
    emit(as_json, report, text)


# ---- properties, tags, values -------------------------------------------------------------------------

@main.group()
def property():
    """List, create, rename and delete properties."""


@command(property, "list")
def property_list(project: Project, as_json: bool):
    """List the properties of PROJECT, built-in ones included."""
    props = project.properties()
    emit(as_json, props, "\n".join(f"{p['name']}\t{p['type']}\t{p['scope']}{'  (built-in)' if p['builtin'] else ''}"
                                     for p in props))


@command(property, "create")
@click.argument("name")
@click.argument("type")
@click.option("--scope", type=click.Choice(["file", "content"]), default="file",
              help="per file, or shared by every file with the same bytes")
def property_create(project: Project, as_json: bool, name, type, scope):
    """Create a property NAME of TYPE (text, number, date, checkbox, url, colour, tag, multi-tag, path)."""
    emit(as_json, project.create_property(name, type, scope), f"created property {name}")


@command(property, "rename")
@click.argument("name")
@click.argument("new_name")
def property_rename(project: Project, as_json: bool, name, new_name):
    """Rename the property NAME to NEW_NAME."""
    emit(as_json, project.rename_property(name, new_name), f"renamed {name} to {new_name}")


@command(property, "delete")
@click.argument("name")
def property_delete(project: Project, as_json: bool, name):
    """Delete the property NAME and its values (undoable)."""
    project.delete_property(name)
    emit(as_json, {"deleted": name}, f"deleted property {name}")


@main.group()
def tag():
    """List, create, edit, delete and merge the tags of a tag property."""


@command(tag, "list")
@click.argument("property_name")
def tag_list(project: Project, as_json: bool, property_name):
    """List the tags of PROPERTY_NAME with their colours, parents and counts."""
    tags = project.tags(property_name)
    emit(as_json, tags, "\n".join(f"{t['name']}\t{t['colour']}\t{t['count']}" for t in tags))


@command(tag, "create")
@click.argument("property_name")
@click.argument("name")
@click.option("--colour", help="#rrggbb")
@click.option("--parent", "parents", multiple=True, help="a parent tag (repeatable)")
def tag_create(project: Project, as_json: bool, property_name, name, colour, parents):
    """Create the tag NAME in PROPERTY_NAME."""
    emit(as_json, project.create_tag(property_name, name, colour, parents), f"created tag {name}")


@command(tag, "update")
@click.argument("property_name")
@click.argument("name")
@click.option("--rename", "new_name", help="a new name")
@click.option("--colour", help="#rrggbb")
@click.option("--parent", "parents", multiple=True, help="the new parents (repeatable; replaces the old ones)")
@click.option("--no-parents", is_flag=True, help="remove every parent")
def tag_update(project: Project, as_json: bool, property_name, name, new_name, colour, parents, no_parents):
    """Rename the tag NAME, change its colour or its parents."""
    new_parents = [] if no_parents else (list(parents) if parents else None)
    emit(as_json, project.update_tag(property_name, name, name=new_name, colour=colour, parents=new_parents),
          f"updated tag {name}")


@command(tag, "delete")
@click.argument("property_name")
@click.argument("name")
def tag_delete(project: Project, as_json: bool, property_name, name):
    """Delete the tag NAME (undoable)."""
    project.delete_tag(property_name, name)
    emit(as_json, {"deleted": name}, f"deleted tag {name}")


@command(tag, "merge")
@click.argument("property_name")
@click.argument("sources", nargs=-1, required=True)
@click.option("--into", required=True, help="the tag that remains")
def tag_merge(project: Project, as_json: bool, property_name, sources, into):
    """Merge the tags SOURCES into the tag given by --into."""
    emit(as_json, project.merge_tags(property_name, list(sources), into), f"merged into {into}")


def _selection(project: Project, ids, paths, filter) -> list[int]:
    chosen = list(ids) + [project.file_id(p) for p in paths]
    if filter is not None:
        chosen += project.query_ids(filter)
    if not chosen:
        raise click.UsageError("choose images with --id, --path or --filter")
    return chosen


def _selection_options(fn):
    fn = json_option("filter")(fn)
    fn = click.option("--path", "paths", multiple=True, help="an image by path (repeatable)")(fn)
    return click.option("--id", "ids", multiple=True, type=int, help="an image by id (repeatable)")(fn)


def _parse_value(raw: str):
    """A value given on the command line: JSON when it parses (numbers, true, lists, null), else text."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


@main.group()
def values():
    """Set, add or remove values on images chosen by --id, --path or --filter (one undoable operation)."""


@command(values, "set")
@click.argument("property_name")
@click.argument("value")
@_selection_options
def values_set(project: Project, as_json: bool, property_name, value, ids, paths, filter):
    """Set PROPERTY_NAME to VALUE (JSON or text; tags by name, a JSON list for several; null clears)."""
    count = project.set_values(property_name, _selection(project, ids, paths, filter), _parse_value(value))
    emit(as_json, {"property": property_name, "images": count}, f"set {property_name} on {count} images")


@command(values, "add")
@click.argument("property_name")
@click.argument("tags", nargs=-1, required=True)
@_selection_options
def values_add(project: Project, as_json: bool, property_name, tags, ids, paths, filter):
    """Add TAGS to the images of PROPERTY_NAME, keeping their other tags."""
    count = project.add_values(property_name, _selection(project, ids, paths, filter), list(tags))
    emit(as_json, {"property": property_name, "images": count}, f"added to {count} images")


@command(values, "remove")
@click.argument("property_name")
@click.argument("tags", nargs=-1)
@_selection_options
def values_remove(project: Project, as_json: bool, property_name, tags, ids, paths, filter):
    """Remove TAGS from the images (every value of PROPERTY_NAME when no TAGS are given)."""
    count = project.remove_values(property_name, _selection(project, ids, paths, filter), list(tags) or None)
    emit(as_json, {"property": property_name, "images": count}, f"removed from {count} images")


@command(values, "get")
@click.option("--id", "ids", multiple=True, type=int)
@click.option("--path", "paths", multiple=True)
def values_get(project: Project, as_json: bool, ids, paths):
    """Show the values of the images chosen by --id or --path."""
    selection = _selection(project, ids, paths, None)
    found = project.values(selection)
    names = [p["name"] for p in project.properties() if not p["builtin"]]  # in the project's order
    lines = []
    for file in project.files(found):
        values = found[file["id"]]
        lines.append(f"{file['id']}\t{file['path']}")
        lines += [f"  {name}: {_shown(values[name])}" for name in names if name in values] or ["  (no values)"]
    emit(as_json, {str(k): v for k, v in found.items()}, "\n".join(lines))


def _shown(value) -> str:
    """A value as a person reads it: tags joined by commas, a checkbox as yes or no."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# ---- history ----------------------------------------------------------------------------------------

@command(main)
def undo(project: Project, as_json: bool):
    """Undo the last change (it survives restarts)."""
    done = project.undo()
    emit(as_json, done, f"undid: {done['label']}")


@command(main)
def redo(project: Project, as_json: bool):
    """Redo the last undone change."""
    done = project.redo()
    emit(as_json, done, f"redid: {done['label']}")


@command(main)
@click.option("--limit", type=click.IntRange(1), default=20)
def history(project: Project, as_json: bool, limit):
    """List the latest operations, newest first."""
    ops = project.history(limit)
    emit(as_json, ops, "\n".join(f"{o['id']}\t{o['created']}\t{o['state']}\t{o['label']}" for o in ops))


# ---- serving ----------------------------------------------------------------------------------------

@main.command()
@click.argument("project", type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="another address requires an access token")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", help="access token of 16 characters or more (generated when serving beyond this machine)")
@click.option("--root", "roots", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="a folder the page may browse and import, besides the project's and your home (repeatable)")
@click.option("--max-body-mb", default=200, show_default=True, type=click.IntRange(1),
              help="the largest CSV file the page may import, in MB (other requests: 32 MB)")
def serve(project, host, port, token, roots, max_body_mb):
    """Serve PROJECT to the browser and the HTTP API."""
    from ..server.serve import serve as run_server
    run_server(project, host=host, port=port, token=token, roots=roots, max_body_bytes=max_body_mb << 20)


@main.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False), default=str(Path.home() / "imagier-demo"),
              show_default=True, help="where the demo photographs and project go")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-serve", is_flag=True, help="only build the demo project")
@click.option("--json", "as_json", is_flag=True, is_eager=True, callback=remember_json_mode,
              help="print one JSON document (with --no-serve)")
def demo(folder, port, no_serve, as_json):
    """Build a demo project from real photographs that ship with scikit-image, then serve it."""
    from ..demo import build_demo
    report = build_demo(Path(folder))
    emit(as_json, report, f"demo project: {report['project']} ({report['files']} images)")
    if not no_serve:
        from ..server.serve import serve as run_server
        run_server(report["project"], port=port)


# The commands of other areas register themselves on `main` when imported (one line per module):
from . import embedding  # noqa: E402,F401
from . import ocr  # noqa: E402,F401
from . import iiif  # noqa: E402,F401
from . import analysis  # noqa: E402,F401
from . import search  # noqa: E402,F401
from . import duplicates  # noqa: E402,F401
from . import layout  # noqa: E402,F401
from . import plugins  # noqa: E402,F401
from . import labels  # noqa: E402,F401
from . import models  # noqa: E402,F401
from . import views  # noqa: E402,F401
from . import jobs  # noqa: E402,F401
