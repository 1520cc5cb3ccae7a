"""Running an action: the part of a Project behind `plugins()` and `run_action()`.

Third-party actions run in a worker process, so a plugin that hangs or crashes can be stopped (killed
at its timeout or on cancel) without hanging the server. The worker opens the project file itself and
runs the action inside a transaction that it always rolls back: what the action wrote comes back as an
SQLite changeset, next to its result. The server checks the result, then applies the changeset as one
undoable operation. So a plugin that raises, times out, dies or returns something malformed leaves the
project exactly as it was, and a good run is one step of the history. (An "embed" action is the
exception by design: like the built-in models it commits its vectors batch by batch, so an interrupted
run resumes where it stopped; vectors are derived data, outside the undo log.)

The built-in plugin runs in the calling process: it is imagier's own code, honours cancel, and loading
a 500,000-image vector matrix again in a worker would cost more than the action.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from ..errors import ImagierError, InvalidInput, NotFound
from ..vectors.base import Embedder
from . import Action, PluginFailed
from .context import Cancelled, Context
from .discovery import Plugin, Plugins, Source, discover, load
from .schema import coerce_params, parse_text_value

log = logging.getLogger(__name__)

# Tables an action's worker captures besides the undoable ones: vectors it adds are kept (not undoable).
CAPTURED_EXTRA = ("vector_types", "vectors")
# Seconds a cancelled worker gets to stop by itself (an embedding finishes its batch) before it is killed.
CANCEL_GRACE = 5.0
SAVED_NOTHING = "nothing was saved"


class PluginRunner:
    """The plugins a project can run, and running them. It is given the whole `project` (the Project),
    because an action receives it (`Context.project`) and a worker process opens another of its class."""

    def __init__(self, project):
        self.project = project
        self._plugins: Plugins | None = None

    def plugins(self, reload: bool = False) -> dict:
        """The plugins found (built-in, entry points `imagier.plugins`, $IMAGIER_PLUGINS folders and
        `plugins/` beside the project file): {"plugins": [{"name", "version", "module", "distribution",
        "source", "builtin", "actions": [{"name", "kind", "label", "description", "timeout", "schema"}]}],
        "errors": [{"plugin", "source", "error"}]}. Found once per project; reload=True looks again."""
        return self.discovered(reload).to_dict()

    def check_action(self, action: str, params: dict | None = None, *, ids=None, filter=None) -> dict:
        """The action "PLUGIN.ACTION" as `plugins()` lists it (with "plugin"), after checking `params`
        against its form, and `ids` and `filter` as `run_action` would: what a caller does before starting
        a run in the background."""
        chosen = self.discovered(False).action(action)
        coerce_params(chosen.params, params, self.project, chosen.qualified)
        self.project.check_selection(filter, ids)
        return {"plugin": chosen.plugin, **chosen.to_dict()}

    def run_action(self, action: str, params: dict | None = None, *, ids=None, filter=None,
                   progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None):
        """Run a plugin's action "PLUGIN.ACTION" with `params` (checked against its form) on the images `ids`
        (file ids), else those of `filter` (all images when both are None). For a "similar" action `ids`
        are the query and `filter` the candidates. Returns, by kind: group -> [{"name", "ids", "paths"}];
        similar -> [{"id", "path", "score"}], best first; execute -> {"message", ...}; embed -> {"message",
        "model", "embedded", "total", "failed"}. Writes are one undoable operation, kept only when the
        action succeeds; a failure is a PluginFailed and leaves the project unchanged."""
        found = self.discovered(False)
        chosen = found.action(action)
        plugin = found.plugins[chosen.plugin]
        values = coerce_params(chosen.params, params, self.project, chosen.qualified)  # refused before anything runs
        ids = self._action_images(chosen, ids, filter)
        run_params = {"action": chosen.qualified, "params": params or {}, "images": len(ids), "filter": filter}
        if plugin.builtin:
            raw, changeset = _run_here(self.project, chosen, values, ids, filter, progress, cancel)
        else:
            raw, changeset = _run_in_worker(type(self.project), self.project.path, plugin.source, chosen,
                                            params or {}, ids, filter, progress, cancel)
        result = normalise(self.project, chosen, raw)
        if changeset:
            self.project.oplog.apply_recorded("plugin", f"{chosen.label} ({chosen.qualified})", run_params, changeset)
        return result

    def discovered(self, reload: bool = False) -> Plugins:
        """The plugins found beside the project file and installed (once, unless `reload`)."""
        if reload or self._plugins is None:
            self._plugins = discover(self.project.path)
        return self._plugins

    def _action_images(self, chosen: Action, ids, filter) -> list[int]:
        if ids is None:
            return [] if chosen.kind == "similar" else self.project.query_ids(filter)
        return [f["id"] for f in self.project.existing_files(ids)]


# ---- running ------------------------------------------------------------------------------------------

def _call(project, chosen: Action, values: dict, ids: list[int], filter, progress, cancel):
    """Call the action's function; an embed action's Embedder is then run over the images lacking vectors.
    Returns the raw result as JSON text (what a worker would send)."""
    ctx = Context(project, ids, filter, params=values, progress=progress, cancel=cancel)
    raw = chosen.fn(ctx, **values)
    if chosen.kind == "embed":
        raw = _embed(project, chosen, raw, progress, cancel)
    try:
        return json.dumps(raw, default=_jsonable, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise _Malformed(f"it cannot be written as JSON ({e})") from None


def _jsonable(value):
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


class _Malformed(Exception):
    pass


def _embed(project, chosen: Action, embedder, progress, cancel) -> dict:
    if not isinstance(embedder, Embedder):
        raise _Malformed(f"an embed action returns an imagier.plugins.Embedder, not {type(embedder).__name__}")
    existed = any(t["name"] == getattr(embedder, "name", None) for t in project.vector_types())
    try:
        report = project.embed(embedder, progress=progress, cancel=cancel)
    except BaseException:
        if not existed:  # a failure in the first batch leaves no empty vector type behind
            try:
                if project.vector_type(embedder.name)["count"] == 0:
                    project.delete_vector_type(embedder.name)
            except ImagierError:
                pass
        raise
    failed = f", {len(report['failed'])} failed" if report["failed"] else ""
    return {"message": f"embedded {report['embedded']} images with {report['model']} "
                       f"({report['total']} have its vectors{failed})", **report}


def _failure(chosen: Action, e: BaseException) -> PluginFailed:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "/imagier/plugins/" not in f.filename
              or f.filename.endswith("builtin.py")]
    where = f" (at {Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""
    kept = "" if chosen.kind != "embed" else " (batches finished before are kept; run it again to resume)"
    return PluginFailed(f"{chosen.qualified} failed: {type(e).__name__}: {e}{where}; "
                        f"{SAVED_NOTHING if chosen.kind != 'embed' else 'its vectors so far are kept'}{kept}",
                        plugin=chosen.plugin, action=chosen.name)


def _cancelled(chosen: Action) -> ImagierError:
    return ImagierError(f"{chosen.qualified} was cancelled; " +
                        (SAVED_NOTHING if chosen.kind != "embed" else "the vectors computed so far are kept"),
                        plugin=chosen.plugin, action=chosen.name)


def _run_here(project, chosen: Action, values, ids, filter, progress, cancel) -> tuple[str, bytes | None]:
    """The built-in plugin, in this process. Only an execute action may write, so only it holds the write
    transaction (a long clustering must not block the user's tagging meanwhile)."""
    try:
        if chosen.kind != "execute":
            return _call(project, chosen, values, ids, filter, progress, cancel), None
        with project.oplog.capture(CAPTURED_EXTRA) as captured:
            raw = _call(project, chosen, values, ids, filter, progress, cancel)
        return raw, captured["changeset"]
    except _Malformed as e:
        raise _malformed(chosen, str(e)) from None
    except ImagierError:
        raise
    except Cancelled:
        raise _cancelled(chosen) from None
    except Exception as e:
        log.exception("%s failed", chosen.qualified)
        raise _failure(chosen, e) from None


def _process_context():
    # A plain script has one thread: forking it is safe and needs no `if __name__ == "__main__":` guard.
    # Forking a process that has threads (a web server, a notebook kernel) can deadlock the child.
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _run_in_worker(opener: Callable, path: Path, source: Source, chosen: Action, params: dict, ids, filter, progress,
                   cancel) -> tuple[str, bytes | None]:
    context = _process_context()
    receive, send = context.Pipe(duplex=False)
    stop = context.Event()
    worker = context.Process(target=_worker, args=(send, opener, str(path), source, chosen.name, params, ids, filter,
                                                   list(sys.path), stop),
                             name=f"imagier-plugin-{chosen.qualified}", daemon=True)
    worker.start()
    send.close()
    deadline = None if chosen.timeout is None else time.monotonic() + chosen.timeout
    cancelled_at = None
    try:
        while True:
            if receive.poll(0.1):
                try:
                    message = receive.recv()
                except EOFError:
                    message = ("died",)
                if message[0] == "progress":
                    if progress is not None:
                        progress(message[1])
                    continue
                if message[0] == "done":
                    if cancelled_at is not None and chosen.kind != "embed":
                        raise _cancelled(chosen)
                    return message[1], message[2]
                if message[0] == "failed":
                    error = message[1]
                    if error.get("cancelled"):
                        raise _cancelled(chosen)
                    if error.get("malformed"):
                        raise _malformed(chosen, error["message"])
                    kept = SAVED_NOTHING if chosen.kind != "embed" else \
                        "the vectors computed before are kept; run it again to resume"
                    raise PluginFailed(f"{chosen.qualified} failed: {error['message']}; {kept}",
                                       plugin=chosen.plugin, action=chosen.name)
                raise _died(chosen, worker)
            if not worker.is_alive() and not receive.poll(0):
                raise _died(chosen, worker)
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise PluginFailed(f"{chosen.qualified} did not finish within its timeout of {chosen.timeout:g} s "
                                   f"and was stopped; " + (SAVED_NOTHING if chosen.kind != "embed" else
                                                           "the vectors computed before are kept"),
                                   plugin=chosen.plugin, action=chosen.name, timeout=chosen.timeout)
            if cancel is not None and cancel.is_set():
                if cancelled_at is None:
                    cancelled_at = now
                    stop.set()
                elif now - cancelled_at > CANCEL_GRACE:
                    raise _cancelled(chosen)
    finally:
        if worker.is_alive():
            worker.kill()  # rolls back whatever the worker had not committed: nothing, but for an embedding
        worker.join(5)
        receive.close()


def _died(chosen: Action, worker) -> PluginFailed:
    worker.join(5)  # the pipe closes a moment before the process can be reaped
    return PluginFailed(f"{chosen.qualified} stopped unexpectedly (its process exited with code {worker.exitcode}); "
                        f"{SAVED_NOTHING}", plugin=chosen.plugin, action=chosen.name)


def _malformed(chosen: Action, reason: str) -> PluginFailed:
    return PluginFailed(f"{chosen.qualified} returned a malformed result: {reason}; {SAVED_NOTHING}",
                        plugin=chosen.plugin, action=chosen.name)


def _worker(send, opener: Callable, path: str, source: Source, action_name: str, params: dict, ids, filter,
            sys_path, stop) -> None:
    """The worker process: load the plugin, open the project (`opener(path, create=False)`: the Project
    class, passed down rather than imported, which would import this module back), run the action, send
    back its result and the changeset of its writes (rolled back here)."""
    sys.path[:] = sys_path
    try:
        plugin: Plugin = load(source)
        chosen = plugin.actions[action_name]
        with opener(path, create=False) as project:
            values = coerce_params(chosen.params, params, project, chosen.qualified)

            def progress(event: dict) -> None:
                send.send(("progress", event))

            if chosen.kind == "embed":
                send.send(("done", _call(project, chosen, values, ids, filter, progress, stop), None))
                return
            with project.oplog.capture(CAPTURED_EXTRA) as captured:
                raw = _call(project, chosen, values, ids, filter, progress, stop)
            send.send(("done", raw, captured["changeset"]))
    except _Malformed as e:
        send.send(("failed", {"malformed": True, "message": str(e)}))
    except Cancelled:
        send.send(("failed", {"cancelled": True, "message": "cancelled"}))
    except ImagierError as e:
        send.send(("failed", {"message": e.message}))
    except BaseException as e:  # noqa: BLE001 - whatever the plugin did is reported, never lost
        traceback.print_exc()
        frames = [f for f in traceback.extract_tb(e.__traceback__) if "/imagier/" not in f.filename]
        where = f" (at {Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""
        send.send(("failed", {"message": f"{type(e).__name__}: {e}{where}"}))
    finally:
        send.close()


# ---- results --------------------------------------------------------------------------------------------

def normalise(project, chosen: Action, raw: str):
    """Check an action's result (JSON text) against its kind; a malformed one is a PluginFailed."""
    try:
        return _CHECKS[chosen.kind](project, json.loads(raw))
    except _Malformed as e:
        raise _malformed(chosen, str(e)) from None


def _file_ids(project, item: dict, where: str) -> list[int]:
    if "ids" in item:
        values = item["ids"]
        if not isinstance(values, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in values):
            raise _Malformed(f"{where}: \"ids\" is a list of image ids")
        return values
    values = item.get("paths")
    if not isinstance(values, list) or not all(isinstance(p, str) for p in values):
        raise _Malformed(f"{where} needs \"ids\" (a list of image ids) or \"paths\" (a list of paths)")
    found = []
    for p in values:
        try:
            found.append(project.file_id(p))
        except ImagierError as e:
            raise _Malformed(f"{where}: {e.message}") from None
    return found


def _paths(project, ids: list[int], where: str) -> list[str]:
    try:
        paths = {f["id"]: f["path"] for f in project.existing_files(ids)}
    except NotFound as e:
        raise _Malformed(f"{where}: {e.message}") from None
    return [paths[i] for i in ids]


def _groups(project, raw) -> list[dict]:
    if not isinstance(raw, list):
        raise _Malformed(f"a group action returns a list of {{\"name\", \"ids\"}}, not {type(raw).__name__}")
    groups = []
    for n, item in enumerate(raw):
        where = f"group {n + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), (str, int)) or isinstance(item.get("name"), bool):
            raise _Malformed(f"{where} is not an object with a \"name\"")
        ids = _file_ids(project, item, where)
        group = {"name": str(item["name"]), "ids": ids, "paths": _paths(project, ids, where)}
        if isinstance(item.get("score"), (int, float)) and not isinstance(item["score"], bool):
            group["score"] = item["score"]
        groups.append(group)
    return groups


def _ranked(project, raw) -> list[dict]:
    if not isinstance(raw, list):
        raise _Malformed(f"a similar action returns a list of {{\"id\", \"score\"}}, not {type(raw).__name__}")
    scored = []  # (where, id, score): the paths are then looked up in one query for all items
    for n, item in enumerate(raw):
        where = f"item {n + 1}"
        if not isinstance(item, dict):
            raise _Malformed(f"{where} is not an object with \"id\" (or \"path\") and \"score\"")
        score = item.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise _Malformed(f"{where} has no numeric \"score\"")
        if "id" in item:
            if isinstance(item["id"], bool) or not isinstance(item["id"], int):
                raise _Malformed(f"{where}: \"id\" is an image id")
            file_id = item["id"]
        elif isinstance(item.get("path"), str):
            file_id = _file_ids(project, {"paths": [item["path"]]}, where)[0]
        else:
            raise _Malformed(f"{where} needs an \"id\" or a \"path\"")
        scored.append((where, file_id, score))
    paths = {f["id"]: f["path"] for f in project.files([file_id for _, file_id, _ in scored])}
    for where, file_id, _ in scored:
        if file_id not in paths:  # named with the item it came from, which existing_files cannot do
            raise _Malformed(f"{where}: no image with id {file_id}")
    ranked = [{"id": file_id, "path": paths[file_id], "score": score} for _, file_id, score in scored]
    ranked.sort(key=lambda r: -r["score"])
    return ranked


def _message(project, raw) -> dict:
    if isinstance(raw, str):
        return {"message": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("message"), str):
        raise _Malformed("an execute action returns an object with a \"message\" (a text)")
    return raw


_CHECKS = {"group": _groups, "similar": _ranked, "execute": _message, "embed": _message}


def text_params(project, action: str, pairs: list[str]) -> dict:
    """Parameters given as NAME=VALUE texts (the CLI's --param), typed by the action's form."""
    chosen = project.plugin_runner.discovered().action(action)
    by_name = {p.name: p for p in chosen.params}
    values = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not name:
            raise InvalidInput(f"give a parameter as NAME=VALUE, not {pair!r}", parameter=pair)
        values[name] = parse_text_value(by_name[name], text) if name in by_name else text
    return values
