"""The SQL of saved views: the state of a tab (filter, sort, group, display options) kept in the project (see
operations/views.py)."""

from __future__ import annotations

import json

import apsw


def views(conn: apsw.Connection) -> list[dict]:
    """The saved views, in their order: id, name and state."""
    return [{"id": r[0], "name": r[1], "state": json.loads(r[2])}
            for r in conn.execute("SELECT id, name, state FROM views ORDER BY position, id")]


def add_view(conn: apsw.Connection, name: str, state: dict) -> int:
    """A new view, after the others; its id."""
    position = conn.execute("SELECT coalesce(max(position), 0) + 1 FROM views").fetchone()[0]
    conn.execute("INSERT INTO views(name, state, position) VALUES (?, ?, ?)", (name, json.dumps(state), position))
    return conn.last_insert_rowid()


def replace_view(conn: apsw.Connection, id: int, name: str, state: dict) -> bool:
    """Give view `id` this name and state; False when there is no such view."""
    conn.execute("UPDATE views SET name = ?, state = ? WHERE id = ?", (name, json.dumps(state), id))
    return conn.changes() > 0


def delete_view(conn: apsw.Connection, id: int) -> bool:
    """False when there is no such view."""
    conn.execute("DELETE FROM views WHERE id = ?", (id,))
    return conn.changes() > 0
