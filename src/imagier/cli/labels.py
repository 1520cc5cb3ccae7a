"""`imagier labels`: the ImageNet guesses EfficientNet-Lite0 writes, turned off for good or on again."""

from __future__ import annotations

from ..project import Project
from .base import emit, command, main


@main.group()
def labels():
    """The automatic `ImageNet guess` property: off deletes it and stops later embeddings writing it."""


@command(labels, "off")
def labels_off(project: Project, as_json: bool):
    """Delete the ImageNet guesses of PROJECT for good (until `imagier labels on`)."""
    report = project.delete_machine_labels()
    done = "deleted the ImageNet guesses" if report["deleted"] else "the project had no ImageNet guesses"
    emit(as_json, report, f"{done}; later embeddings write none (`imagier labels on` to have them again)")


@command(labels, "on")
def labels_on(project: Project, as_json: bool):
    """Have ImageNet guesses again: computed at once from the stored vectors, and by later embeddings."""
    report = project.enable_machine_labels()
    emit(as_json, report, f"ImageNet guesses on; computed for {report['images']} images")


@command(labels, "status")
def labels_status(project: Project, as_json: bool):
    """Whether PROJECT has ImageNet guesses written by its embeddings."""
    enabled = project.machine_labels_enabled()
    emit(as_json, {"enabled": enabled}, "ImageNet guesses: " + ("on" if enabled else "off"))
