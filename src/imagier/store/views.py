"""Saved views: the state of a tab (filter, sort, group, display options) kept in the project."""

from __future__ import annotations

import json

from ..checks import non_empty_name
from ..errors import InvalidInput, NotFound
from .db import Database, storable


class Views:
    """The saved views of one project file; a view's filter, sort and group are checked by `querying`."""

    def __init__(self, db: Database, querying):
        self.db = db
        self.querying = querying

    def views(self) -> list[dict]:
        """The saved views, in their order: id, name and state."""
        return [{"id": r[0], "name": r[1], "state": json.loads(r[2])}
                for r in self.db.reader.execute("SELECT id, name, state FROM views ORDER BY position, id")]

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
                position = conn.execute("SELECT coalesce(max(position), 0) + 1 FROM views").fetchone()[0]
                conn.execute("INSERT INTO views(name, state, position) VALUES (?, ?, ?)",
                             (name.strip(), json.dumps(state), position))
                id = conn.last_insert_rowid()
            else:
                conn.execute("UPDATE views SET name = ?, state = ? WHERE id = ?", (name.strip(), json.dumps(state), id))
                if conn.changes() == 0:
                    raise NotFound(f"no view with id {id}", id=id)
        return next(v for v in self.views() if v["id"] == id)

    def delete_view(self, id: int) -> None:
        """Delete a saved view."""
        _check_id(id)
        with self.db.write() as conn:
            conn.execute("DELETE FROM views WHERE id = ?", (id,))
            if conn.changes() == 0:
                raise NotFound(f"no view with id {id}", id=id)


def _check_id(id: int) -> None:
    """InvalidInput for an id that is no integer; NotFound for one no view can have."""
    if isinstance(id, bool) or not isinstance(id, int):
        raise InvalidInput(f"a view id is an integer, not {id!r}", id=str(id))
    if not storable(id):
        raise NotFound(f"no view with id {id}", id=id)
