"""Project settings: choices that are not annotations (whether the project wants guesses), kept in the
project file outside the undo log."""

from __future__ import annotations

from ..store import settings as settings_sql
from ..store.db import Database


class Settings:
    """The `settings` table of one project file."""

    def __init__(self, db: Database):
        self.db = db

    def setting(self, name: str, default=None):
        """A project setting, or `default` when it was never set."""
        return settings_sql.setting(self.db.reader, name, default)

    def set_setting(self, name: str, value) -> None:
        """Record a project setting (not in the undo log; it joins the caller's transaction)."""
        with self.db.write() as conn:
            settings_sql.set_setting(conn, name, value)
