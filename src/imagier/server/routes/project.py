"""The project as a whole: its summary and the undo/redo log."""

from __future__ import annotations

from fastapi import APIRouter, Query

from . import ProjectDep

router = APIRouter(prefix="/api", tags=["project"])


@router.get("/info", summary="Counts of files and contents, the properties, the vector types")
def info(project: ProjectDep) -> dict:
    return project.info()


@router.get("/history", summary="The operation log, newest first")
def history(project: ProjectDep, limit: int = Query(100, ge=1, le=10_000)) -> list[dict]:
    return project.history(limit)


@router.post("/undo", summary="Undo the newest operation")
def undo(project: ProjectDep) -> dict:
    return project.undo()


@router.post("/redo", summary="Redo the operation undone last")
def redo(project: ProjectDep) -> dict:
    return project.redo()
