"""The FastAPI application: the routers, the error format, and who may talk to the server.

Every error is JSON `{"error": kind, "message": text, ...}`: an ImagierError keeps its own status, a
malformed request is a 422 naming the field at fault, and anything unexpected is logged and answered
with a bare 500 that never carries a stack trace.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from pathlib import Path
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser

from ..checks import whole_number
from .. import __version__
from ..errors import ImagierError, InvalidInput
from ..project import Project
from .routes import (analysis, csv, duplicates, files, folders, iiif, imports, jobs, labels, layout, plugins,
                     properties, query, search, values, vectors, views)
from .routes import project as project_routes
from .state import LeaseForEachRequest, ServerState

log = logging.getLogger(__name__)
TOKEN_COOKIE = "imagier_token"
# The built frontend/ (`npm run build` writes it). IMAGIER_WEBUI serves another build instead, so a
# developer can test a build of their own while the shipped one stays as committed.
WEBUI = Path(os.environ.get("IMAGIER_WEBUI") or Path(__file__).parent / "webui")
ROUTERS = (project_routes, properties, values, files, query, views, imports, jobs, csv, vectors, analysis, search,
           duplicates, folders, layout, plugins, labels, iiif)
# A token anyone could guess is no protection: `--token "$UNSET_VARIABLE"` would open the server to all.
MIN_TOKEN_LENGTH = 16
# Request bodies: a CSV import may be as large as max_body_bytes (a real corpus's CSV runs to tens of MB);
# every other body is JSON, where even a million-image selection stays under a few MB.
DEFAULT_MAX_BODY_BYTES = 200 << 20
JSON_BODY_LIMIT = 32 << 20
LARGE_BODY_ROUTES = frozenset({"/api/import-csv"})


def check_token(token: str | None) -> None:
    """InvalidInput for an access token too short to keep anyone out (None: no token)."""
    if token is not None and len(token.strip()) < MIN_TOKEN_LENGTH:
        raise InvalidInput(f"the access token must be at least {MIN_TOKEN_LENGTH} characters long, not "
                           f"{len(token.strip())}: give a longer --token, or leave it out to have one generated")


def create_app(project: Project, *, token: str | None = None, roots=(),
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The HTTP API of `project`. With a token (at least MIN_TOKEN_LENGTH characters), every request must
    carry it; without one, only requests addressed to a loopback name are served (the server must then be
    bound to loopback). The page may browse folders only inside the project's folder, the user's home and
    `roots`. A CSV import's body may hold up to `max_body_bytes`, any other body up to JSON_BODY_LIMIT (or
    `max_body_bytes` when smaller)."""
    check_token(token)
    whole_number("max_body_bytes", max_body_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.server.shutdown()

    # /docs and /redoc with their scripts served from the package fastapi-offline, not from a CDN, so the
    # API can be browsed offline; no validator badge, which Swagger UI fetches from its own site.
    app = FastAPIOffline(title="imagier", version=__version__, lifespan=lifespan,
                         description="The HTTP API of an imagier project: every operation of the Python API.",
                         swagger_ui_parameters={"validatorUrl": None})
    app.state.server = ServerState(project, roots)
    for module in ROUTERS:
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        # no-store: a new build's asset names must reach the page after an upgrade
        return FileResponse(WEBUI / "index.html", headers={"Cache-Control": "no-store"})

    # Asset names carry a hash of their content, so they may be cached for good.
    app.mount("/assets", StaticFiles(directory=WEBUI / "assets"), name="assets")

    app.add_exception_handler(ImagierError, _imagier_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(LeaseForEachRequest, server=app.state.server)
    app.add_middleware(UnexpectedErrors)
    # The guard is added last so that it runs first: a refused request's body is never read.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(AccessGuard, token=token)
    return app


def _error(status: int, kind: str, message: str, **details) -> JSONResponse:
    return JSONResponse({"error": kind, "message": message, **details}, status_code=status)


async def _imagier_error(request: Request, exc: ImagierError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers={"Cache-Control": "no-store"})


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        problems.append({"field": where, "message": error.get("msg", "invalid")})
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return _error(422, "InvalidRequest", f"the request is not valid: {message}", problems=problems)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
    message = "no such API route" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse({"error": kind, "message": message}, status_code=exc.status_code, headers=exc.headers)


async def _body_too_large(request: Request, exc: "BodyTooLarge") -> JSONResponse:
    return exc.response()


class UnexpectedErrors:
    """Answers an unexpected error with a bare 500 and logs its traceback. Starlette's own handler raises the
    error again after answering, and uvicorn then closes the connection, so the client's next request on
    it failed too."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            if started:  # half an answer is out: only closing the connection can end it
                raise
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = _error(500, "InternalError", "imagier failed unexpectedly on this request; "
                                                    "the details are in the server's log")
            await response(scope, receive, send)


def is_loopback(host: str) -> bool:
    """Whether a bind address or a Host header's name stays on this machine."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _netloc_part(text: str, part: str) -> str:
    """The host name or netloc of a Host or Origin header; "" when it cannot be parsed."""
    try:
        return getattr(urlsplit(text if "//" in text else f"//{text}"), part) or ""
    except ValueError:  # such as an unclosed IPv6 bracket
        return ""


class AccessGuard:
    """Who may use the server.

    - With a token: the request carries it as `Authorization: Bearer`, a `?token=` parameter (for <img>
      URLs) or the cookie set on the first `?token=` visit; anything else is a 401.
    - Without a token: the Host header must be a loopback name, so a web page that rebinds its own
      domain name to 127.0.0.1 cannot reach the API.
    - Always: a request that changes something must not come from another site's page (Origin check),
      so a page the researcher visits cannot, say, undo their work with a hidden form.
    - Always: no request to /api/ from another site's page (the `Sec-Fetch-Site` header browsers send),
      so such a page cannot make the server run a heavy export or read answers through an <img> or a
      link. `same-site` counts as another site: it includes every other port of this machine, such as
      a notebook server showing untrusted HTML. The page's own requests (`same-origin`), typed or
      bookmarked URLs (`none`) and scripts, which send no such header, are served.
    """

    def __init__(self, app, token: str | None):
        self.app = app
        self.token = token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        refusal = self._refusal(scope, headers, host)
        if refusal is not None:
            return await refusal(scope, receive, send)
        if self.token and self._query_token(scope) == self.token:
            send = self._setting_cookie(send)
        await self.app(scope, receive, send)

    def _refusal(self, scope, headers: Headers, host: str) -> JSONResponse | None:
        if self.token is None and not is_loopback(_netloc_part(host, "hostname")):
            return _error(403, "Forbidden", "this server has no access token, so it only answers on 127.0.0.1 or "
                                            "localhost; serve with a token to reach it from another machine")
        if self.token is not None and not self._authorised(scope, headers):
            response = _error(401, "Unauthorized", "this server needs its access token: open the URL printed by "
                                                   "`imagier serve` (it ends with ?token=...) or send "
                                                   "`Authorization: Bearer <token>`")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        origin = headers.get("origin")
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and origin is not None \
                and _netloc_part(origin, "netloc") != host:
            return _error(403, "Forbidden", f"requests from pages of {origin} may not change this project")
        site = headers.get("sec-fetch-site")
        if site in ("cross-site", "same-site") and scope["path"].startswith("/api/"):
            return _error(403, "Forbidden", "pages of other sites may not use this server's API (the browser "
                                            f"says Sec-Fetch-Site: {site}); open imagier's own page instead")
        return None

    def _authorised(self, scope, headers: Headers) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        offered = [credentials if scheme.lower() == "bearer" else None, self._query_token(scope),
                   cookie_parser(headers.get("cookie", "")).get(TOKEN_COOKIE)]
        return any(o is not None and secrets.compare_digest(o.encode(), self.token.encode()) for o in offered)

    @staticmethod
    def _query_token(scope) -> str | None:
        found = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        return found[0] if found else None

    def _setting_cookie(self, send):
        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "set-cookie", f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict")
            await send(message)
        return send_with_cookie


class BodyTooLarge(HTTPException):
    """A request body over its limit. An HTTPException, so FastAPI's body parsing lets it through."""

    def __init__(self, limit: int, large_route: bool):
        super().__init__(413)
        self.limit = limit
        self.large_route = large_route

    def response(self) -> JSONResponse:
        size = f"{self.limit / (1 << 20):g} MB"
        if self.large_route:
            advice = (f"the request body is larger than {size}, this server's limit for a CSV import: serve "
                      "with `imagier serve --max-body-mb N` (Python: create_app(..., max_body_bytes=N)) to "
                      "accept larger files")
        else:
            advice = (f"the request body is larger than {size}, this server's limit for requests other than a "
                      f"CSV import (at most {JSON_BODY_LIMIT >> 20} MB, less when --max-body-mb is smaller): "
                      "select many images with a filter rather than a list of ids")
        return _error(413, "PayloadTooLarge", advice, limit=self.limit)


class BodyLimit:
    """Refuse request bodies over their limit before they fill the memory.

    The bytes are counted as they arrive, whatever Content-Length says (a chunked body has none); a
    declared length over the limit is refused before anything is read.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        large_route = scope["path"] in LARGE_BODY_ROUTES
        limit = self.max_bytes if large_route else min(self.max_bytes, JSON_BODY_LIMIT)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return await BodyTooLarge(limit, large_route).response()(scope, receive, send)
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, large_route)
            return message

        await self.app(scope, counting_receive, send)
