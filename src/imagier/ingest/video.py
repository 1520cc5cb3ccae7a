"""Reading films with PyAV (FFmpeg's libraries, inside its wheel): what a film is, the frames at given times,
the features of every frame between two times, and the shots those features show.

Every function a worker runs is a top-level function of plain arguments and a plain result, like
decode.py's. A frame's content hash is the SHA-256 of its decoded pixels in the film's own pixel format
(H.264 and VP9 decoding is bit-exact), so decoding the same moment again gives the same hash: that is how
the original of a frame is made again from the film rather than kept (see `frame_png`).
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

import numpy as np

from .decode import THUMBNAIL_QUALITY, THUMBNAIL_SIZE, Decoded, DecodeError
from .scan import is_video_name

FRAME_MARK = "#t="  # a frame's path is its film's path and its time, as a media fragment: film.mp4#t=12.480

# Shot detection, on small frames (a few thousand pixels each). The thresholds were set on the calibration
# half of benchmarks/bench_video.py's generated films and are reported on the other half (RESULTS.md).
CUT_THRESHOLD = 0.012      # layout distance between two consecutive frames that is a cut
GRADUAL_THRESHOLD = 0.30   # histogram and layout distance across a fade's span that is a dissolve
LAYOUT_WEIGHT = 10.0       # a layout distance of 0.1 (10% of the range, block by block) weighs a histogram's 1
GRADUAL_SPAN = 0.6         # seconds each side of a fade's middle that are compared (fades of up to 1.2 s)
_Y_BINS, _C_BINS = 8, 4    # bins of the joint luma x chroma x chroma histogram
_BLOCKS = (6, 8)           # rows and columns of the layout
_HISTOGRAM = _Y_BINS * _C_BINS * _C_BINS
FEATURES = _HISTOGRAM + 3 * _BLOCKS[0] * _BLOCKS[1]
TRUNCATED_AFTER = 1.0      # seconds by which a film's frames may stop short of its header's duration
# How far ahead (seconds) a wanted frame must be for seeking to its keyframe to beat decoding on: a second,
# about the keyframe interval of films made for streaming, below most films'.
SEEK_GAIN = 1.0


def frame_path(film: str, time: float) -> str:
    return f"{film}{FRAME_MARK}{time:.3f}"


def film_of_path(path: str) -> str | None:
    """The film a frame's path comes from; None for a path that is no frame's."""
    film, mark, _ = path.rpartition(FRAME_MARK)
    return film if mark and is_video_name(film) else None


@dataclass(frozen=True)
class Film:
    """What a film is, read from its header and its bytes."""

    path: str
    size: int
    mtime_ns: int
    hash: str  # hex SHA-256 of the file's bytes
    duration: float  # seconds
    fps: float
    width: int
    height: int
    codec: str


@dataclass(frozen=True)
class Frame(Decoded):
    """A frame of a film, as an image of the project: `path` is its frame path, `time` its time in seconds."""

    time: float = 0.0


def probe(path: str) -> Film:
    """The film at `path`, or DecodeError saying why it is none (no video stream, unreadable, truncated)."""
    try:
        stat = os.stat(path)
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as e:
        raise DecodeError(f"cannot read file: {e.strerror or e}") from None
    if stat.st_size == 0:
        raise DecodeError("empty file (0 bytes)")
    with _open(path) as container:
        stream = _video_stream(container)
        duration = _duration(container, stream)
        if not duration > 0:
            raise DecodeError("a film of no length: its header gives no duration and no frame could be read")
        rate = stream.average_rate or stream.guessed_rate
        return Film(path, stat.st_size, stat.st_mtime_ns, digest, duration, float(rate) if rate else 0.0,
                    stream.codec_context.width, stream.codec_context.height, stream.codec_context.name.upper())


def frames_at(path: str, times: list[float], mtime_ns: int) -> list[Frame]:
    """The frame shown at each of these times (ascending): the first frame whose time is at or after it.

    Seeks to the keyframe before a time only when that is nearer than decoding on from where the decoder
    stands, so a sampling denser than the film's keyframes decodes each frame once."""
    found: list[Frame] = []
    with _open(path) as container:
        stream = _video_stream(container)
        frames = None
        current = None
        for wanted in times:
            if frames is None or current is None or wanted - current.time > SEEK_GAIN:
                _seek(container, stream, wanted)
                frames = container.decode(stream)
                current = None
            last = current
            while current is None or current.time < wanted - _half_frame(stream):
                current = next(frames, None)
                if current is None:
                    end = last.time if last is not None else 0.0
                    if wanted - end > TRUNCATED_AFTER:
                        raise DecodeError(f"truncated film: its frames stop at {end:.3f} s, before {wanted:.3f} s")
                    return found  # the last frames a header's duration promises, often a little short of it
                if current.time is None:
                    current = None
                else:
                    last = current
            found.append(_frame(path, current, mtime_ns))
    return found


