"""The OCR job: read the text in every image not read yet, in worker processes, batch by batch.

Each image is read from its original (the file on disk, or the bytes stored in the project), not from the
thumbnail, which is far too small for captions. Each batch is committed with its text, so a cancelled or
killed run keeps what it read and the next run reads only the rest. The text becomes the machine-made
per-content property `text in image` (outside the undo log, like the model's guesses: a new reading
recomputes it); the words, with their confidences and boxes, are kept in `ocr_words` (store/ocr.py).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable

from ..checks import whole_number
from ..errors import Conflict, NotFound
from ..ingest.importer import exit_with, process_context
from ..operations.files import Files
from ..operations.oplog import OpLog
from ..operations.vectors import VectorStore
from ..store import ocr as ocr_sql
from ..store import textindex
from ..store.compiler import search_query
from ..store.db import Database
from . import engine as ocr_engine
from .engine import TextReader, UnreadableImage, Word, engine_name, open_upright

TEXT_PROPERTY = "text in image"
# Images read between two commits (and two looks at `cancel`): a few seconds of work.
BATCH = 8

# The engine of this process (a worker's, or the caller's when reading without workers), made on first use.
_reader: TextReader | None = None


class TextReading:
    """The text in the images: read from the originals of `files`, its property written through `vectors`
    (the machine-made properties' writer), the job logged in `oplog`."""

    def __init__(self, db: Database, oplog: OpLog, vectors: VectorStore, files: Files):
        self.db = db
        self.oplog = oplog
        self.vectors = vectors
        self.files = files

    def read_text(self, *, workers: int | None = None, progress: Callable[[dict], None] | None = None,
                  cancel: threading.Event | None = None) -> dict:
        """Read the text in every image not read yet, from its original, in `workers` processes (default:
        one per core; 1 reads in this process). Writes the machine-made `text in image` property (lines of
        words, outside the undo log) and the words with their boxes (`image_text`). Commits every few
        images, so an interrupted run resumes where it stopped; `cancel` stops it between batches. An image
        whose original is missing or cannot be decoded is reported by path and skipped (read by a later
        run once it is back). Returns {"engine", "read": images read now, "with_text": of which with
        text, "total": images read so far, "failed": [{"content", "path", "error"}]}; progress gets
        {"done", "total"}."""
        workers = (os.cpu_count() or 1) if workers is None else workers
        whole_number("workers", workers, minimum=1)
        self.vectors.write_machine_text(TEXT_PROPERTY, {})  # a property of the user's in the way: refused first
        todo = ocr_sql.unread_contents(self.db.reader)
        total = self.files.content_count()
        done, read, with_text, failed = total - len(todo), 0, 0, []

        def report() -> None:
            if progress is not None:
                progress({"done": done, "total": total})

        report()
        batches = iter([todo[start:start + BATCH] for start in range(0, len(todo), BATCH)])
        with _Workers(workers) as pool:
            # The workers read the next batch while this process writes the last one: they never wait for a commit.
            following = next(batches, None)
            reading = self._start(pool, following) if following and not _cancelled(cancel) else None
            while reading is not None:
                batch, outcomes, missing = reading
                following = next(batches, None)
                reading = self._start(pool, following) if following and not _cancelled(cancel) else None
                readings = {}
                for content_id, path, outcome in outcomes():
                    if isinstance(outcome, str):
                        failed.append({"content": content_id, "path": path, "error": outcome})
                    else:
                        readings[content_id] = outcome
                self._write(readings)
                failed += missing
                read += len(readings)
                with_text += sum(1 for words in readings.values() if words)
                done += len(batch)
                report()
                if _cancelled(cancel):
                    break  # a batch started before the cancel is dropped unread, and read by the next run
        if read:
            self.oplog.log("ocr", f"read the text in {read} images", {"read": read, "failed": len(failed)})
        return {"engine": engine_name(), "read": read, "with_text": with_text,
                "total": ocr_sql.read_count(self.db.reader), "failed": failed}

    def image_text(self, file_id: int, search: str | None = None) -> dict:
        """The text read in an image: {"id", "read": when (None before any reading), "engine", "text": its
        lines, "words": [{"text", "confidence", "line", "x", "y", "w", "h"}]}, the box as fractions of the
        upright picture's width and height. With `search` (a text search's words, as the `search` filter
        takes them), each word also says whether it is one the search matches ("match"), read as the
        full-text index reads the text: case and accents folded, phrases, prefixes, OR, NOT."""
        image = self.files.existing_files([file_id])[0]
        found = ocr_sql.reading(self.db.reader, image["content_id"]) or {"engine": None, "read": None, "words": []}
        text, places = _laid_out([(w["line"], w["text"]) for w in found["words"]])
        if search is not None:
            spans = textindex.matched_spans(self.db.reader, search_query(search), text)
            for word, (start, end) in zip(found["words"], places):
                word["match"] = any(start < span_end and span_start < end for span_start, span_end in spans)
        return {"id": image["id"], **found, "text": text}

    def _start(self, pool: _Workers, batch: list[int]) -> tuple[list[int], Callable[[], list[tuple]], list[dict]]:
        """Start reading a batch of contents: (the batch, a call that waits for [(content id, a path of it,
        its words or why they could not be read)], the contents whose original is not on this machine)."""
        missing = []
        sources, paths = self._originals(batch, missing)
        outcomes = pool.start(list(sources.values()))
        return batch, lambda: list(zip(sources, [paths[c] for c in sources], outcomes())), missing

    def _originals(self, content_ids: list[int], failed: list[dict]) -> tuple[dict, dict]:
        """({content id: (bytes, path)} of the originals found, {content id: a path of it}); the contents
        whose original is not on this machine go to `failed`."""
        first_file = {c: ids[0] for c, ids in self.files.file_ids_of_contents(content_ids).items() if ids}
        images = {f["content_id"]: f for f in self.files.files(list(first_file.values()))}
        sources, paths = {}, {}
        for content_id in content_ids:
            image = images[content_id]
            paths[content_id] = image["path"]
            try:
                data, path, _ = self.files.original(image["hash"])
            except (NotFound, Conflict) as e:
                failed.append({"content": content_id, "path": image["path"], "error": e.message})
                continue
            sources[content_id] = (data, str(path) if path is not None else None)
        return sources, paths

    def _write(self, readings: dict[int, list[Word]]) -> None:
        """The words and the text of a batch, in one transaction."""
        name = engine_name()
        with self.db.write() as conn:
            for content_id, words in readings.items():
                ocr_sql.save_reading(conn, content_id, name,
                                     [(w.line, w.text, w.confidence, w.x, w.y, w.w, w.h) for w in words])
            self.vectors.write_machine_text(TEXT_PROPERTY, {c: _text([(w.line, w.text) for w in words])
                                                                 for c, words in readings.items()})


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _text(words: list[tuple[int, str]]) -> str:
    """(line, word) pairs as text: a line of the picture a line, its words separated by spaces."""
    return _laid_out(words)[0]


def _laid_out(words: list[tuple[int, str]]) -> tuple[str, list[tuple[int, int]]]:
    """(line, word) pairs as text, and where each word lies in it: its (start, end) characters."""
    lines: dict[int, list[int]] = {}
    for position, (line, _) in enumerate(words):
        lines.setdefault(line, []).append(position)
    text, places = "", [(0, 0)] * len(words)
    for n_line, positions in enumerate(lines.values()):
        text += "\n" if n_line else ""
        for n_word, position in enumerate(positions):
            text += " " if n_word else ""
            places[position] = (len(text), len(text) + len(words[position][1]))
            text += words[position][1]
    return text, places


class _Workers:
    """The processes that read images, or this process alone (one worker)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def start(self, sources: list[tuple]) -> Callable[[], list[list[Word] | str]]:
        """Start reading each source (bytes, path); the call returned waits for their words in order, or why
        each could not be read. Alone (one worker), the reading happens in that call."""
        if self.workers == 1:
            return lambda: [_read_one(source) for source in sources]
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=process_context(ocr_engine.__name__),
                                            initializer=exit_with, initargs=(os.getpid(),))
        pool, futures = self.pool, [self.pool.submit(_read_one, source) for source in sources]

        def outcomes() -> list[list[Word] | str]:
            try:
                return [future.result() for future in futures]
            except BrokenProcessPool:
                # A worker died (the kernel out of memory, a crash in a decoder): read these one by one here,
                # so the image at fault is named, and start new workers for the next batch.
                if self.pool is pool:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self.pool = None
                return [_read_one(source) for source in sources]
        return outcomes


def _read_one(source: tuple[bytes | None, str | None]) -> list[Word] | str:
    """The words of one original, or why it cannot be read (a reason, not an exception, so that one bad file
    never looks like a broken pool)."""
    global _reader
    data, path = source
    try:
        image = open_upright(data, Path(path) if path is not None else None)
    except UnreadableImage as e:
        return str(e)
    if _reader is None:
        _reader = TextReader(threads=1)
    return _reader.read(image)
