"""CSV exchange: export the current view, import values (with a dry run that writes nothing)."""

from __future__ import annotations

import io
import os
import tempfile

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask

from ...errors import InvalidInput
from . import Body, ProjectDep, json_param, names_param

router = APIRouter(prefix="/api", tags=["csv"])


@router.get("/export.csv", summary="The images of a view (all by default) as CSV, one row per file",
            response_class=FileResponse, responses={200: {"content": {"text/csv": {}}}})
def export_csv(project: ProjectDep,
               filter: str | None = Query(None, description="the view's filter, as JSON"),
               sort: str | None = Query(None, description="the view's sort keys, as JSON"),
               key: str = Query("path", description="first column: path or id"),
               properties: str | None = Query(None, description="comma-separated property names (default: all)"),
               separator: str = Query(",", description="',' or ';' (for spreadsheets set to European locales)"),
               ) -> FileResponse:
    # Written to a temporary file, not memory: a 500,000-row export is large.
    fd, out = tempfile.mkstemp(prefix="imagier-export-", suffix=".csv")
    os.close(fd)
    try:
        project.export_csv(out, json_param("filter", filter), json_param("sort", sort), key=key,
                           properties=names_param(properties), separator=separator)
    except BaseException:
        os.unlink(out)
        raise
    return FileResponse(out, media_type="text/csv; charset=utf-8", filename=f"{project.path.stem}.csv",
                        background=BackgroundTask(os.unlink, out))


class CsvText(Body):
    text: str
    dry_run: bool = False
    skip_unmatched: bool = False
    skip_invalid: bool = False


@router.post("/import-csv", summary="Import values from a CSV: the request body (text/csv), or JSON {\"text\": ...}",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}},
                 "application/json": {"schema": CsvText.model_json_schema()}}}})
async def import_csv(project: ProjectDep, request: Request,
                     dry_run: bool = Query(False, description="only report what would be imported"),
                     skip_unmatched: bool = Query(False, description="leave out rows that match no image"),
                     skip_invalid: bool = Query(False, description="leave out cells that do not fit their type"),
                     encoding: str | None = Query(None, description="the file's encoding when not UTF-8 "
                                                                    "(say cp1252 or latin-1)"),
                     ) -> dict:
    options = {"dry_run": dry_run, "skip_unmatched": skip_unmatched, "skip_invalid": skip_invalid}
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        try:
            body = CsvText.model_validate_json(await request.body())
        except ValidationError as e:
            raise RequestValidationError(e.errors(include_url=False)) from None
        if not body.text.strip():
            raise InvalidInput("the CSV is empty")
        if encoding:
            raise InvalidInput("encoding= is for a CSV sent as it is (a text/csv body); the text of a JSON body "
                               "is already decoded", parameter="encoding")
        # A flag set in either place counts, so a dry run asked for anywhere never writes.
        options = {flag: value or getattr(body, flag) for flag, value in options.items()}
        # A file object, never a str: import_csv would read a one-line string as a path on this machine.
        return await run_in_threadpool(project.import_csv, io.StringIO(body.text), **options)
    # The upload goes to a temporary file as it arrives, never whole into memory: a CSV can be large.
    with tempfile.TemporaryFile(prefix="imagier-import-", suffix=".csv") as upload:
        async for chunk in request.stream():
            upload.write(chunk)
        if not upload.tell():
            raise InvalidInput("the CSV is empty")
        upload.seek(0)
        return await run_in_threadpool(project.import_csv, upload, encoding=encoding, **options)
