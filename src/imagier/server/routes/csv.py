"""CSV exchange: export the current view, import values (with a dry run that writes nothing)."""

from __future__ import annotations

import os
import tempfile

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ...errors import InvalidInput
from . import ProjectDep, json_param

router = APIRouter(prefix="/api", tags=["csv"])


@router.get("/export.csv", summary="The images of a view (all by default) as CSV, one row per file",
            response_class=FileResponse, responses={200: {"content": {"text/csv": {}}}})
def export_csv(project: ProjectDep,
               filter: str | None = Query(None, description="the view's filter, as JSON"),
               sort: str | None = Query(None, description="the view's sort keys, as JSON"),
               key: str = Query("path", description="first column: path or id")) -> FileResponse:
    # Written to a temporary file, not memory: a 500,000-row export is large.
    fd, out = tempfile.mkstemp(prefix="imagier-export-", suffix=".csv")
    os.close(fd)
    try:
        project.export_csv(out, json_param("filter", filter), json_param("sort", sort), key=key)
    except BaseException:
        os.unlink(out)
        raise
    return FileResponse(out, media_type="text/csv; charset=utf-8", filename=f"{project.path.stem}.csv",
                        background=BackgroundTask(os.unlink, out))


@router.post("/import-csv", summary="Import values from a CSV (the request body, or JSON {\"text\": ...})",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}},
                 "application/json": {"schema": {"type": "object", "required": ["text"],
                                                 "properties": {"text": {"type": "string"}}}}}}})
async def import_csv(project: ProjectDep, request: Request,
                     dry_run: bool = Query(False, description="only report what would be imported"),
                     skip_unmatched: bool = Query(False, description="leave out rows that match no image"),
                     skip_invalid: bool = Query(False, description="leave out cells that do not fit their type"),
                     ) -> dict:
    data = await request.body()
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        text = json_param("body", data.decode("utf-8", "replace"))
        if not isinstance(text, dict) or not isinstance(text.get("text"), str):
            raise InvalidInput('a JSON body must be {"text": "<the CSV>"}')
        data = text["text"].encode("utf-8")
    if not data.strip():
        raise InvalidInput("the CSV is empty")
    # Always bytes: import_csv would read a one-line string as a path on this machine.
    return await run_in_threadpool(project.import_csv, data, dry_run=dry_run, skip_unmatched=skip_unmatched,
                                   skip_invalid=skip_invalid)
