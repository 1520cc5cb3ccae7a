"""`imagier ocr`: reading the text in the images."""

from __future__ import annotations

import click

from .base import command, emit, main, terminal_progress
from ..project import Project


def _summary(report: dict) -> str:
    return "\n".join([f"read {report['read']} images ({report['with_text']} with text) with {report['engine']}; "
                      f"{report['total']} have been read"]
                     + [f"  skipped: {f['path']}: {f['error']}" for f in report["failed"]])


def _words(found: dict) -> str:
    if found["read"] is None:
        return f"image {found['id']} has not been read yet: run `imagier ocr PROJECT`"
    return "\n".join([found["text"] or "(no text found)"]
                     + [f"{'*' if w.get('match') else ' '} {w['text']}\t{w['confidence']:.2f}\tx={w['x']:.3f} "
                        f"y={w['y']:.3f} w={w['w']:.3f} h={w['h']:.3f}" for w in found["words"]])


@command(main)
@click.option("--workers", type=int, help="processes reading images (default: one per core)")
@click.option("--show", "show", metavar="PATH_OR_ID", help="print the words read in this image, with their boxes")
@click.option("--search", metavar="WORDS", help="with --show: mark (*) the words this text search matches")
def ocr(project: Project, as_json: bool, workers, show, search):
    """Read the text in every image of PROJECT not read yet (offline OCR) into the `text in image` property.

    Reads the originals, not the thumbnails; an interrupted run resumes where it stopped. A missing or
    corrupt image is reported by path and skipped."""
    if search is not None and show is None:
        raise click.UsageError("--search marks the words of one image: give that image with --show")
    if show is not None:
        found = project.image_text(show, search)
        emit(as_json, found, _words(found))
        return
    with terminal_progress(as_json, "reading text") as progress:
        report = project.read_text(workers=workers, progress=progress)
    emit(as_json, report, _summary(report))
