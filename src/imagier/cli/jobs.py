"""`imagier jobs`: the project's jobs (imports, embeddings, duplicates, ... started by a server or here):
listing them, one job's details, cancelling one (a running server's too) and resuming one here."""

from __future__ import annotations

import sys

import click

from ..jobs import DONE, JobRunner
from ..project import Project
from .base import emit, command, main, terminal_progress


@main.group()
def jobs():
    """The project's jobs: imports, embeddings, duplicates, clusterings, layouts, plugin runs, ..."""


@command(jobs, "list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="the newest N jobs")
def jobs_list(project: Project, as_json: bool, limit):
    """The jobs of PROJECT, newest first: kind, state (running, done, failed, cancelled, interrupted)."""
    found = JobRunner(project).snapshots(limit, history=True)
    emit(as_json, found, "\n".join(_line(job) for job in found) or "no jobs")


@command(jobs, "show")
@click.argument("job_id", type=int)
def jobs_show(project: Project, as_json: bool, job_id):
    """One job of PROJECT: its parameters, state, progress and result or error."""
    emit(as_json, JobRunner(project).snapshot(job_id))


@command(jobs, "cancel")
@click.argument("job_id", type=int)
def jobs_cancel(project: Project, as_json: bool, job_id):
    """Stop a job of PROJECT: a server running it stops at its next progress report; an interrupted one
    is marked cancelled."""
    job = JobRunner(project).cancel(job_id)
    emit(as_json, job, f"{_line(job)}" + (" (asked to stop)" if job["state"] == "running" else ""))


@command(jobs, "resume")
@click.argument("job_id", type=int)
def jobs_resume(project: Project, as_json: bool, job_id):
    """Run a stopped job of PROJECT again, here, with a progress bar: an import or an embedding goes on where
    it stopped, other kinds start over with the same parameters. Ctrl+C cancels it."""
    job = JobRunner(project).resume(job_id)
    with terminal_progress(as_json, f"{job.kind} job {job.id}") as bar:
        if bar:
            job.subscribe(lambda: bar(job.snapshot()["progress"]))
        try:
            while not job.wait(0.2):  # a short wait, so Ctrl+C is heard
                pass
        except KeyboardInterrupt:
            job.cancel()
            job.wait()
    ended = job.snapshot()
    emit(as_json, ended, _line(ended) + (f": {ended['error']['message']}" if ended["error"] else ""))
    if ended["state"] != DONE:
        sys.exit(1)


def _line(job: dict) -> str:
    progress = job["progress"]
    counts = f" {progress['done']}/{progress['total']}" if "done" in progress and "total" in progress else ""
    return f"{job['id']}  {job['kind']:<10} {job['state']:<11}{counts}  {job['started']}"
