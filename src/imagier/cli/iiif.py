"""`imagier import-iiif`: the images of IIIF manifests and collections."""

from __future__ import annotations

import click

from ..ingest.iiif_import import DEFAULT_CONCURRENCY, DEFAULT_SIZE, MAX_CONCURRENCY
from ..project import Project
from .base import command, emit, fetch_if_absent, main, terminal_progress


def _summary(project: Project, report: dict) -> str:
    lines = [f"added {report['added']}, skipped {report['skipped']}, failed {len(report['failed'])} from "
             f"{report['manifests']} manifests; {report['total']} files in {project.path.name}"]
    lines += [f"  failed: {f.get('canvas') or f['manifest']}: {f['error']}" for f in report["failed"]]
    if "embedding" in report:
        from .embedding import embed_summary
        lines.append(embed_summary(report["embedding"]))
    return "\n".join(lines)


@command(main, "import-iiif", create=True)
@click.argument("sources", nargs=-1, required=True, metavar="MANIFEST_URL_OR_FILE...")
@click.option("--size", default=str(DEFAULT_SIZE), show_default=True,
              help="pixels on each image's long side, or `max` for the largest the server gives (the full scan)")
@click.option("--language", help="the language of labels and metadata where a manifest offers several "
                                 "(default: the environment's, else en)")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=DEFAULT_CONCURRENCY,
              show_default=True, help="requests at a time")
@click.option("--no-embed", is_flag=True, help="do not compute the images' vectors after importing")
@click.option("--model", help="the embedder to run after importing (default: the project's default vector type)")
def import_iiif(project: Project, as_json: bool, sources, size, language, concurrency, no_embed, model):
    """Import the images of IIIF manifests and collections (Presentation API 2 or 3) into PROJECT.

    Each canvas's image is fetched through the Image API at --size pixels on its long side, a few requests at
    a time, retried with back-off on 429 and 5xx answers; its label, the manifest's metadata, attribution and
    licence become properties. Canvases already imported are skipped, so running the command again after an
    interruption fetches only what is missing; a manifest or image that fails is listed with its reason."""
    project.check_iiif(list(sources), size=size, language=language, concurrency=concurrency, embed=not no_embed,
                       model=model)
    if not no_embed:
        fetch_if_absent(model or project.default_model(), None, as_json)
    with terminal_progress(as_json, "importing from IIIF") as progress:
        report = project.import_iiif(list(sources), size=size, language=language, concurrency=concurrency,
                                     embed=not no_embed, model=model, progress=progress)
    emit(as_json, report, _summary(project, report))
