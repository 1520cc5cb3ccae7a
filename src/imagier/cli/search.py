"""`imagier search`: the images that best match a text."""

from __future__ import annotations

import click

from .base import emit, json_option, command, fetch_if_absent, main
from ..project import Project


@command(main)
@click.argument("text")
@click.option("--top", "top_k", type=click.IntRange(1), default=50, show_default=True, help="how many images")
@json_option("filter")
@click.option("--vector-type", help="the vector type to search (default: a CLIP one, else the labels search)")
@click.option("--model-path", type=click.Path(file_okay=False), help="the CLIP model's folder (else "
              "$IMAGIER_CLIP_PATH, else the model hub)")
@click.option("--text-model", help="clip-vit-b32-multilingual: search in 50+ languages (\"une affiche "
              "électorale\") with the multilingual text encoder instead of CLIP's own")
def search(project: Project, as_json: bool, text, top_k, filter, vector_type, model_path, text_model):
    """The images of PROJECT that best match TEXT, best first (among those --filter keeps), and a message when
    nothing is found or words were not understood."""
    fetch_if_absent(text_model, None, as_json)
    found = project.search(text, top_k=top_k, filter=filter, vector_type=vector_type, model_path=model_path,
                           text_model=text_model)
    lines = [f"{f['score']:.3f}\t{f['path']}" for f in found]
    if found.message:
        lines.append(found.message)
    emit(as_json, found.as_dict(("path", "score")), "\n".join(lines) or "no image matches")
