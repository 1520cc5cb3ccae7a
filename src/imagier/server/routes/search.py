"""Text search: the images that best match a text, among those a filter keeps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from . import Body, ProjectDep

router = APIRouter(prefix="/api", tags=["search"])


class SearchRequest(Body):
    text: str = Field(..., description="a few words, such as 'a cat on a sofa'")
    top_k: int = Field(50, ge=1, le=100_000)
    # Typed loosely on purpose: the query engine checks filters and names the part at fault.
    filter: Any = Field(None, description="a filter as for /api/query: rank only the images it matches")
    vector_type: str | None = Field(None, description="the vector type searched (default: a CLIP one, else labels)")
    text_model: str | None = Field(None, description="clip-vit-b32-multilingual: encode the text with the "
                                                     "multilingual encoder (50+ languages) instead of CLIP's own")


@router.post("/search", summary="The images that best match a text, best first: {results: [{id, path, score}], "
                                 "message}; the message says why nothing was found, or which words were not understood")
def search(project: ProjectDep, body: SearchRequest) -> dict:
    return project.search(body.text, top_k=body.top_k, filter=body.filter, vector_type=body.vector_type,
                          text_model=body.text_model).as_dict()
