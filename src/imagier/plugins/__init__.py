"""Plugins: researchers' own similarity, clustering, embeddings and scripts, with forms made from signatures.

A plugin is a Python module or package found through the entry point group `imagier.plugins`, or a
single .py file or package in a plugin folder (`IMAGIER_PLUGINS`, `:`-separated, and `plugins/` beside
the project file). It declares actions with the `action` decorator:

    from typing import Annotated
    from imagier.plugins import Range, action

    @action(kind="group", label="Split by brightness")
    def brightness(ctx, parts: Annotated[int, Range(2, 10)] = 3) -> list[dict]:
        '''Groups of images from darkest to brightest.

        Args:
            parts: how many groups.
        '''
        ...
        return [{"name": "dark", "ids": [...]}, ...]

Kinds and what the function returns:
- "group": [{"name": str, "ids": [file id] | "paths": [path]}] (a clustering of ctx.ids);
- "similar": [{"id": file id | "path": path, "score": number}] (the candidates ranked for the query ctx.ids);
- "execute": {"message": str, ...} (anything done to ctx.ids; writes go through ctx.project);
- "embed": an `Embedder` (see imagier.vectors.registry): its vectors are computed for every image that
  has none of its type yet, batch by batch, like the built-in models.

See docs/plugins.md for the guide; `imagier plugins PROJECT` lists what is found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import ImagierError
from ..vectors.base import Embedder
from .schema import DefinitionError, Param, Property, Range, VectorType, build_params

__all__ = ["action", "Action", "Context", "Embedder", "Property", "Range", "VectorType", "PluginFailed",
           "DefinitionError", "KINDS"]

KINDS = ("group", "similar", "execute", "embed")
ATTRIBUTE = "__imagier_action__"


class PluginFailed(ImagierError):
    """A plugin's action raised, timed out, died or returned something malformed; nothing was saved."""

    status = 422


@dataclass
class Action:
    """One declared action: its function, kind, form (JSON Schema) and limits."""
    fn: Callable
    kind: str
    name: str
    label: str
    description: str
    timeout: float | None
    params: list[Param]
    schema: dict
    plugin: str = ""  # set when its plugin is loaded
    extra: dict = field(default_factory=dict)

    @property
    def qualified(self) -> str:
        return f"{self.plugin}.{self.name}"

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "label": self.label, "description": self.description,
                "timeout": self.timeout, "schema": self.schema}


def action(kind: str, name: str | None = None, label: str | None = None, timeout: float | None = None):
    """Declare a plugin action. `kind`: "group", "similar", "execute" or "embed" (where the page offers it
    and what it returns, see the module). `name`: how the CLI and HTTP API call it (default: the function's
    name, with - for _); `label`: what the page shows; `timeout`: seconds after which a run is stopped and
    nothing it did is kept (None: no limit; it can still be cancelled).

    The function's first parameter receives the `Context`; the others become the form, from their type
    annotations, defaults and the docstring's "Args:" section. A type the form cannot show is an error
    when the plugin is imported. The function itself is returned unchanged, so it can still be called."""
    if kind not in KINDS:
        raise DefinitionError(f"unknown action kind {kind!r}; use one of {', '.join(KINDS)}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise DefinitionError(f"an action's timeout is a number of seconds above 0, not {timeout!r}")

    def declare(fn: Callable) -> Callable:
        action_name = name or fn.__name__.replace("_", "-")
        where = f"action {action_name!r} ({fn.__module__}.{fn.__qualname__})"
        params, schema, description = build_params(fn, where)
        setattr(fn, ATTRIBUTE, Action(fn=fn, kind=kind, name=action_name,
                                      label=label or action_name.replace("-", " ").capitalize(),
                                      description=description, timeout=timeout, params=params, schema=schema))
        return fn
    return declare


from .context import Context  # noqa: E402  (the context imports nothing back, but reads better after the API)
