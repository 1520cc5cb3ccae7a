"""The SQL of the `ops` table: one row per operation in the history, with the SQLite changeset that undoes
and redoes it (see operations/oplog.py for the undo and redo built on them)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import apsw


def now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()


def add_op(conn: apsw.Connection, kind: str, label: str, params: dict | None,
           changeset: bytes | None = None) -> None:
    """A new done operation; without a changeset it is only noted in the history (it cannot be undone)."""
    conn.execute("INSERT INTO ops(kind, label, created, params, changeset) VALUES (?, ?, ?, ?, ?)",
                 (kind, label, now(), json.dumps(params or {}, default=str), changeset))


def drop_undone(conn: apsw.Connection) -> None:
    """Forget the undone operations (a new operation makes them unreachable by redo)."""
    conn.execute("DELETE FROM ops WHERE state = 'undone'")


def newest_undoable(conn: apsw.Connection) -> tuple[int, str, str, bytes] | None:
    """(id, kind, label, changeset) of the newest done operation with a changeset, or None."""
    return conn.execute("SELECT id, kind, label, changeset FROM ops WHERE state = 'done' AND changeset IS NOT NULL "
                        "ORDER BY id DESC LIMIT 1").fetchone()


def oldest_undone(conn: apsw.Connection) -> tuple[int, str, str, bytes] | None:
    """(id, kind, label, changeset) of the oldest undone operation, or None."""
    return conn.execute("SELECT id, kind, label, changeset FROM ops WHERE state = 'undone' ORDER BY id LIMIT 1"
                        ).fetchone()


def set_state(conn: apsw.Connection, op_id: int, state: str) -> None:
    conn.execute("UPDATE ops SET state = ? WHERE id = ?", (state, op_id))


def history(conn: apsw.Connection, limit: int) -> list[dict]:
    """The newest `limit` operations, newest first."""
    rows = conn.execute("SELECT id, kind, label, created, params, changeset IS NOT NULL, state FROM ops "
                        "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [{"id": r[0], "kind": r[1], "label": r[2], "created": r[3], "params": json.loads(r[4]),
             "undoable": bool(r[5]), "state": r[6]} for r in rows]
