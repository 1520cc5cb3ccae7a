"""The persistent operation log: undo and redo that survive a restart.

Every change to annotations runs inside `OpLog.record`, which watches the annotation tables with
SQLite's session extension and stores the resulting changeset in `ops`. Undo applies the inverse of
the newest done operation's changeset; redo applies the oldest undone one again. Any new operation
drops the undone ones, as in every editor.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import apsw

from ..errors import Conflict
from ..store import oplog as oplog_sql
from ..store.db import Database

# The tables whose changes are undoable. Files, contents and thumbnails come from import, not from
# annotation, and are not recorded (they would make the log as big as the corpus).
TRACKED_TABLES = ("properties", "property_values", "tags", "tag_parents", "tag_values", "rejected_suggestions")


def _conflict(reason: int, change) -> int:
    # The log is linear, so a conflict means something outside it changed the rows: keep the
    # operation's version of a row, skip rows that are already gone, refuse anything else.
    if reason in (apsw.SQLITE_CHANGESET_DATA, apsw.SQLITE_CHANGESET_CONFLICT):
        return apsw.SQLITE_CHANGESET_REPLACE
    if reason == apsw.SQLITE_CHANGESET_NOTFOUND:
        return apsw.SQLITE_CHANGESET_OMIT
    return apsw.SQLITE_CHANGESET_ABORT


class _RolledBack(Exception):
    """Ends a `capture` transaction by rolling it back."""


class OpLog:
    def __init__(self, db: Database):
        self.db = db
        self._local = threading.local()

    @contextmanager
    def record(self, kind: str, label: str, params: dict | None = None) -> Iterator[apsw.Connection]:
        """Run the body as one undoable operation in one transaction. Nested calls join the outer one."""
        if getattr(self._local, "recording", False):
            with self.db.write() as conn:
                yield conn
            return
        with self.db.write() as conn:
            session = apsw.Session(conn, "main")
            for table in TRACKED_TABLES:
                session.attach(table)
            self._local.recording = True
            try:
                yield conn
                changeset = session.changeset()
            finally:
                self._local.recording = False
                session.close()
            if changeset:
                oplog_sql.drop_undone(conn)
                oplog_sql.add_op(conn, kind, label, params, changeset)

    @contextmanager
    def capture(self, extra_tables: tuple[str, ...] = ()) -> Iterator[dict]:
        """Run the body in one transaction that is always rolled back, and put the changeset of what it did
        to the undoable tables (and `extra_tables`) in the yielded dict's "changeset". A plugin's worker
        runs in it: its writes reach the project only through `apply_recorded`, after its result is checked."""
        captured: dict = {"changeset": None}
        try:
            # Deferred: an action that only reads (a grouping, a search) must not stop every other writer for
            # as long as it runs, and one that writes takes the lock at its first write.
            with self.db.write(immediate=False) as conn:
                session = apsw.Session(conn, "main")
                for table in TRACKED_TABLES + tuple(extra_tables):
                    session.attach(table)
                self._local.recording = True  # operations inside join this transaction
                try:
                    yield captured
                    captured["changeset"] = session.changeset() or None
                finally:
                    self._local.recording = False
                    session.close()
                raise _RolledBack
        except _RolledBack:
            pass

    def apply_recorded(self, kind: str, label: str, params: dict, changeset: bytes) -> None:
        """Apply a changeset made by `capture` (in this process or another) as one undoable operation."""
        with self.record(kind, label, params) as conn:
            self._apply(conn, changeset, label)

    def log(self, kind: str, label: str, params: dict | None = None) -> None:
        """Note an operation that cannot be undone (an import) in the history."""
        with self.db.write() as conn:
            oplog_sql.add_op(conn, kind, label, params)

    def undo(self) -> dict:
        return self._step(undo=True)

    def redo(self) -> dict:
        return self._step(undo=False)

    def _step(self, undo: bool) -> dict:
        """Undo the newest done operation, or redo the oldest undone one."""
        with self.db.write() as conn:
            row = oplog_sql.newest_undoable(conn) if undo else oplog_sql.oldest_undone(conn)
            if row is None:
                raise Conflict(f"nothing to {'undo' if undo else 'redo'}")
            op_id, kind, label, changeset = row
            self._apply(conn, apsw.Changeset.invert(changeset) if undo else changeset, label)
            oplog_sql.set_state(conn, op_id, "undone" if undo else "done")
        return {"id": op_id, "kind": kind, "label": label}

    @staticmethod
    def _apply(conn: apsw.Connection, changeset: bytes, label: str) -> None:
        try:
            apsw.Changeset.apply(changeset, conn, conflict=_conflict)
        except apsw.AbortError:
            raise Conflict(f"cannot replay {label!r}: the project changed in a way that conflicts with it") from None

    def history(self, limit: int = 100) -> list[dict]:
        return oplog_sql.history(self.db.reader, limit)
