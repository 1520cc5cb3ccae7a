"""Saved views: the state of a tab (filter, sort, group, display options) kept in the project."""

from __future__ import annotations

from ..checks import non_empty_name
from ..errors import InvalidInput, NotFound
from ..store import views as views_sql
from ..store.db import Database, storable
from .query import Querying


class Views:
    """The saved views of one project file; a view's filter, sort and group are checked by `querying`."""

    def __init__(self, db: Database, querying: Querying):
        self.db = db
        self.querying = querying

    def views(self) -> list[dict]:
        """The saved views, in their order: id, name and state."""
        return views_sql.views(self.db.reader)

    def save_view(self, name: str, state: dict, id: int | None = None) -> dict:
        """Create a view, or replace view `id`. The state's filter, sort and group are checked first."""
        non_empty_name("view", name)
        if not isinstance(state, dict):
            raise InvalidInput("a view state is a JSON object")
        self.querying.compile_view(state.get("filter"), state.get("sort"), state.get("group"))
        if id is not None:
            _check_id(id)
        with self.db.write() as conn:
            if id is None:
                id = views_sql.add_view(conn, name.strip(), state)
            elif not views_sql.replace_view(conn, id, name.strip(), state):
                raise NotFound(f"no view with id {id}", id=id)
        return next(v for v in self.views() if v["id"] == id)

    def delete_view(self, id: int) -> None:
        """Delete a saved view."""
        _check_id(id)
        with self.db.write() as conn:
            if not views_sql.delete_view(conn, id):
                raise NotFound(f"no view with id {id}", id=id)


def _check_id(id: int) -> None:
    """InvalidInput for an id that is no integer; NotFound for one no view can have."""
    if isinstance(id, bool) or not isinstance(id, int):
        raise InvalidInput(f"a view id is an integer, not {id!r}", id=str(id))
    if not storable(id):
        raise NotFound(f"no view with id {id}", id=id)
