"""Project settings: choices that are not annotations (whether the project wants guesses), kept in the
project file outside the undo log."""

from __future__ import annotations

import json

from .db import Database


class Settings:
    """The `settings` table of one project file."""

    def __init__(self, db: Database):
        self.db = db

    def setting(self, name: str, default=None):
        """A project setting, or `default` when it was never set."""
        row = self.db.reader.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, name: str, value) -> None:
        """Record a project setting (not in the undo log; it joins the caller's transaction)."""
        with self.db.write() as conn:
            conn.execute("INSERT INTO settings(name, value) VALUES (?, ?) "
                         "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, json.dumps(value)))
