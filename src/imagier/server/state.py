"""What a server holds between requests: the folders its page may see and the project it serves, with that
project's job runner.

The page may switch the server to another project while other requests, on other threads, still read the
one they started with. So each request leases the project it uses (`lease()`); switching (`switch()`)
refuses with a Conflict while a job of the served project runs, stops its runner from starting new ones,
and closes the old project only once the last request leasing it has ended.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import Conflict
from ..ingest.browse import FolderRoots
from ..jobs import JobRunner
from ..project import Project


class Served:
    """One project as the server serves it: the project, its job runner, and the requests using it."""

    def __init__(self, project: Project):
        self.project = project
        self.runner = JobRunner(project)
        self.users = 0
        self.retired = False


class ServerState:
    """The allowed folder roots and the served project, switched safely between requests."""

    def __init__(self, project: Project, roots=()):
        self.roots = FolderRoots([project.path.parent, Path.home(), *roots])
        self._served = Served(project)
        self._lock = threading.Lock()

    @contextmanager
    def lease(self) -> Iterator[Served]:
        """The served project, kept open until the block ends even if the server switches meanwhile."""
        with self._lock:
            served = self._served
            served.users += 1
        try:
            yield served
        finally:
            with self._lock:
                served.users -= 1
                closing = served.retired and served.users == 0
            if closing:
                served.project.close()

    def switch(self, path: str, create: bool = False) -> Project:
        """Serve the project at `path` (inside the roots; created when `create`) from the next request on.
        Conflict while a job of the served project runs: switching would pull its file from under it."""
        path = self.roots.project_file(path, create=create)
        with self._lock:
            if path == self._served.project.path:
                return self._served.project
            self._served.runner.check_idle()  # before a project file may be created
        new = Project(path, create=create)
        with self._lock:
            old = self._served
            try:
                old.runner.close()  # a request still holding the old project may no longer start jobs on it
            except Conflict:
                new.close()
                raise
            old.retired = True
            self._served = Served(new)
            closing = old.users == 0
        if closing:
            old.project.close()
        return new

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel the served project's jobs and wait for them to stop (the server is stopping)."""
        self._served.runner.shutdown(timeout)

    def close(self) -> None:
        """Stop the jobs and close the served project."""
        self.shutdown()
        self._served.project.close()


class LeaseForEachRequest:
    """ASGI middleware: each HTTP request leases the served project for its whole life, its streamed body
    included, and finds it in `request.state.served`. A middleware rather than a dependency with `yield`:
    FastAPI's exit stack for such a dependency cost a thumbnail request about a tenth of a millisecond
    (benchmarks/side_by_side.py, 1.08x on 1.4 ms)."""

    def __init__(self, app, server: ServerState):
        self.app = app
        self.server = server

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        with self.server.lease() as served:
            scope.setdefault("state", {})["served"] = served
            await self.app(scope, receive, send)
