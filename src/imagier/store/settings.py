"""The SQL of project settings: choices that are not annotations (whether the project wants guesses), kept in
the project file outside the undo log (see operations/settings.py)."""

from __future__ import annotations

import json

import apsw


def setting(conn: apsw.Connection, name: str, default=None):
    """A project setting, or `default` when it was never set."""
    row = conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return default if row is None else json.loads(row[0])


def set_setting(conn: apsw.Connection, name: str, value) -> None:
    conn.execute("INSERT INTO settings(name, value) VALUES (?, ?) "
                 "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, json.dumps(value)))
