"""Films made from real photographs, whose shot boundaries are known: for tests/test_films.py and
bench_video.py (no downloads).

Each shot is a slow pan or zoom over one photograph (scikit-image's samples, Debian's wallpapers); shots
meet with a hard cut or a one-second fade (a dissolve), and a tone plays for the first seconds. A shot's
boundary is the frame where it starts: the first frame of a cut, the middle frame of a fade.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

WALLPAPERS = Path("/usr/share/backgrounds")
SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
           "camera", "motorcycle_left", "page", "brick", "grass", "gravel", "text")
MOTIONS = ("pan-right", "pan-down", "zoom-in", "zoom-out", "still")
CODECS = {"h264": ("mp4", "libx264", "aac"), "vp9": ("webm", "libvpx-vp9", "libopus")}


@dataclass(frozen=True)
class Shot:
    picture: str  # a sample's name or a wallpaper's path
    seconds: float
    motion: str
    fade_in: bool = False  # a one-second dissolve from the shot before, else a hard cut


@dataclass
class FilmPlan:
    shots: list[Shot]
    fps: int = 25
    size: tuple[int, int] = (320, 180)
    codec: str = "h264"
    sound_seconds: float = 3.0
    boundaries: list[int] = field(default_factory=list)  # filled by make_film: the first frame of each shot
    frames: int = 0


def pictures() -> list[str]:
    """Every photograph the films use: the samples, then the wallpapers found on this machine."""
    return list(SAMPLES) + sorted(str(p) for p in WALLPAPERS.glob("*.jpg"))


def photograph(name: str) -> np.ndarray:
    if name in skimage.data.__all__:
        pixels = getattr(skimage.data, name)()
    elif "/" in name:
        pixels = np.asarray(Image.open(name).convert("RGB"))
    else:
        pixels = np.asarray(Image.open(Path(skimage.data.__file__).parent / f"{name}.png").convert("RGB"))
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return pixels[..., :3]


def random_plan(seed: int, shots: int, *, fps: int = 25, size=(320, 180), codec: str = "h264",
                seconds=(3.0, 8.0), fades: float = 0.4, names: list[str] | None = None) -> FilmPlan:
    """A film of `shots` shots of random photographs, lengths, motions and transitions (`fades`: the share
    of dissolves); two shots in a row never show the same photograph."""
    rng = random.Random(seed)
    names = names or pictures()
    chosen: list[Shot] = []
    for index in range(shots):
        picture = rng.choice([n for n in names if not chosen or n != chosen[-1].picture])
        chosen.append(Shot(picture, round(rng.uniform(*seconds), 2), rng.choice(MOTIONS),
                           fade_in=index > 0 and rng.random() < fades))
    return FilmPlan(chosen, fps=fps, size=size, codec=codec)


def make_film(path: Path, plan: FilmPlan) -> FilmPlan:
    """Encode the film of `plan` at `path` (its extension should suit the codec) and return the plan with
    its boundaries and frame count."""
    import av

    fade = plan.fps  # frames of a one-second dissolve
    starts, position = [], 0
    for shot in plan.shots:
        starts.append(position)
        position += int(round(shot.seconds * plan.fps))
    total = position
    plan.boundaries, plan.frames = starts, total
    renderers = _Renderers(plan, fade)
    _, video_codec, audio_codec = CODECS[plan.codec]
    with av.open(str(path), "w") as container:
        video = container.add_stream(video_codec, rate=plan.fps)
        video.width, video.height = plan.size
        video.pix_fmt = "yuv420p"
        video.options = ({"preset": "veryfast", "g": str(2 * plan.fps), "crf": "23"} if plan.codec == "h264"
                         else {"deadline": "realtime", "cpu-used": "8", "g": str(2 * plan.fps), "crf": "32",
                               "b": "0"})
        audio = container.add_stream(audio_codec, rate=48000)
        audio.layout = "mono"
        sound = _Sound(container, audio, min(plan.sound_seconds, total / plan.fps))
        for index in range(total):
            sound.until((index + 1) / plan.fps)
            shown = _mix(plan, starts, index)
            if len(shown) == 1:
                picture = renderers[shown[0][0]].frame(index - starts[shown[0][0]] + fade // 2)
            else:
                mixed = sum(renderers[shot].frame(index - starts[shot] + fade // 2).astype(np.float32) * weight
                            for shot, weight in shown)
                picture = np.clip(mixed, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        sound.until(plan.sound_seconds)
        for packet in audio.encode():
            container.mux(packet)
    return plan


def _mix(plan: FilmPlan, starts: list[int], index: int) -> list[tuple[int, float]]:
    """The shots frame `index` shows, with their weights: one, or two during a dissolve, which is centred on
    the boundary (the new shot weighs just over a half on the boundary's frame)."""
    fade = plan.fps
    shot = max(i for i, start in enumerate(starts) if start <= index)
    if plan.shots[shot].fade_in and index - starts[shot] < fade // 2:
        weight = (index - starts[shot] + fade / 2 + 0.5) / fade
        return [(shot, weight), (shot - 1, 1 - weight)]
    following = shot + 1
    if following < len(starts) and plan.shots[following].fade_in and starts[following] - index <= fade // 2:
        weight = (index - starts[following] + fade / 2 + 0.5) / fade
        return [(following, weight), (shot, 1 - weight)]
    return [(shot, 1.0)]


class _Renderers:
    """The renderer of each shot, made when first needed and dropped once the film is past it (a long film's
    photographs would not all fit in memory)."""

    def __init__(self, plan: FilmPlan, fade: int):
        self.plan, self.fade, self.made = plan, fade, {}

    def __getitem__(self, shot: int) -> "_Renderer":
        if shot not in self.made:
            for old in [k for k in self.made if k < shot - 1]:
                del self.made[old]
            s = self.plan.shots[shot]
            self.made[shot] = _Renderer(photograph(s.picture), s, self.plan.size,
                                        int(round(s.seconds * self.plan.fps)) + self.fade)
        return self.made[shot]


class _Renderer:
    """The frames of one shot: a window moving slowly over its photograph."""

    def __init__(self, pixels: np.ndarray, shot: Shot, size: tuple[int, int], frames: int):
        self.image = Image.fromarray(pixels)
        # A large photograph is shrunk once to a little more than the film's size, not at every frame.
        shrink = min(self.image.width / (size[0] * 1.5), self.image.height / (size[1] * 1.5))
        if shrink > 1:
            self.image = self.image.resize((round(self.image.width / shrink), round(self.image.height / shrink)),
                                           Image.Resampling.LANCZOS)
        self.shot, self.size, self.frames = shot, size, max(frames, 2)
        width, height = self.image.size
        aspect = size[0] / size[1]
        # The largest window of the film's shape that fits, shrunk so that it has room to move.
        self.base = (min(width, height * aspect) * 0.8, min(height, width / aspect) * 0.8)

    def frame(self, index: int) -> np.ndarray:
        progress = min(max(index / (self.frames - 1), 0.0), 1.0)
        width, height = self.image.size
        w, h = self.base
        if self.shot.motion in ("zoom-in", "zoom-out"):
            scale = 1.0 - 0.25 * (progress if self.shot.motion == "zoom-in" else 1.0 - progress)
            w, h = w * scale, h * scale
        x, y = (width - w) / 2, (height - h) / 2
        if self.shot.motion == "pan-right":
            x = (width - w) * (0.1 + 0.8 * progress)
        elif self.shot.motion == "pan-down":
            y = (height - h) * (0.1 + 0.8 * progress)
        window = self.image.resize(self.size, Image.Resampling.BILINEAR, box=(x, y, x + w, y + h))
        return np.asarray(window)


def repeat_film(base: Path, path: Path, copies: int) -> None:
    """Write at `path` the film `base` played `copies` times in a row, its packets copied, not encoded again:
    a long film for a benchmark of reading speed, at the cost of encoding a short one (it starts with a
    keyframe, so each copy decodes on its own)."""
    import av

    with av.open(str(base)) as source, av.open(str(path), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
        # Each copy starts where the longest stream of the one before ended.
        length = max(float(s.duration * s.time_base) for s in source.streams if s.index in streams)
        for copy in range(copies):
            source.seek(0)
            for packet in source.demux(*[source.streams[i] for i in streams]):
                if packet.dts is None:
                    continue
                shift = int(round(copy * length / packet.time_base))
                packet.pts = packet.pts + shift if packet.pts is not None else None
                packet.dts += shift
                packet.stream = streams[packet.stream.index]
                out.mux(packet)


class _Sound:
    """A 440 Hz tone for the film's first seconds, written as the film goes so the two streams interleave."""

    def __init__(self, container, stream, seconds: float):
        self.container, self.stream = container, stream
        self.samples = int(seconds * stream.rate)
        self.written = 0

    def until(self, seconds: float) -> None:
        import av

        end = min(self.samples, int(seconds * self.stream.rate))
        if end <= self.written:
            return
        t = (np.arange(self.written, end) / self.stream.rate).astype(np.float32)
        tone = (0.2 * np.sin(2 * math.pi * 440 * t)).astype(np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = self.stream.rate, self.written
        self.written = end
        for packet in self.stream.encode(frame):
            self.container.mux(packet)


def shot_f1(found: list[int], truth: list[int], tolerance: int = 2) -> dict:
    """Precision, recall and F1 of detected shot starts (frame indexes, the film's first frame left out)
    against the true ones, each true boundary matched at most once within `tolerance` frames."""
    truth = [b for b in truth if b > 0]
    found = [b for b in found if b > 0]
    unmatched = list(truth)
    hits = 0
    for b in found:
        near = [t for t in unmatched if abs(t - b) <= tolerance]
        if near:
            unmatched.remove(min(near, key=lambda t: abs(t - b)))
            hits += 1
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "found": len(found), "true": len(truth),
            "missed": sorted(unmatched)}
