"""What every `imagier` command shares: the `main` group, the `command` decorator (a project argument,
--json, errors reported in one line), printing a result, and the terminal progress bar.

The command modules import from here, and `imagier.cli` imports them, so no module imports one that
imports it back."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from pathlib import Path

import apsw
import click

from .. import Project
from ..errors import ImagierError, InvalidInput
from ..store.compiler import MAX_FILTER_DEPTH
from ..vectors import models as catalogue

# Set by --json (an eager option, so it is known before any other argument is parsed): errors then
# print as one JSON document too.
_JSON_MODE = "imagier.json"

# What a command may raise that is the user's input or surroundings, not a bug: one line, never a traceback.
# Not a copy of Database.write's translation, which covers writes only (a busy or read-only file becomes a
# Conflict or Forbidden): apsw errors still come from reads (a damaged page met while reading a query's
# rows), RecursionError from input nested too deeply for Python's own parsers.
_REPORTED_ERRORS = (ImagierError, OSError, RecursionError, apsw.Error)


def emit(as_json: bool, data, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
    else:
        click.echo(text if text is not None else json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _error_message(error: BaseException) -> str:
    """What went wrong, in one line that names the file or item at fault."""
    if isinstance(error, ImagierError):
        return error.message
    if isinstance(error, FileNotFoundError) and error.filename:
        folder = Path(error.filename).parent
        if not folder.is_dir():
            return f"no folder {folder} (for {error.filename})"
        return f"no file {error.filename}"
    if isinstance(error, OSError):
        return f"{error.filename}: {error.strerror}" if error.filename else str(error)
    if isinstance(error, RecursionError):
        return "the input is nested too deeply to be read"
    if isinstance(error, apsw.BusyError):
        return "the project file is busy: another process is writing to it; try again when it is done"
    if isinstance(error, apsw.ReadOnlyError):
        return "the project file is read-only: imagier cannot write to it (check its permissions)"
    return f"the project file could not be read or written ({type(error).__name__}: {error})"


def _report_error(error: BaseException, as_json: bool) -> None:
    """Print the error (a JSON document on stdout with --json, else `Error: ...` on stderr) and exit 1."""
    message = _error_message(error)
    if as_json:
        details = error.to_dict() if isinstance(error, ImagierError) else {"error": type(error).__name__,
                                                                           "message": message}
        click.echo(json.dumps(details, ensure_ascii=False, default=str))
    else:
        click.echo(f"Error: {' '.join(message.split())}", err=True)
    sys.exit(1)


class _Commands(click.Group):
    """The `imagier` group: the one place where the errors of every command become a clean message."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except _REPORTED_ERRORS as error:
            _report_error(error, ctx.meta.get(_JSON_MODE, False))


def json_option(name: str):
    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"--{name} is not valid JSON: {e}", parameter=name) from None
        except RecursionError:
            raise InvalidInput(f"--{name} is nested too deeply (a filter nests at most {MAX_FILTER_DEPTH} levels)",
                               parameter=name) from None
    return click.option(f"--{name}", callback=parse, help=f"the view's {name} as JSON (see the README)")


def remember_json_mode(ctx, param, value):
    # --json given to a group (`imagier models --json get NAME`) holds for its subcommand too.
    ctx.meta[_JSON_MODE] = value or ctx.meta.get(_JSON_MODE, False)
    return ctx.meta[_JSON_MODE]


def command(group: click.Group, name: str | None = None, *, project: bool = True, create: bool = False):
    """A subcommand with --json that opens the PROJECT argument as a Project (errors are reported by
    the `imagier` group)."""
    def decorate(fn):
        @functools.wraps(fn)
        def run(as_json: bool, **kwargs):
            if not project:
                return fn(as_json=as_json, **kwargs)
            with Project(kwargs.pop("project"), create=create) as opened:
                return fn(opened, as_json=as_json, **kwargs)
        run = click.option("--json", "as_json", is_flag=True, is_eager=True, callback=remember_json_mode,
                           help="print one JSON document")(run)
        if project:
            run = click.argument("project", type=click.Path(dir_okay=False))(run)
        return group.command(name)(run)
    return decorate


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="imagier")
def main():
    """Explore, cluster and annotate large image corpora. A project is one file (say corpus.imagier)."""



class _ProgressBar:
    """A terminal progress bar fed by an operation's progress callback: counts (an import, an embedding,
    pairs checked) or, for a download, bytes. It appears at the first event, so an operation that has
    nothing to do shows none."""

    def __init__(self, description: str, *, download: bool = False):
        from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TimeRemainingColumn,
                                   TransferSpeedColumn)
        counts = (DownloadColumn(), TransferSpeedColumn()) if download else (MofNCompleteColumn(),)
        self._progress = Progress("[progress.description]{task.description}", BarColumn(), *counts,
                                  TimeRemainingColumn(), transient=True)
        self._task = self._progress.add_task(description, total=None)

    def __call__(self, event: dict) -> None:
        if not self._progress.live.is_started:
            self._progress.start()
        if "model" in event:  # an import's embedding phase reports through the same bar
            self._progress.update(self._task, description=f"embedding with {event['model']}")
        elif "file" in event:  # a download names the file it fetches
            self._progress.update(self._task, description=event["file"])
        self._progress.update(self._task, completed=event.get("done", 0), total=event.get("total"))

    def close(self) -> None:
        self._progress.stop()


@contextlib.contextmanager
def terminal_progress(as_json: bool, description: str, *, download: bool = False):
    """The progress callback of the operation run inside: a bar on a terminal, None with --json or when
    stderr is not a terminal (a script's log stays clean)."""
    if as_json or not sys.stderr.isatty():
        yield None
        return
    bar = _ProgressBar(description, download=download)
    try:
        yield bar
    finally:
        bar.close()


def fetch_if_absent(name: str | None, model_path, as_json: bool) -> None:
    """Download the model a command is about to use when this machine lacks it, with a download bar."""
    with terminal_progress(as_json, "downloading", download=True) as progress:
        catalogue.fetch_if_absent(name, model_path, progress)
