"""Fetching for the IIIF import, politely: one HTTP client (httpx) whose connections are bounded by the
import's concurrency, a timeout on every request, and retries with growing waits on what may pass (429,
5xx, a broken connection, a timeout), honouring the server's Retry-After. Waits end early on cancel.
"""

from __future__ import annotations

import email.utils
import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import httpx

USER_AGENT = "imagier (IIIF import)"  # servers that count their clients see who asks
TIMEOUT = 30.0  # seconds without a byte before a request is given up (and retried)
ATTEMPTS = 4  # tries of one request in all
BACKOFF = 1.0  # seconds before the second try; doubled before each next one
MAX_WAIT = 120.0  # the longest wait between tries, even when a server's Retry-After asks for more
RETRIED = {408, 425, 429, 500, 502, 503, 504}
MAX_DOCUMENT = 64 << 20  # a manifest or info.json larger than this is refused
MAX_IMAGE = 256 << 20


class FetchError(Exception):
    """A request that failed for good; the message names the URL and the reason, `status` the HTTP status
    of the last answer (None when there was none)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class FetchCancelled(Exception):
    """The import was cancelled while a request waited to be tried again."""


class Fetcher:
    """The HTTP side of one IIIF import (a context manager: closing it closes its connections)."""

    def __init__(self, concurrency: int, cancel: threading.Event | None = None, *, timeout: float = TIMEOUT,
                 attempts: int = ATTEMPTS, backoff: float = BACKOFF):
        self.cancel = cancel or threading.Event()
        self.attempts = attempts
        self.backoff = backoff
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), follow_redirects=True,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            headers={"User-Agent": USER_AGENT})

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()

    def document(self, source: str):
        """The JSON of a manifest, collection or info.json, from a URL or a local file."""
        if source.startswith(("http://", "https://")):
            data = self.get(source, MAX_DOCUMENT, accept="application/ld+json, application/json;q=0.9, */*;q=0.1")
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as e:
                raise FetchError(f"cannot read {source}: {e.strerror or e}") from None
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise FetchError(f"not JSON ({e})") from None
        except RecursionError:
            raise FetchError("not JSON that can be read: nested too deeply") from None

    def get(self, url: str, limit: int = MAX_IMAGE, accept: str = "image/jpeg, image/*;q=0.8") -> bytes:
        """The body of a 200 answer to GET `url`, tried up to `attempts` times. FetchError when it fails
        for good (a 4xx at once), FetchCancelled when cancelled during a wait."""
        if not url.startswith(("http://", "https://")):
            raise FetchError(f"{url[:200]!r} is not an http or https URL")
        reason, status = "", None
        for attempt in range(self.attempts):
            wait = None
            try:
                with self.client.stream("GET", url, headers={"Accept": accept}) as response:
                    if response.status_code == 200:
                        return _body(response, limit, url)
                    status = response.status_code
                    reason = f"HTTP {status} {response.reason_phrase} from {url}".replace("  ", " ")
                    if status not in RETRIED:
                        raise FetchError(reason, status)
                    wait = retry_after(response.headers.get("Retry-After"))
            except httpx.TransportError as e:  # refused, reset, timed out: the next try may get through
                reason, status = f"{type(e).__name__} from {url}: {e}".rstrip(": "), None
            except httpx.HTTPError as e:  # too many redirects, a URL httpx cannot send: no try will pass
                raise FetchError(f"{type(e).__name__} from {url}: {e}".rstrip(": ")) from None
            if attempt + 1 < self.attempts:
                delay = min(MAX_WAIT, wait if wait is not None else self.backoff * 2 ** attempt)
                if self.cancel.wait(delay):
                    raise FetchCancelled()
        raise FetchError(f"{reason} (after {self.attempts} tries)", status)


def retry_after(header: str | None) -> float | None:
    """The seconds a Retry-After header asks to wait (a number of seconds or an HTTP date); None when
    absent or unreadable."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _body(response: httpx.Response, limit: int, url: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(f"{url} is {int(declared) >> 20} MB, more than the {limit >> 20} MB accepted")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchError(f"{url} is more than the {limit >> 20} MB accepted")
        chunks.append(chunk)
    return b"".join(chunks)
