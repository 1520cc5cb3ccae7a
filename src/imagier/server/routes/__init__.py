"""The HTTP routes, one small router per area. Each route parses, calls one Project operation, formats."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from ...errors import InvalidInput
from ...ingest.browse import FolderRoots
from ...jobs import JobRunner
from ...project import Project
from ...store.compiler import MAX_FILTER_DEPTH
from ..state import Served


class Body(BaseModel):
    """A request body. Unknown fields are refused, so a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _served(request: Request) -> Served:
    return request.state.served  # leased for the whole request by state.LeaseForEachRequest


async def _project(request: Request) -> Project:
    return _served(request).project


async def _runner(request: Request) -> JobRunner:
    return _served(request).runner


async def _roots(request: Request) -> FolderRoots:
    return request.app.state.server.roots


ProjectDep = Annotated[Project, Depends(_project)]
RunnerDep = Annotated[JobRunner, Depends(_runner)]
RootsDep = Annotated[FolderRoots, Depends(_roots)]


def json_param(name: str, text: str | None) -> Any:
    """A JSON document passed in a query parameter (GET routes that take a filter or a sort)."""
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"the {name} parameter is not valid JSON: {e}", parameter=name) from None
    except RecursionError:
        raise InvalidInput(f"the {name} parameter is nested too deeply (a filter nests at most "
                           f"{MAX_FILTER_DEPTH} levels)", parameter=name) from None


def names_param(text: str | None) -> list[str] | None:
    """A comma-separated list of names in a query parameter; None when absent."""
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


# A stream silent this long sends a comment line, which keeps proxies and browsers from closing it.
KEEPALIVE_SECONDS = 15.0
KEEPALIVE_LINE = ": keep-alive\n\n"


def event_stream(events) -> StreamingResponse:
    """Server-sent events from an async generator of "data: ...\n\n" texts, never cached or buffered."""
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
