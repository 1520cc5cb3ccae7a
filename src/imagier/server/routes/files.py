"""Images: one image's fields, and its thumbnail and original by content hash.

Thumbnails and originals are addressed only by a content hash, looked up in the project, so a URL can
never name a path on disk. The bytes behind a hash never change, which lets browsers cache them forever:
an original whose file changed on disk since its import is refused (409), never served under its old hash.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from ...ingest.scan import is_under
from ...project import Project
from . import ProjectDep

router = APIRouter(prefix="/api", tags=["files"])

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
               "TIFF": "image/tiff", "BMP": "image/bmp", "HEIF": "image/heif"}


def _cache_headers(content_hash: str) -> dict:
    return {"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{content_hash}"',
            "X-Content-Type-Options": "nosniff"}


def _not_modified(request: Request, content_hash: str) -> Response | None:
    tags = [t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")]
    if f'"{content_hash}"' in tags or "*" in tags:
        return Response(status_code=304, headers=_cache_headers(content_hash))
    return None


@router.get("/files/{file_id}", summary="One image: its built-in fields, property values and same-content files")
def get_file(project: ProjectDep, file_id: int) -> dict:
    file = project.file(file_id)
    return {**file, "values": project.values([file_id])[file_id],
            "same_content": [f["id"] for f in project.same_content(file_id)]}


@router.get("/thumbnails/{content_hash}.jpg", summary="The JPEG thumbnail of a content (cached for good)",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}, 304: {}})
def thumbnail(project: ProjectDep, request: Request, content_hash: str) -> Response:
    data = project.thumbnail(content_hash)
    return _not_modified(request, content_hash) or Response(data, media_type="image/jpeg",
                                                            headers=_cache_headers(content_hash))


@router.get("/originals/{content_hash}", summary="The original image of a content, stored or from disk (inside "
                                                 "the imported folders or the allowed roots)",
            response_class=Response, responses={200: {"content": {"image/*": {}}}, 304: {},
                                                409: {"description": "its files changed on disk since their import"}})
def original(project: ProjectDep, request: Request, content_hash: str) -> Response:
    data, path, format_ = project.original(content_hash, may_read=lambda path: _servable(request, project, path))
    media_type = MEDIA_TYPES.get(format_, "application/octet-stream")
    headers = _cache_headers(content_hash)
    if cached := _not_modified(request, content_hash):
        return cached
    if data is not None:
        return Response(data, media_type=media_type, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers)


def _servable(request: Request, project: Project, path: Path) -> Path:
    """What an original's path resolves to, when that lies inside a folder the project imported or the
    allowed roots; else Forbidden. The file may be a link, or have become one since the import, to a
    file the page must not read."""
    resolved = path.resolve()
    if any(is_under(str(resolved), folder) for folder in project.imported_folders()):
        return resolved
    return request.app.state.server.roots.check(resolved)


@router.get("/files/{file_id}/frame", summary="The film, time and shot of a frame of a film: the other frames of its "
                                              "shot and the first frames of the shots before and after it")
def frame(project: ProjectDep, file_id: int) -> dict:
    return project.frame(file_id)


@router.get("/films/{film_id}/video", summary="The video file of a film of the project, to play (HTTP range requests, "
                                              "206 Partial Content)",
            response_class=Response, responses={200: {"content": {"video/*": {}}}, 206: {},
                                                409: {"description": "the film changed on disk since its import"}})
def film_video(project: ProjectDep, request: Request, film_id: int) -> Response:
    # Only a film of the project, by id, and only inside the imported folders or the allowed roots; Starlette's
    # FileResponse answers Range requests, which a <video> element seeks with.
    path = project.film_video(film_id, may_read=lambda path: _servable(request, project, path))
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})


@router.get("/files/{file_id}/text", summary="The text read in an image (OCR): its lines and its words, each with "
                                             "its confidence and its box as fractions of the picture's width and height")
def image_text(project: ProjectDep, file_id: int,
               search: str | None = Query(None, description="a text search (as the filter op `search` takes it): "
                                                             "each word then says whether it matches (`match`)")
               ) -> dict:
    return project.image_text(file_id, search)


@router.get("/files/{file_id}/matches", summary="Where a text search matches the image's value of a text property: "
                                                "the [start, end] characters of the words it matches (the detail's marks)")
def text_matches(project: ProjectDep, file_id: int,
                 property: str = Query(..., description="a text property"),
                 search: str = Query(..., description="a text search, as the filter op `search` takes it")
                 ) -> list[list[int]]:
    return project.text_matches(file_id, property, search)
