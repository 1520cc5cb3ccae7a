"""`imagier models`: the models, which are on this machine and what each is for; `get` fetches one from the
model hub, `add` installs one from a folder or archive copied from another machine."""

from __future__ import annotations

import click

from .base import emit, remember_json_mode, command, main, terminal_progress
from ..vectors import models as catalogue


def _size(size: int | None) -> str:
    return f"{size / 1e6:,.0f} MB" if size else ""


def _listing(entries: list[dict]) -> str:
    lines = []
    for entry in entries:
        state = entry["source"] if entry["source"] == "built in" else ("present" if entry["present"] else "absent")
        lines.append(f"{entry['name']}\t{state}\t{', '.join(entry['uses'])}")
        lines.append(f"    {entry['purpose']}")
        if entry["folder"]:
            lines.append(f"    in {entry['folder']} ({_size(entry['size'])})")
        elif entry["get"]:
            lines.append(f"    get it with `{entry['get']}` (offline: `imagier models add PATH` with its folder or "
                         f"an archive of it, from a machine that has it)")
    return "\n".join(lines)


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, is_eager=True, callback=remember_json_mode,
              help="print one JSON document")
@click.pass_context
def models(ctx, as_json):
    """List the models (what each is for, which are on this machine); `get` and `add` install one."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(models_list, as_json=as_json)


@command(models, "list", project=False)
def models_list(as_json: bool):
    """List the models: what each is for, whether it is on this machine, where and how big."""
    entries = catalogue.catalogue()
    emit(as_json, entries, _listing(entries))


@command(models, "get", project=False)
@click.argument("name")
@click.option("--force", is_flag=True, help="download it again even when it is installed")
def models_get(as_json: bool, name, force):
    """Download the model NAME from the model hub once, check every file's SHA-256 and install it."""
    with terminal_progress(as_json, "downloading", download=True) as progress:
        entry = catalogue.get(name, progress, force=force)
    done = "downloaded and installed in" if entry["fetched"] else "is already on this machine, in"
    emit(as_json, entry, f"{name} {done} {entry['folder']} ({_size(entry['size'])})")


@command(models, "add", project=False)
@click.argument("path", type=click.Path())
@click.option("--name", help="the model the folder holds (default: recognised by its files)")
def models_add(as_json: bool, path, name):
    """Install a model from PATH: a folder in its hub repository's layout, or a .zip or .tar archive of one
    (for a machine without internet access). Its ONNX graphs are loaded and checked first."""
    entry = catalogue.add(path, name)
    emit(as_json, entry, f"installed {entry['name']} in {entry['folder']} ({_size(entry['size'])})")
