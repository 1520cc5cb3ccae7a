"""The SQL of jobs: one row per run of a long operation (import, embedding, duplicates, ...), its parameters,
state, progress and outcome, so a job outlives the process that ran it (see imagier/jobs.py).

A row names the process running it (`owner`: host, pid and a token drawn once per process), so a reader in
another process can tell a running job from one whose process died.
"""

from __future__ import annotations

import json
import os
import secrets
import socket

import apsw

from .oplog import now

# Who this process is in a row's `owner`: the token tells this process from an earlier one with the same
# pid (containers restart their server as pid 1).
THIS_PROCESS = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"
COLUMNS = "id, kind, params, state, progress, result, error, owner, cancel, started, updated, finished"


def _json(value) -> str:
    return json.dumps(value, default=str)


def start_job(conn: apsw.Connection, kind: str, params: dict) -> int:
    """A new running row for a job of this process; its id."""
    stamp = now()
    conn.execute("INSERT INTO jobs(kind, params, state, owner, started, updated) VALUES (?, ?, 'running', ?, ?, ?)",
                 (kind, _json(params), THIS_PROCESS, stamp, stamp))
    return conn.last_insert_rowid()


def restart_job(conn: apsw.Connection, job_id: int, params: dict) -> None:
    """Mark the job running again in this process, with the parameters of this run."""
    conn.execute("UPDATE jobs SET state = 'running', finished = NULL, result = NULL, error = NULL, cancel = 0, "
                 "owner = ?, params = ?, updated = ? WHERE id = ?", (THIS_PROCESS, _json(params), now(), job_id))


def set_job_progress(conn: apsw.Connection, job_id: int, progress: dict) -> None:
    conn.execute("UPDATE jobs SET progress = ?, updated = ? WHERE id = ?", (_json(progress), now(), job_id))


def finish_job(conn: apsw.Connection, job_id: int, state: str, progress: dict | None = None, *,
               result=None, error: dict | None = None) -> None:
    """End the job as done, failed or cancelled; `progress` None keeps the last one reported."""
    stamp = now()
    conn.execute("UPDATE jobs SET state = ?, finished = ?, updated = ?, progress = coalesce(?, progress), "
                 "result = ?, error = ? WHERE id = ?",
                 (state, stamp, stamp, None if progress is None else _json(progress),
                  None if result is None else _json(result), None if error is None else _json(error), job_id))


def request_cancel(conn: apsw.Connection, job_id: int) -> None:
    """Ask the process running the job to stop it (it reads the flag while the job runs)."""
    conn.execute("UPDATE jobs SET cancel = 1, updated = ? WHERE id = ?", (now(), job_id))


def cancel_requested(conn: apsw.Connection, job_id: int) -> bool:
    row = conn.execute("SELECT cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return bool(row and row[0])


def job(conn: apsw.Connection, job_id: int) -> dict | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return _row(row) if row else None


def recent_jobs(conn: apsw.Connection, limit: int) -> list[dict]:
    """The newest `limit` jobs of every kind, newest first."""
    return [_row(r) for r in conn.execute(f"SELECT {COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?", (limit,))]


def jobs_in_state(conn: apsw.Connection, state: str) -> list[dict]:
    """The jobs of every kind in a state, newest first."""
    return [_row(r) for r in conn.execute(f"SELECT {COLUMNS} FROM jobs WHERE state = ? ORDER BY id DESC", (state,))]


def jobs(conn: apsw.Connection, kind: str, state: str | None = None, job_id: int | None = None) -> list[dict]:
    """The jobs of a kind (optionally in a state, or one of them), oldest first."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM jobs WHERE kind = ?1 AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR id = ?3) "
        "ORDER BY id", (kind, state, job_id)).fetchall()
    return [_row(r) for r in rows]


def _row(r) -> dict:
    return {"id": r[0], "kind": r[1], "params": json.loads(r[2]), "state": r[3], "progress": json.loads(r[4]),
            "result": None if r[5] is None else json.loads(r[5]), "error": None if r[6] is None else json.loads(r[6]),
            "owner": r[7], "cancel": bool(r[8]), "started": r[9], "updated": r[10], "finished": r[11]}