def frame_png(path: str, time: float) -> tuple[bytes, str]:
    """The frame of the film at `path` at exactly `time`, as PNG bytes, and the hash of its pixels."""
    with _open(path) as container:
        stream = _video_stream(container)
        _seek(container, stream, time)
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= time - _half_frame(stream):
                out = io.BytesIO()
                frame.to_image().save(out, "PNG", compress_level=1)
                return out.getvalue(), _pixels_hash(frame)[0]
    raise DecodeError(f"no frame at {time:.3f} s in {path}")


def features(path: str, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, features) of every frame whose time is in [start, end), what shots are detected from: the
    histogram and layout of a few thousand pixels of each (see `_features_of`)."""
    times, rows = [], []
    with _open(path) as container:
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        if start > 0:
            _seek(container, stream, start)
        for frame in container.decode(stream):
            if frame.time is None or frame.time < start - _half_frame(stream):
                continue
            if frame.time >= end - _half_frame(stream):
                break
            times.append(frame.time)
            rows.append(_features_of(frame))
    return np.array(times, dtype=np.float64), np.array(rows, dtype=np.float32).reshape(len(rows), FEATURES)


def detect_shots(times: np.ndarray, features: np.ndarray, fps: float, *, cut: float = CUT_THRESHOLD,
                 gradual: float = GRADUAL_THRESHOLD) -> list[tuple[float, float]]:
    """The shots, as (start, end) in seconds, from the features of every frame of a film (see `_features_of`).

    A cut is a frame whose layout is far from the one before's (and the farthest of its neighbours): a slow
    pan or zoom moves the layout little from one frame to the next. A dissolve is a frame whose neighbours
    GRADUAL_SPAN seconds before and after differ in both histogram and layout (a pan changes the layout but
    hardly the histogram; a dissolve's pixels, mixed, may jump a bin of the histogram but not of the
    layout), not near a cut; its boundary is the middle of the stretch where their layouts differ most."""
    count = len(times)
    if count == 0:
        return []
    histograms, layouts = features[:, :_HISTOGRAM], features[:, _HISTOGRAM:]
    step = np.zeros(count)
    step[1:] = np.abs(np.diff(layouts, axis=0)).mean(axis=1)
    starts = set(_peaks(step, cut, 2))
    span = max(1, int(round(GRADUAL_SPAN * (fps or 25.0))))
    change, moved = np.zeros(count), np.zeros(count)
    if count > 2 * span:
        change[span:count - span] = 0.5 * np.abs(histograms[2 * span:] - histograms[:-2 * span]).sum(axis=1)
        moved[span:count - span] = np.abs(layouts[2 * span:] - layouts[:-2 * span]).mean(axis=1) * LAYOUT_WEIGHT
    for index in _peaks(np.minimum(change, moved), gradual, span):
        if not any(abs(index - c) <= span for c in starts):
            starts.add(_middle(moved, index, span))
    bounds = sorted(starts | {0})
    frame_time = 1.0 / fps if fps else 0.0
    ends = [float(times[i]) for i in bounds[1:]] + [float(times[-1]) + frame_time]
    return [(float(times[i]), end) for i, end in zip(bounds, ends)]


def _middle(moved: np.ndarray, index: int, span: int) -> int:
    """The middle of the dissolve found at `index`: where the layouts `span` frames before and after differ
    most. The pixels mix linearly, so that distance peaks at the dissolve's middle; the histograms' need
    not (their bins fill unevenly), nor does a stretch around the peak (a pan next to it widens it)."""
    low = max(0, index - span)
    window = np.convolve(moved[low:index + span + 1], np.ones(3) / 3, mode="same")  # the codec's noise
    return low + int(np.argmax(window))


def _peaks(values: np.ndarray, threshold: float, radius: int) -> list[int]:
    """The indexes whose value passes the threshold and is the greatest within `radius` of them (the first
    of equal ones)."""
    found = []
    for index in np.flatnonzero(values > threshold):
        low, high = max(0, index - radius), min(len(values), index + radius + 1)
        if values[index] >= values[low:high].max() and not (found and index - found[-1] <= radius):
            found.append(int(index))
    return found


def _features_of(frame) -> np.ndarray:
    """A frame's features, read from a sparse grid of its pixels: the normalised joint histogram of its luma
    and chroma (what a cut changes, a pan hardly), then its layout, the mean luma and chroma of 6 x 8 blocks
    (what a cut between two pictures of the same colours changes; a dissolve moves it linearly)."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(width=frame.width // 4 * 2 or 2, height=frame.height // 4 * 2 or 2, format="yuv420p")
    luma, u, v = (_plane(plane) for plane in frame.planes[:3])
    # About 64 x 36 samples whatever the size: a stride over the planes, no scaling, no copy of the frame.
    stride = max(1, min(u.shape[0] // 36, u.shape[1] // 64))
    u, v = u[::stride, ::stride], v[::stride, ::stride]
    luma = luma[::2 * stride, ::2 * stride][:u.shape[0], :u.shape[1]]
    u, v = u[:luma.shape[0], :luma.shape[1]], v[:luma.shape[0], :luma.shape[1]]
    index = ((luma >> 5).astype(np.int32) * _C_BINS + (u >> 6)) * _C_BINS + (v >> 6)
    counts = np.bincount(index.ravel(), minlength=_Y_BINS * _C_BINS * _C_BINS) / max(1, index.size)
    return np.concatenate([counts] + [_blocks(plane) for plane in (luma, u, v)])


def _blocks(plane: np.ndarray) -> np.ndarray:
    """The mean of each of _BLOCKS blocks of a plane, from 0 to 1."""
    rows, columns = _BLOCKS
    height, width = plane.shape[0] // rows * rows, plane.shape[1] // columns * columns
    if height == 0 or width == 0:
        return np.full(rows * columns, plane.mean() / 255 if plane.size else 0.0)
    cells = plane[:height, :width].reshape(rows, height // rows, columns, width // columns)
    return (cells.mean(axis=(1, 3)) / 255).ravel()


def _plane(plane) -> np.ndarray:
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, :plane.width]


def _frame(path: str, frame, mtime_ns: int) -> Frame:
    thumb = frame.reformat(*_thumbnail_size(frame.width, frame.height), format="rgb24").to_image()
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    pixels_hash, size = _pixels_hash(frame)
    return Frame(path=frame_path(path, frame.time), size=size, mtime_ns=mtime_ns, hash=pixels_hash,
                 format="FRAME", width=frame.width, height=frame.height, taken=None, orientation=1,
                 thumbnail=out.getvalue(), thumbnail_width=thumb.width, thumbnail_height=thumb.height,
                 time=frame.time)


def _pixels(frame) -> np.ndarray:
    """The decoded pixels, in the film's own pixel format when NumPy can hold it (else as RGB)."""
    try:
        return frame.to_ndarray()
    except ValueError:  # a pixel format PyAV does not convert to an array
        return frame.to_ndarray(format="rgb24")


def _pixels_hash(frame) -> tuple[str, int]:
    """The hash of a frame's pixels (its content hash) and their size in bytes."""
    pixels = np.ascontiguousarray(_pixels(frame))
    digest = hashlib.sha256(f"{frame.format.name} {frame.width}x{frame.height}\n".encode())
    digest.update(pixels)
    return digest.hexdigest(), pixels.nbytes


def _thumbnail_size(width: int, height: int) -> tuple[int, int]:
    longest = max(width, height)
    if longest <= THUMBNAIL_SIZE:
        return width, height
    return max(1, round(width * THUMBNAIL_SIZE / longest)), max(1, round(height * THUMBNAIL_SIZE / longest))


class _open:
    """An input container, opened with the reasons FFmpeg gives turned into DecodeError."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        import av  # here, so that importing imagier does not load FFmpeg's libraries

        self.av = av
        try:
            self.container = av.open(self.path, metadata_errors="ignore")
        except av.error.InvalidDataError:
            raise DecodeError("not a film FFmpeg can read (invalid data in its header)") from None
        except (av.error.FFmpegError, OSError) as e:
            raise DecodeError(f"not a film FFmpeg can read: {_reason(e)}") from None
        return self.container

    def __exit__(self, kind, error, trace):
        self.container.close()
        if error is not None and isinstance(error, self.av.error.FFmpegError):
            raise DecodeError(f"corrupt film: {_reason(error)}") from None
        return False


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _video_stream(container):
    if not container.streams.video:
        raise DecodeError("no video stream in this file")
    return container.streams.video[0]


def _duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return 0.0


def _seek(container, stream, time: float) -> None:
    container.seek(max(0, int(time / stream.time_base)), stream=stream, backward=True, any_frame=False)


def _half_frame(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return 0.5 / float(rate) if rate else 0.0
