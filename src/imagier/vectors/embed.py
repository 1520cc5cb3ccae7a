"""The embedding job: compute the vectors of every content that lacks them, batch by batch.

Every model input is made from the thumbnail the import stored (one decode of each original, ever).
Each batch is committed with its guesses, so a run that is killed keeps what it did and the next run
(of the same model) starts where it stopped; images imported later are embedded the same way.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..checks import whole_number
from ..errors import InvalidInput, NotFound
from ..ingest.decode import DecodeError, decode
from ..operations.files import Files
from ..operations.oplog import OpLog
from ..operations.settings import Settings
from ..operations.vectors import VectorStore
from ..store.db import Database
from .base import Embedder
from .registry import get_embedder, names

# The machine-made property of EfficientNet-Lite0's ImageNet classes: named as what they are, guesses.
GUESS_PROPERTY = "ImageNet guess"
# False once the user deleted the guesses for good: embeddings write none until turned on again.
GUESSES_SETTING = "imagenet_guesses"
# The threshold the stored guesses were written with: guesses an older imagier wrote under another one
# (the `labels` of 0.1) are computed again by the next embedding.
THRESHOLD_SETTING = "imagenet_guess_threshold"
GUESS_BATCH = 4096
# The offline model, always available (its weights ship in a dependency); imported only when used.
DEFAULT_MODEL = "efficientnet-lite0"


class Embedding:
    """The embedders a project can run and the embedding job: vectors written to `vectors`, thumbnails read
    from `files`, the ImageNet guesses' switch kept in `settings`, the job logged in `oplog`."""

    def __init__(self, db: Database, oplog: OpLog, vectors: VectorStore, files: Files, settings: Settings):
        self.db = db
        self.oplog = oplog
        self.vectors = vectors
        self.files = files
        self.settings = settings

    def models(self) -> list[str]:
        """The embedders this imagier can run; each makes a vector type of its name."""
        return names()

    def model_offer(self, adding: int = 0) -> dict:
        """The model this project's images are embedded with, and the CLIP model it could use instead:
        {"uses": the default vector type's model (None before any embedding), "better": None when the project
        uses CLIP already, else {"name", "present", "images": the images it would embed (those without its
        vectors, plus `adding` about to be imported), "seconds" and "estimate" ("about 3 minutes for 1,520
        images"): the time at this machine's measured speed, None while the model is absent, "get": the
        command that installs it}}. The speed is measured once, which takes a few seconds."""
        from . import clip, models
        try:
            uses = self.vectors.vector_type()["model"]
        except NotFound:
            uses = None
        if uses == clip.NAME:
            return {"uses": uses, "better": None}
        try:
            found = models.locate(clip.SPEC)
        except NotFound:  # a wrong folder in $IMAGIER_CLIP_PATH: absent, and `imagier models` says why
            found = None
        try:
            images = len(self.vectors.contents_without_vectors(clip.NAME))
        except NotFound:  # no CLIP vector type yet: every image
            images = self.files.content_count()
        images += max(0, int(adding))
        better = {"name": clip.NAME, "present": found is not None, "images": images, "seconds": None,
                  "estimate": None, "get": f"imagier models get {clip.NAME}"}
        if found is not None:
            better["seconds"] = round(clip.seconds_per_image(found[0]) * images, 1)
            better["estimate"] = f"{_duration(better['seconds'])} for {images:,} images"
        return {"uses": uses, "better": better}

    def check_model(self, model: str | None = None, model_path: str | None = None) -> str:
        """The model `embed(model, model_path=...)` would run (the default one when None); InvalidInput when
        unknown, NotFound when its files are missing."""
        model = model or self.default_model()
        get_embedder(model, model_path)
        return model

    def default_model(self) -> str:
        """The model `embed` uses when none is named: the project's default vector type when an embedder
        makes it, else the offline EfficientNet-Lite0."""
        try:
            name = self.vectors.vector_type()["name"]
        except NotFound:
            return DEFAULT_MODEL
        return name if name.lower() in names() else DEFAULT_MODEL

    def embed(self, model: str | Embedder | None = None, *, model_path: str | None = None, batch_size: int = 32,
              progress: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> dict:
        """Compute the vectors of `model` (the default one when None) for every image that has none yet.
        `model_path`: the folder of a downloadable model's files (CLIP), instead of the hub's copy.

        Creates the vector type when missing (the first one becomes the default). Commits every batch, so
        an interrupted run resumes where it stopped; `cancel` stops it between batches. Models with labels
        (EfficientNet-Lite0: ImageNet classes) also write the machine-made `ImageNet guess` property, outside
        the undo log, unless the project turned guesses off (`delete_machine_labels`).
        Returns {"model", "embedded": vectors computed now, "total": images with a vector of the type,
        "failed": [{"content", "error"}]}; progress gets {"done", "total", "model"}.
        """
        whole_number("batch_size", batch_size)
        # A plugin's embed action passes its Embedder itself rather than a registered name.
        embedder = model if isinstance(model, Embedder) else get_embedder(model or self.default_model(), model_path)
        guessing = embedder.makes_labels and self.machine_labels_enabled()
        if guessing:  # a property of the user's in the way is refused before anything is written
            self._write_all_guesses(stale_only=True)
        self.vectors.create_vector_type(embedder.name, embedder.model, embedder.dim, params=embedder.params,
                                dtype=embedder.dtype, metric=embedder.metric)
        todo = self.vectors.contents_without_vectors(embedder.name)
        total = self.files.content_count()
        done, embedded, failed = total - len(todo), 0, []

        def report() -> None:
            if progress is not None:
                progress({"done": done, "total": total, "model": embedder.name})

        report()
        for start in range(0, len(todo), batch_size):
            if cancel is not None and cancel.is_set():
                break
            batch = todo[start:start + batch_size]
            thumbnails = self.files.thumbnails_of(batch)
            ids, images = [], []
            for content_id in batch:
                try:
                    images.append(_decode(thumbnails[content_id]))
                    ids.append(content_id)
                except KeyError:
                    failed.append({"content": content_id, "error": "it has no thumbnail"})
                except (OSError, ValueError, Image.DecompressionBombError) as e:
                    failed.append({"content": content_id, "error": f"its thumbnail cannot be decoded: {e}"})
            if images:
                rows, labels = embedder.embed_and_label(images) if guessing else (embedder.embed(images), None)
                with self.db.write():  # the vectors and their guesses in one transaction
                    self.vectors.put_vectors(embedder.name, ids, rows)
                    if labels is not None:
                        self.vectors.write_machine_tags(GUESS_PROPERTY, dict(zip(ids, labels)))
            embedded += len(ids)
            done += len(batch)
            report()
        if embedded:
            self.oplog.log("embed", f"embed {embedded} images with {embedder.name}",
                           {"model": embedder.name, "embedded": embedded, "failed": len(failed)})
        return {"model": embedder.name, "embedded": embedded, "total": total - len(todo) + embedded,
                "failed": failed}

    # ---- the ImageNet guesses ----------------------------------------------------------------------

    def machine_labels_enabled(self) -> bool:
        """Whether embedding with EfficientNet-Lite0 writes the `ImageNet guess` property (until
        `delete_machine_labels`)."""
        return bool(self.settings.setting(GUESSES_SETTING, True))

    def delete_machine_labels(self) -> dict:
        """Delete the `ImageNet guess` property for good: its values go (outside the undo log, like their
        writing) and later embeddings write none until `enable_machine_labels`. Returns {"enabled": False,
        "deleted": whether the property was there}."""
        with self.db.write():
            deleted = self.vectors.delete_machine_property(GUESS_PROPERTY)
            self.settings.set_setting(GUESSES_SETTING, False)
        self.oplog.log("labels_off", f"delete the {GUESS_PROPERTY} property and turn guesses off",
                       {"deleted": deleted})
        return {"enabled": False, "deleted": deleted}

    def enable_machine_labels(self) -> dict:
        """Turn the ImageNet guesses back on: written at once for every image that has EfficientNet-Lite0
        vectors (from the stored vectors), and by later embeddings. Returns {"enabled": True, "images":
        contents whose guesses were computed}."""
        contents = self._write_all_guesses()
        self.settings.set_setting(GUESSES_SETTING, True)
        self.oplog.log("labels_on", f"turn guesses on ({GUESS_PROPERTY} of {len(contents)} images)",
                       {"images": len(contents)})
        return {"enabled": True, "images": len(contents)}

    def _write_all_guesses(self, stale_only: bool = False) -> list[int]:
        """Write the guesses of every content with EfficientNet-Lite0 vectors from the stored vectors (only
        when written under another threshold, with `stale_only`); the contents written."""
        from . import efficientnet
        self.vectors.write_machine_tags(GUESS_PROPERTY, {})  # a property of the user's in the way: refused first
        if stale_only and self.settings.setting(THRESHOLD_SETTING) == efficientnet.GUESS_MIN_PROBABILITY:
            return []
        try:
            contents = self.vectors.contents_with_vectors(efficientnet.NAME)
        except NotFound:  # not embedded yet: the first embedding writes them
            contents = []
        for start in range(0, len(contents), GUESS_BATCH):
            batch = contents[start:start + GUESS_BATCH]
            found = efficientnet.guesses(efficientnet.stored_scores(self.vectors.vectors_of(efficientnet.NAME, batch)))
            self.vectors.write_machine_tags(GUESS_PROPERTY, {c: [name for name, _ in g] for c, g in zip(batch, found)})
        # Recorded last: an interrupted rewrite is done again by the next embedding.
        with self.db.write():
            self.vectors.prune_machine_tags(GUESS_PROPERTY)
            self.settings.set_setting(THRESHOLD_SETTING, efficientnet.GUESS_MIN_PROBABILITY)
        return contents

    def guesses(self, ids) -> dict[int, list[dict]]:
        """The ImageNet guesses of these images with their probabilities, computed from the stored vectors
        as embedding computed them: {file id: [{"label", "probability"}]} (an empty list for an image with
        no confident guess or no EfficientNet-Lite0 vector; none at all while guesses are turned off)."""
        from . import efficientnet
        files = self.files.files(ids)
        found: dict[int, list[dict]] = {f["id"]: [] for f in files}
        if not files or not self.machine_labels_enabled():
            return found
        try:
            contents = self.vectors.contents_with_vectors(efficientnet.NAME, [f["content_id"] for f in files])
        except NotFound:  # no EfficientNet-Lite0 vectors at all
            return found
        scores = efficientnet.stored_scores(self.vectors.vectors_of(efficientnet.NAME, contents))
        by_content = dict(zip(contents, efficientnet.guesses(scores)))
        for f in files:
            found[f["id"]] = [{"label": name, "probability": round(p, 4)}
                              for name, p in by_content.get(f["content_id"], [])]
        return found


def embed_file(path: Path, vector_type: dict) -> np.ndarray:
    """The vector (as the embedder gives it, one row) of an image file that is not in the project, made
    by the vector type's embedder from a thumbnail made as the import makes it."""
    try:
        decoded = decode(str(path))
    except DecodeError as e:
        raise InvalidInput(f"{path}: cannot be used as a query image: {e}", path=str(path)) from None
    with Image.open(io.BytesIO(decoded.thumbnail)) as thumb:
        return np.asarray(get_embedder(vector_type["name"]).embed([thumb.convert("RGB")]))


def _duration(seconds: float) -> str:
    """A time as a researcher plans with it: "less than a minute", "about 25 minutes", "about 3 hours"."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 120:
        return f"about {minutes} minute{'s' if minutes > 1 else ''}"
    return f"about {round(minutes / 60)} hours"


def _decode(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image
