"""Real servers and a real browser for the tests: uvicorn on a free loopback port, Debian's Chromium
driven by Playwright (never Playwright's own browser download, which this machine cannot reach)."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import uvicorn

CHROMIUM = os.environ.get("IMAGIER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]
# Screenshots the browser tests take of each step, kept after the run as artifacts.
ARTIFACTS = Path(os.environ.get("IMAGIER_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
LAPTOP = {"width": 1366, "height": 768}


class LiveServer:
    """A uvicorn server in a thread, on a free loopback port."""

    def __init__(self, app):
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@contextmanager
def served_page(chromium, project, address: str = "/", **context_options):
    """PROJECT's web UI served on loopback and open at ADDRESS in a fresh page of the laptop's size:
    yields (page, server). Errors the page raises fail the test when it ends."""
    from imagier.server.app import create_app
    with LiveServer(create_app(project)) as server:
        context = chromium.new_context(viewport=LAPTOP, **context_options)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url + address)
        yield page, server
        context.close()
    assert not errors, f"the page raised: {errors}"


def screenshot(page, name: str) -> Path:
    """Save the page as test-artifacts/NAME.png (the steps of a walk are numbered by their names)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def eventually(check, timeout: float = 10.0) -> None:
    """Wait until check() holds: for a write done in the background (the page's save, where the page shows
    no sign of it; a job's) to reach the project."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"the write never reached the project within {timeout} s"
        time.sleep(0.05)


def finished_job(client, job_id: str, timeout: float = 120) -> dict:
    """Poll a background job through the HTTP API (an httpx or TestClient client) until it ends; its
    last snapshot, whatever its state."""
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/api/jobs/{job_id}").json())["state"] == "running":
        assert time.monotonic() < deadline, f"the job did not end within {timeout} s: {job}"
        time.sleep(0.05)
    return job
