"""`imagier embed` and `imagier vectors`: computing vectors and choosing the default vector type."""

from __future__ import annotations

import click

from .base import emit, command, fetch_if_absent, main, terminal_progress
from ..project import Project


def embed_summary(report: dict) -> str:
    """The readable report of an embedding (of `imagier embed`, and of `imagier import`'s second phase)."""
    return "\n".join([f"embedded {report['embedded']} images with {report['model']}; "
                      f"{report['total']} have its vectors"]
                     + [f"  failed: content {f['content']}: {f['error']}" for f in report["failed"]])


@command(main)
@click.option("--model", help="the embedder (default: the project's default vector type, else efficientnet-lite0); "
                              "see `imagier vectors`")
@click.option("--model-path", type=click.Path(file_okay=False),
              help="the folder of the model's files (CLIP's ONNX export), instead of fetching them from the hub")
@click.option("--int8", is_flag=True, help="the int8 version of the model (faster, slightly different vectors; "
                                          "a vector type of its own, such as clip-vit-b32-int8)")
def embed(project: Project, as_json: bool, model, model_path, int8):
    """Compute the vectors of every image of PROJECT that has none yet for the model.

    Interrupted runs resume where they stopped; images imported later are embedded by the next run.
    EfficientNet-Lite0 also writes the machine-made `ImageNet guess` property (see `imagier labels`)."""
    if int8:
        model = f"{model or project.default_model()}-int8"
    fetch_if_absent(model or project.default_model(), model_path, as_json)
    project.check_model(model, model_path)
    with terminal_progress(as_json, "embedding") as progress:
        report = project.embed(model, model_path=model_path, progress=progress)
    emit(as_json, report, embed_summary(report))


@command(main)
@click.option("--default", "default", help="make this vector type the default one")
@click.option("--delete", "delete", help="delete this vector type and its vectors (`imagier embed` computes them again)")
def vectors(project: Project, as_json: bool, default, delete):
    """List the vector types of PROJECT (and the models available), choose the default one, or delete one."""
    if default and delete:
        raise click.UsageError("give --default or --delete, not both")
    if default:
        project.set_default_vector_type(default)
    if delete:
        project.delete_vector_type(delete)
    types = project.vector_types()
    data = {"types": types, "models": project.models()}
    lines = [f"{'*' if t['default'] else ' '} {t['name']}\t{t['dim']} {t['dtype']}\t{t['metric']}\t{t['count']} images"
             for t in types] or ["no vectors yet: run `imagier embed`"]
    lines += [f"models: {', '.join(data['models'])}"] + ([f"deleted vector type {delete}"] if delete else [])
    emit(as_json, data, "\n".join(lines))
