"""Serve a project over HTTP with uvicorn, printing the URL to open."""

from __future__ import annotations

import secrets
import socket
import threading
import time
import webbrowser
from pathlib import Path

import uvicorn

from ..project import Project
from .app import DEFAULT_MAX_BODY_BYTES, check_token, create_app, is_loopback


def serve(project_path: str | Path, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          open_browser: bool = False, roots=(), max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Serve the project until interrupted. Bound to loopback, no token is needed; bound to any other
    address, a token is required, and one is generated when none is given (it is part of the printed URL).
    A token given must be at least 16 characters long. The page may browse folders (to import, to open
    projects) in the project's folder, the user's home and `roots`. A CSV import's body may hold up to
    `max_body_bytes` (other requests' bodies up to 32 MB)."""
    check_token(token)  # before the project file is opened, let alone created
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    project = Project(project_path)
    app = create_app(project, token=token, roots=roots, max_body_bytes=max_body_bytes)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    threading.Thread(target=_announce, args=(server, project.path, host, token, open_browser), daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C once it has shut down cleanly
        print("imagier stopped.", flush=True)
    finally:
        app.state.server.close()  # the page may have switched to another project


def _announce(server: uvicorn.Server, project_path: Path, host: str, token: str | None, open_browser: bool) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]  # the real one when port 0 was asked for
    url = f"http://{display_host(host)}:{port}/" + (f"?token={token}" if token else "")
    print(f"imagier is serving {project_path} at {url}", flush=True)
    if token:
        print("Anyone with this URL can read and change the project: share it only with your team.", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    if open_browser:
        webbrowser.open(url)


def display_host(host: str) -> str:
    """The host to put in a URL: this machine's name for a wildcard bind, IPv6 addresses in brackets."""
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host
