"""Similarity, clustering (a background job: it can take seconds on a large corpus) and suggestions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field

from . import Body, ProjectDep, RunnerDep

router = APIRouter(prefix="/api", tags=["similarity, clustering, suggestions"])

FILTER = Field(None, description="the view's filter: only its images are considered (null: every image)")
VECTOR_TYPE = Field(None, description="the vector type (default: the project's default)")


class SimilarRequest(Body):
    query: int | str | list[int | str] = Field(..., description="an image id or path, a list of them (a group), "
                                                                "or the path of an image file on the server's machine")
    top_k: int = Field(20, ge=1, le=10_000)
    min_score: float | None = Field(None, ge=0, le=1, description="the lowest calibrated score")
    filter: Any = FILTER
    vector_type: str | None = VECTOR_TYPE


class ClusterRequest(Body):
    filter: Any = FILTER
    ids: list[int] | None = Field(None, description="cluster only these images (a group, or a cluster's members)")
    k: int | None = Field(None, ge=1, description="kmeans: the number of clusters (default: chosen automatically)")
    method: Literal["kmeans", "hdbscan"] = "kmeans"
    min_cluster_size: int | None = Field(None, ge=2)
    vector_type: str | None = VECTOR_TYPE
    save_as: str | None = Field(None, description="save the clusters as tags of this tag property")
    parent: str | None = Field(None, description="a tag of save_as: sub-cluster its images under it")
    text_weight: float = Field(0.0, ge=0, le=1, description="the weight of the words read in the images (OCR) "
                               "against the pictures: 0 pictures only, 1 words only")


class ClusterTree(Body):
    ids: list[int] = Field(..., min_length=1, description="the cluster's images")
    cluster: int = Field(0, ge=0, description="its number: the tag is \"cluster N\" (sub-clusters: \"cluster N.M\")")
    noise: bool = Field(False, description="the images that fit no cluster: the tag is \"unclustered\"")
    clusters: list[ClusterTree] = Field([], description="its sub-clusters, among its images")


class SaveClustersRequest(Body):
    property: str = Field(..., description="the tag property to save them in (created when missing)")
    clusters: list[ClusterTree] = Field(..., min_length=1)
    parent: str | None = Field(None, description="a tag of the property to save the top level under")
    provenance: dict[str, Any] = Field({}, description="how the clusters were made (the clustering jobs' "
                                                       "provenance), kept in the operation log")


class SuggestionsRequest(Body):
    property: str
    value: Any
    top_k: int = Field(20, ge=1, le=10_000)
    filter: Any = FILTER
    vector_type: str | None = VECTOR_TYPE


class SuggestionsDecision(Body):
    property: str
    value: Any
    ids: list[int] = Field(..., min_length=1)


@router.post("/similar", summary="The images most similar to an image, a group or an outside file (inside the "
                                  "allowed roots), best first")
def similar(request: Request, project: ProjectDep, body: SimilarRequest) -> list[dict]:
    # A text of digits is an id, even if the server's working folder has a file of that name. A path that is
    # not one of the project's must lie inside the allowed roots: outside them every path gets the same
    # 403, so the answer never tells whether a file exists there.
    query = int(body.query) if isinstance(body.query, str) and body.query.strip().isdigit() else body.query
    return project.similar(query, top_k=body.top_k, min_score=body.min_score, filter=body.filter,
                           vector_type=body.vector_type,
                           may_read=lambda path: request.app.state.server.roots.check(path, "query"))


@router.get("/calibration", summary="How similarities are distributed among pairs of this project's images")
def calibration(project: ProjectDep, vector_type: str | None = None) -> dict:
    return project.calibration(vector_type)


@router.get("/calibration/explain", summary="What a raw similarity means in this project: its calibrated score, "
                                            "rank and a sentence")
def explain_similarity(project: ProjectDep, similarity: float = Query(..., description="a raw similarity, -1 to 1"),
                       vector_type: str | None = None) -> dict:
    return project.explain_similarity(similarity, vector_type)


@router.post("/cluster", status_code=202,
             summary="Start clustering in the background; the job's result is the clusters and their provenance")
def cluster(runner: RunnerDep, body: ClusterRequest) -> dict:
    # Refused now rather than as a failed job later.
    return {"job": runner.submit("cluster", body.model_dump()).id}


@router.post("/clusters/save", summary="Save clusters already made (sub-clusters included) as tags, as one "
                                       "undoable operation: what the page shows is what is saved")
def save_clusters(project: ProjectDep, body: SaveClustersRequest) -> dict:
    saved = project.save_clusters(body.property, body.model_dump()["clusters"], parent=body.parent,
                                  provenance=body.provenance)

    def tags(level: list[dict]) -> list[str]:
        return [name for c in level for name in (c["tag"], *tags(c["clusters"]))]

    return {"property": body.property, "tags": tags(saved)}


@router.post("/suggestions", summary="Images that probably belong to the group property = value, best first")
def suggestions(project: ProjectDep, body: SuggestionsRequest) -> list[dict]:
    return project.suggestions(body.property, body.value, top_k=body.top_k, filter=body.filter,
                               vector_type=body.vector_type)


@router.post("/suggestions/accept", summary="Give suggested images the group's value (undoable)")
def accept(project: ProjectDep, body: SuggestionsDecision) -> dict:
    return {"accepted": project.accept_suggestions(body.property, body.value, body.ids)}


@router.post("/suggestions/reject", summary="Never suggest these images for this group again")
def reject(project: ProjectDep, body: SuggestionsDecision) -> dict:
    return {"rejected": project.reject_suggestions(body.property, body.value, body.ids)}
