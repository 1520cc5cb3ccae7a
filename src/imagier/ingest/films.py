"""Reading the films of an import into frames, in worker processes, for the importer to write as images.

A film is read in pieces that workers decode side by side (video.py): the features of every frame, a
minute of film per piece, when shots are detected; then the frames at the sampled times (every N seconds,
and the middle frame of each shot), a few dozen per piece, each piece seeking to the keyframe before it.
"""

from __future__ import annotations

import bisect
import math
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..store.films import KnownFilm
from .decode import DecodeError
from .video import TRUNCATED_AFTER, Film, Frame, detect_shots, features, frames_at, probe

SEGMENT_SECONDS = 60.0  # of film per piece of shot detection
FRAMES_PER_PIECE = 24


@dataclass(frozen=True)
class FilmFrame:
    """A frame read from a film, with the shot it is in."""

    frame: Frame
    shot: int | None  # 1, 2, ...; None when shots were not detected
    shot_start: float | None
    shot_end: float | None


@dataclass(frozen=True)
class FilmRead:
    """A film read: its frames, and the number of its shots (None when not detected). `unchanged`: the film
    has the bytes and sampling of its last import, so only its modification time is new."""

    film: Film
    frames: list[FilmFrame]
    shots: int | None
    unchanged: bool = False


@dataclass(frozen=True)
class _Failed:
    reason: str


class FilmReader:
    """Reads films in `workers` processes (1: in this one), until `cancel` is set."""

    def __init__(self, workers: int, new_pool: Callable[[ProcessPoolExecutor | None, int], ProcessPoolExecutor],
                 cancel: threading.Event | None):
        self.workers, self.new_pool, self.cancel = workers, new_pool, cancel
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> FilmReader:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def read(self, path: str, sampling: dict, known: KnownFilm | None,
             progress: Callable[[float, float], None]) -> FilmRead | str | None:
        """The film at `path` read into frames; a string saying why it cannot be; None when cancelled."""
        film = next(self._map(probe, [(path,)]), None)
        if not isinstance(film, Film):
            return film.reason if isinstance(film, _Failed) else None
        if known is not None and known.hash == film.hash and known.sampling == sampling:
            return FilmRead(film, [], None, unchanged=True)
        shots = times = None
        if sampling["shots"]:
            found = self._features(film, progress)
            if not isinstance(found, tuple):
                return found
            times, histograms = found
            shots = detect_shots(times, histograms, film.fps)
        wanted = _wanted_times(film, sampling["every"], shots, times)
        frames: list[Frame] = []
        pieces = [(path, wanted[i:i + FRAMES_PER_PIECE], film.mtime_ns) for i in range(0, len(wanted), FRAMES_PER_PIECE)]
        for piece in self._map(frames_at, pieces):
            if not isinstance(piece, list):
                return piece.reason if isinstance(piece, _Failed) else None
            frames.extend(piece)
            progress(frames[-1].time if frames else 0.0, film.duration)
        if self._cancelled():  # the pieces stopped coming: the film is read again whole on resuming
            return None
        unique = list({frame.path: frame for frame in frames}.values())  # two times may fall on one frame
        return FilmRead(film, [_in_shot(frame, shots) for frame in unique], len(shots) if shots is not None else None)

    def _features(self, film: Film, progress) -> tuple[np.ndarray, np.ndarray] | str | None:
        count = max(1, math.ceil(film.duration / SEGMENT_SECONDS))
        bounds = [i * film.duration / count for i in range(count)] + [math.inf]
        times, histograms = [], []
        for index, part in enumerate(self._map(features, [(film.path, bounds[i], bounds[i + 1]) for i in range(count)])):
            if not isinstance(part, tuple):
                return part.reason if isinstance(part, _Failed) else None
            times.append(part[0])
            histograms.append(part[1])
            progress(min(bounds[index + 1], film.duration), film.duration)
        if self._cancelled():
            return None
        times = np.concatenate(times)
        if not len(times) or times[-1] < film.duration - TRUNCATED_AFTER:
            end = float(times[-1]) if len(times) else 0.0
            return f"truncated film: its frames stop at {end:.3f} s of the {film.duration:.3f} s its header gives"
        return times, np.concatenate(histograms)

    def _map(self, task, arguments: list[tuple]) -> Iterator:
        """The results of `task` over the arguments, in order, from the workers; a _Failed for a task that
        failed, after which nothing more; nothing more once cancelled."""
        if self.workers <= 1 or len(arguments) == 1 and task is probe:
            for args in arguments:
                if self._cancelled():
                    return
                outcome = _attempt(task, *args)
                yield outcome
                if isinstance(outcome, _Failed):
                    return
            return
        if self.pool is None:
            self.pool = self.new_pool(None, self.workers)
        futures: list[Future] = [self.pool.submit(_attempt, task, *args) for args in arguments]
        try:
            for future in futures:
                if self._cancelled():
                    return
                outcome = future.result()
                yield outcome
                if isinstance(outcome, _Failed):
                    return
        except BrokenProcessPool:
            self.pool = self.new_pool(self.pool, self.workers)
            yield _Failed("the video decoder crashed on this film")
        finally:
            for future in futures:
                future.cancel()

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


def _attempt(task, *args):
    """Run one task, returning why it failed rather than raising (as the image import's workers do)."""
    try:
        return task(*args)
    except DecodeError as e:
        return _Failed(str(e))
    except Exception as e:  # noqa: BLE001 - any failure of one film is reported for that film
        return _Failed(f"unexpected error while reading the film: {type(e).__name__}: {e}")


def _wanted_times(film: Film, every: float, shots: list[tuple[float, float]] | None,
                  times: np.ndarray | None) -> list[float]:
    """The times to take frames at, ascending: every `every` seconds, and the middle frame of each shot."""
    wanted = [i * every for i in range(math.ceil(film.duration / every))] if every > 0 else []
    if shots is not None and times is not None and len(times):
        # The frame times are known: snap each time to its frame, and take each shot's middle frame.
        wanted = [float(times[min(len(times) - 1, np.searchsorted(times, t - 0.5 / (film.fps or 25)))])
                  for t in wanted]
        for start, end in shots:
            first, last = np.searchsorted(times, [start, end])
            wanted.append(float(times[(first + max(first, last - 1)) // 2]))
    return sorted(set(wanted))


def _in_shot(frame: Frame, shots: list[tuple[float, float]] | None) -> FilmFrame:
    if not shots:
        return FilmFrame(frame, None, None, None)
    index = max(0, bisect.bisect_right([start for start, _ in shots], frame.time + 1e-6) - 1)
    return FilmFrame(frame, index + 1, shots[index][0], shots[index][1])
