"""Verification of a candidate pair of images, with four signals, tried in this order:

- local features: ORB keypoints, ratio-tested matches, a RANSAC similarity transform (scale and shift),
  then a pixel check of the two images aligned by it. This tells the same picture under crop, caption,
  resize, recompression, greyscale, mirror or border from a distinct photo of a similar scene (a
  transform fits one plane of another photo too, but its pixels then disagree tile after tile);
- the whole frame: the two pictures, plain borders and caption bars trimmed, in grey at 64 x 64 with their brightness and
  contrast normalised, as they are, turned by up to 4 degrees, or mirrored. This is what paintings,
  gradients, soft focus and recoloured copies need: they have too few keypoints, or keypoints that move
  with their colours, but their aligned pixels still agree;
- the copy inside the other: the smaller picture searched for in the larger by normalised
  cross-correlation at eleven scales or more (the scales are shares of the whole pictures, so a box
  trimmed of a blank margin widens them), coarse to fine, the best refined halfway to its neighbours,
  whose typical colour must be that of the part of the larger it was found on (unless one of them is
  greyscale);
- for a pair with a plain picture (a gradient, a plain corner of one, a dark sky), which has too little
  detail for the structural signals: the smooth signal, the grey levels of the shaded cells compared as
  they are (whole frames, turned or mirrored, or one inside the other where its levels fit best).

For the second and third, "agreeing" is two scales at once: a low quantile of the SSIM map over the windows with
detail (a caption or a line of text spoils a band of the map without letting a different picture
through; plain windows, alike in any two pictures, do not count), and the correlation of the pictures
averaged down to 16 x 16, caption bands left out (two smooth pictures whose few edges happen to agree
still differ in where their light and dark lie). The pair is accepted above a threshold calibrated on
the calibration half of the benchmark's corpus (benchmarks/calibrate_duplicates.py), and gets the
transform relating the two, from which the edit is named as for keypoints.

A pair reads "a <relation> b": a is a "crop of" b, a is b "mirrored", b "bordered", b "greyscale",
b with an "overlay" (caption, text), b "resized" smaller, one of them "rotated" (turned askew); "same"
when nothing tells them apart but recompression or a change of colours.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
from PIL import Image

SIDE = 512          # long side of the image the keypoints are found on
CHECK_SIDE = 192    # long side of the grey image the aligned pixel check compares
ORB_FEATURES = 500
ORB_FAST, ORB_FAST_LOW, FEW_KEYPOINTS = 20, 5, 200   # FAST corner thresholds, and when to use the low one
RATIO = 0.8         # Lowe's ratio test
RANSAC_PIXELS = 4.0
MIN_INLIERS = 15
MIN_INLIER_SHARE = 0.25   # of the ratio-tested matches
AGREE = 0.4               # aligned grey levels closer than this (in units of spread) agree
DETAIL = 40.0             # Sobel gradient (grey levels) of a pixel with detail
TILES, TILE_AGREEMENT = 6, 0.85
MIN_AGREEMENT = 0.6       # share of the detailed tiles whose aligned pixels agree
GREY_CHROMA, COLOUR_CHROMA = 2.0, 6.0   # mean chroma below: greyscale; above: a colour image
CONTAINED = 0.92    # a picture covering more than this share of the other's frame lies inside it
UNIFORM = 8.0       # grey levels within which a plain border's pixels lie
CAPTION_MIN, CAPTION_MAX = 0.04, 0.25   # height of a caption bar, as a share of the picture's
# Shares of a row in a caption bar's colour: its plain rows, its rows of lettering, a row beyond its edge.
CAPTION_PLAIN, CAPTION_LETTERS, CAPTION_EDGE = 0.9, 0.1, 0.25
FRAME = 64          # side of the normalised grey frame the SSIM compares
SPREAD = 40.0       # the spread of grey levels a frame is normalised to
ROTATIONS = (2.0, -2.0, 4.0, -4.0)   # degrees a frame is turned by to meet a copy turned askew
ASKEW = 1.0         # degrees of rotation from which keypoints' transform names a copy "rotated"
SEARCH_SIDE = 96    # long side of the picture a smaller one is searched in
CROP_SCALES = np.geomspace(0.4, 1.0, 11)   # the smaller picture's width as a share of the larger's: up to all of it (a caption trimmed off)
SSIM_QUANTILE = 0.25      # of the SSIM map: the level three quarters of the picture reach
COARSE = 16               # side of the averaged-down frames whose correlation is also asked
BAND = 0.2                # share of the height at the top and at the bottom left out of that correlation
MIN_DETAIL = 3.0          # grey levels of local spread that make a window of the SSIM map count
MIN_DETAILED_SHARE = 0.05  # of the windows: below, a pair is too plain for the frame and crop signals
# Calibrated on the calibration half of the benchmark corpus (benchmarks/calibrate_duplicates.py; the
# frame's rule prints 0.63, kept lower because its highest negative, 0.287, lies far below: RESULTS.md):
FRAME_SSIM = 0.52         # the whole frames (or one mirrored) agree at least this well: the same picture
CROP_SSIM = 0.81          # the smaller picture and the part of the larger where it is found
SMOOTH_AGREEMENT = 0.81   # share of the shaded cells of two plain pictures that agree: the same picture
COLOUR_GAP = 7.9          # CIELAB units between the median colours of a crop and of the part it was found on
MIN_CROP_CORRELATION = 0.5   # normalised cross-correlation of a placement worth asking its agreement
CROP_TRIES = 2            # scales (the best-correlating at half size) searched at full size
SMOOTH_DETAIL = 0.15      # share of detailed windows below which a picture is plain: the plainest 1% of pictures
SMOOTH_CELLS = 16         # side of the grid of averaged cells on which plain pictures' shading is compared
SMOOTH_SHADED = 0.25      # share of the cells that must be shaded for a plain picture to be evidence at all
SMOOTH_LEVELS = 3.0       # grey levels within which two aligned cells agree: a copy's recompression
COLOUR_STEP = 4           # pixels of the check image per cell of a picture's colours


@dataclass
class Features:
    """What verification needs of one image; computed once per image and run."""
    pixels: tuple[int, int]         # the image's own width and height (to tell a resized copy)
    size: tuple[int, int]           # width and height of the image the keypoints are on
    points: np.ndarray              # (n, 2) float32 keypoint positions
    descriptors: np.ndarray | None  # (n, 32) uint8 ORB descriptors; None without keypoints
    grey: np.ndarray                # uint8 grey image, long side CHECK_SIDE
    chroma: float                   # mean colour saturation: about 0 for greyscale
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1): the picture inside plain borders, in `grey`
    frame: np.ndarray               # float32 FRAME x FRAME grey of the box
    whole: np.ndarray               # float32 FRAME x FRAME grey of the whole picture, borders and all
    colour: np.ndarray              # uint8 (h, w, 2) CIELAB a and b of `grey`'s pixels, COLOUR_STEP apart


@dataclass(frozen=True)
class Match:
    relation: str
    swapped: bool    # True: the relation reads "b <relation> a"
    score: float     # the share of aligned pixels that agree, 0..1
    inliers: int


def features(img: Image.Image, pixels: tuple[int, int] | None = None, mirror: bool = False) -> Features:
    """The keypoints, descriptors and check image of a picture (of any size: small ones are enlarged,
    because ORB finds few keypoints on a 256 px thumbnail)."""
    rgb = img.convert("RGB")
    if mirror:
        rgb = rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    scale = SIDE / max(rgb.size)
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    array = np.asarray(rgb.resize(size, Image.Resampling.BILINEAR))
    grey = cv2.cvtColor(array, cv2.COLOR_RGB2GRAY)
    keypoints, descriptors = _orb(ORB_FAST).detectAndCompute(grey, None)
    if len(keypoints) < FEW_KEYPOINTS:  # smooth or dark pictures: look for weaker corners
        keypoints, descriptors = _orb(ORB_FAST_LOW).detectAndCompute(grey, None)
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    check = CHECK_SIDE / SIDE
    small = cv2.resize(grey, (max(1, round(size[0] * check)), max(1, round(size[1] * check))),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (3, 3), 0)
    tiny = array[::4, ::4].astype(np.float32)
    chroma = float(np.mean(np.abs(tiny[..., 0] - tiny[..., 1]) + np.abs(tiny[..., 1] - tiny[..., 2])))
    box = _without_caption(small, _content_box(small))
    frame = cv2.resize(_cut(small, box), (FRAME, FRAME), interpolation=cv2.INTER_AREA).astype(np.float32)
    whole = cv2.resize(small, (FRAME, FRAME), interpolation=cv2.INTER_AREA).astype(np.float32)
    return Features(pixels or img.size, size, points, descriptors, small, chroma, box, frame, whole,
                    _colour(array, small.shape))


def _colour(rgb: np.ndarray, check: tuple[int, int]) -> np.ndarray:
    """The a and b of CIELAB (OpenCV's scale: grey at 128) averaged over cells of COLOUR_STEP pixels of
    the check image."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    size = (max(1, check[1] // COLOUR_STEP), max(1, check[0] // COLOUR_STEP))
    return cv2.resize(lab, size, interpolation=cv2.INTER_AREA)[..., 1:]


def _cut(grey: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return grey[y0:y1, x0:x1]


def _content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """The picture inside a plain border or letterbox bars: rows and columns at the edges whose pixels
    all lie within UNIFORM of the outermost ring's colour are trimmed (at most 40% from each side)."""
    h, w = grey.shape
    ring = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]).astype(np.float32)
    colour = float(np.median(ring))
    plain = np.abs(grey.astype(np.float32) - colour) < UNIFORM
    rows, cols = plain.mean(axis=1) > 0.98, plain.mean(axis=0) > 0.98

    def run(flags: np.ndarray) -> int:
        limit = int(0.4 * len(flags))
        n = 0
        while n < limit and flags[n]:
            n += 1
        return n
    top, bottom, left, right = run(rows), run(rows[::-1]), run(cols), run(cols[::-1])
    return left, top, w - right, h - bottom


def _without_caption(grey: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The box less a caption bar across its top or bottom. Two captioned pictures would otherwise agree
    on their bars, and a captioned copy's bar hides a band of the picture it copies. A page of text is
    not trimmed: its background runs on past CAPTION_MAX."""
    x0, y0, x1, y1 = box
    rows = grey[y0:y1, x0:x1].astype(np.float32)
    top, bottom = _caption_rows(rows), _caption_rows(rows[::-1])
    return x0, y0 + top, x1, y1 - bottom


def _caption_rows(rows: np.ndarray) -> int:
    """How many rows from the top of `rows` are a caption bar (0 when there is none): a band of its
    commonest colour, CAPTION_MIN to CAPTION_MAX of the height, whose rows all show some of that
    colour between the letters (or, where a crop cut through the lettering, rows of letters and then
    plain rows), ending on a row of nothing but that colour and, past one row of seam, a straight edge:
    rows that hardly have it."""
    height = len(rows)
    limit = round(CAPTION_MAX * height)
    colour = _commonest_level(rows[:max(3, limit)])
    share = (np.abs(rows[:limit + 3 + limit // 2] - colour) < UNIFORM).mean(axis=1)
    plain = np.flatnonzero(share[:limit] >= CAPTION_PLAIN)
    if not len(plain):
        return 0
    n = int(plain[-1]) + 1
    if share[n] >= CAPTION_EDGE:   # the seam: the bar's last row blurred into the picture's first
        n += 1
    beyond = share[n:n + 2]
    whole = share[0] >= CAPTION_EDGE and share[:n].min() >= CAPTION_LETTERS
    cut = plain[0] > 0 and len(plain) >= 2
    # Past a caption's edge the picture does not go back to rows of nothing but the bar's colour within
    # half the bar's height; past a line of text on a page (a crop of it starting mid-page), the blank
    # row before the next line does.
    page = (share[n + 2:n + 2 + max(2, n // 2)] >= CAPTION_PLAIN).any()
    if n >= CAPTION_MIN * height and (whole or cut) and len(beyond) == 2 and beyond.max() < CAPTION_EDGE \
            and not page:
        return n
    return 0


def _commonest_level(rows: np.ndarray) -> float:
    """The commonest grey level of some rows (to within UNIFORM): a caption bar's colour, even where a
    crop cut through its lettering, whose anti-aliased edges make any median a mixture."""
    counts = np.bincount((rows.ravel() // UNIFORM).astype(np.int64))
    common = int(np.argmax(counts))
    return float(np.median(rows[(rows // UNIFORM) == common]))


def _normalised(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """Grey levels with brightness and contrast taken out (mean 128, spread SPREAD): a colour shift, a
    greyscale copy or recompression changes little else in a picture's grey; and the factor the
    levels were multiplied by."""
    grey = grey.astype(np.float32)
    gain = SPREAD / (grey.std() + 2.0)
    return (grey - grey.mean()) * gain + 128.0, gain


# SSIM's stabilising constants, for levels normalised to a spread of 40: the structure term's is far
# below the usual (0.03 * 255)^2, which would make any two faintly shaded windows alike.
_C1, _C2 = (0.01 * 255) ** 2, 0.5


def _blur(v: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(v, (7, 7), 1.5)


def _ssim_map(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The structural similarity (Wang et al. 2004, Gaussian window of 1.5 px) at each pixel of two
    grey images of one size, and the local variance of each."""
    mx, my = _blur(x), _blur(y)
    vx, vy, cxy = _blur(x * x) - mx * mx, _blur(y * y) - my * my, _blur(x * y) - mx * my
    similarity = ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))
    return similarity, vx, vy


def structural_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """How well two grey pictures of one size (their own grey levels) agree in structure, brightness
    and contrast aside: a low quantile of the SSIM map of their normalised levels, over the windows
    where one of them has detail. Two plain areas are alike in any two pictures, and normalising
    would make noise of their faint shading: a pair with too little detail is not evidence (0)."""
    (xn, x_gain), (yn, y_gain) = _normalised(x), _normalised(y)
    similarity, vx, vy = _ssim_map(xn, yn)
    # Detail in the pictures' own levels: the normalised levels' local variance, scaled back.
    detailed = ((np.maximum(vx, 0) >= (MIN_DETAIL * x_gain) ** 2)
                | (np.maximum(vy, 0) >= (MIN_DETAIL * y_gain) ** 2))[3:-3, 3:-3]
    if detailed.mean() < MIN_DETAILED_SHARE:
        return 0.0
    return _quantile(similarity[3:-3, 3:-3][detailed], SSIM_QUANTILE)


def _quantile(values: np.ndarray, q: float) -> float:
    """np.quantile's (linear) q-quantile by a partial sort: a third of the time, which every SSIM pays."""
    position = q * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    part = np.partition(values, (low, high))
    return float(part[low] + (part[high] - part[low]) * (position - low))


def coarse_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """The correlation of the middle bands (rows BAND to 1 - BAND) of two grey pictures of one size,
    averaged down to COARSE x COARSE: whether their light and dark parts lie in the same places, which
    SSIM, looking at detail only, does not ask. The middle band, because a caption bar at the top or
    bottom is the strongest structure of a smooth picture and two pictures captioned alike would agree
    there."""
    top, bottom = round(BAND * x.shape[0]), round((1 - BAND) * x.shape[0])

    def coarse(v):
        v = cv2.resize(v[top:bottom].astype(np.float32), (COARSE, COARSE), interpolation=cv2.INTER_AREA).ravel()
        return v - v.mean()
    x, y = coarse(x), coarse(y)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-6))


def structural_agreement(x: np.ndarray, y: np.ndarray, needed: float | None = None) -> float:
    """How surely two grey pictures of one size show the same picture: the lesser of their structural
    similarity (detail) and their coarse correlation (layout). With `needed`, a pair whose coarse
    correlation (twenty times cheaper) already falls short is not asked its SSIM: the answer is then
    that correlation, short of `needed` too, which is all a pair of different pictures needs."""
    coarse = coarse_correlation(x, y)
    if needed is not None and coarse < needed:
        return coarse
    return min(structural_similarity(x, y), coarse)


_detectors = threading.local()


def _orb(fast_threshold: int):
    # One detector per thread: an OpenCV detector must not be used by two threads at once.
    cache = _detectors.__dict__
    if fast_threshold not in cache:
        cache[fast_threshold] = cv2.ORB_create(ORB_FEATURES, fastThreshold=fast_threshold)
    return cache[fast_threshold]


def verify(a: Features, b: Features, mirrored_b: Callable[[], Features]) -> Match | None:
    """Whether b shows the same picture as a; the relation when it does. Keypoints first (they tell
    crops and overlays best), then the whole frames (also mirrored), then b inside a or a inside b,
    then, when one of them is plain, their shading, and last keypoints on b mirrored (the costliest:
    its features are computed again)."""
    found = _aligned(a, b)
    if found is not None:
        homography, inliers, agreement = found
        return Match(*_relation(a, b, homography, agreement), agreement, inliers)
    frame = _frame_match(a, b)
    if frame is not None:
        return Match(*frame, 0)
    crop = _crop_match(a, b)
    if crop is not None:
        homography, similarity = crop
        return Match(*_relation(a, b, homography, similarity), similarity, 0)
    smooth = _smooth_match(a, b)
    if smooth is not None:
        return Match(*smooth, 0)
    found = _aligned(a, mirrored_b())
    if found is not None:
        return Match("mirrored", True, found[2], found[1])
    return None


def _smooth_match(a: Features, b: Features):
    """(relation, swapped, agreement) when one of the two pictures is too plain for the structural
    signals (a gradient, a plain corner of one) and their shading agrees in its own grey levels: the
    whole frames (turned, or mirrored) or one inside the other (with the colours of the part they
    share), whichever agrees best; else None."""
    if not (_plain(a.frame) or _plain(b.frame)):
        return None
    agreement, relation = smooth_signal(a, b)
    return (*relation, agreement) if agreement >= SMOOTH_AGREEMENT else None


def smooth_signal(a: Features, b: Features) -> tuple[float, tuple[str, bool]]:
    """The best smooth agreement of the pair and the relation it implies (crops whose colours differ
    from the part of the other they were found on do not count)."""
    found = [(smooth_agreement(a.frame, _turned(b.frame, angle)), ("rotated", False)) for angle in ROTATIONS]
    found.append((smooth_agreement(a.frame, b.frame[:, ::-1]), ("mirrored", True)))
    same = smooth_agreement(a.frame, b.frame)
    found.append((same, _relation(a, b, _box_transform(a.box, b.box, a, b), same)))
    inside, b_to_a = smooth_crop_signal(a, b)
    if b_to_a is not None and colour_gap(a, b, b_to_a) <= COLOUR_GAP:
        found.append((inside, _relation(a, b, b_to_a, inside)))
    # The likeliest reading first among equals: as they are, then one inside the other, then turned.
    return max(reversed(found), key=lambda f: f[0])


def _plain(frame: np.ndarray) -> bool:
    """Whether a frame has little detail: fewer than SMOOTH_DETAIL of its windows spread over
    MIN_DETAIL grey levels (a gradient, a dark sky with a moon): the pictures whose copies the
    structural signals, which look at detail only, may not tell."""
    mean = _blur(frame)
    variance = _blur(frame * frame) - mean * mean
    return float(np.mean(variance[3:-3, 3:-3] >= MIN_DETAIL ** 2)) < SMOOTH_DETAIL


def smooth_agreement(x: np.ndarray, y: np.ndarray) -> float:
    """How surely two plain grey pictures of one size are the same: over SMOOTH_CELLS x SMOOTH_CELLS
    averaged cells, the share of those that are shaded (further than SMOOTH_LEVELS from their
    picture's typical level, in either picture) whose grey levels, as they are (a plain picture has
    nothing else to tell it by: brightness and contrast are not taken out), agree within SMOOTH_LEVELS.
    Lettering over a band spoils that band only; the plain part, alike in any two pictures of its
    colour, does not count. 0 when fewer than SMOOTH_SHADED of the cells are shaded."""
    cx, cy = (cv2.resize(np.asarray(v, np.float32), (SMOOTH_CELLS, SMOOTH_CELLS), interpolation=cv2.INTER_AREA)
              for v in (x, y))
    shaded = (np.abs(cx - np.median(cx)) >= SMOOTH_LEVELS) | (np.abs(cy - np.median(cy)) >= SMOOTH_LEVELS)
    if shaded.mean() < SMOOTH_SHADED:
        return 0.0
    return float(np.mean(np.abs(cx - cy)[shaded] < SMOOTH_LEVELS))


def smooth_crop_signal(a: Features, b: Features) -> tuple[float, np.ndarray | None]:
    """The smooth agreement of either picture with the part of the other where its grey levels fit
    best, whichever agrees better: (agreement, transform from b to a)."""
    inside_a, b_to_a = _smooth_crop(b, a)
    inside_b, a_to_b = _smooth_crop(a, b)
    if inside_a >= inside_b:
        return inside_a, b_to_a
    return inside_b, np.linalg.inv(a_to_b)


def _smooth_crop(inner: Features, outer: Features) -> tuple[float, np.ndarray | None]:
    """(smooth agreement, transform from inner to outer) of inner placed where its grey levels, as they
    are, differ least from outer's (a gradient correlates alike wherever it runs the same way; its
    levels fit in one place), at the scales of the crop search, the best refined as they are."""
    field, factor = _search_field(outer)
    piece = _cut(inner.grey, inner.box).astype(np.float32)
    cut = piece.shape
    piece = _shrunk(piece)

    def fit(share: float):
        size = _template_size(share, field.shape, piece.shape)
        if size is None:
            return np.inf, None, None
        template = cv2.resize(piece, size, interpolation=cv2.INTER_AREA)
        difference, _, at, _ = cv2.minMaxLoc(cv2.matchTemplate(field, template, cv2.TM_SQDIFF))
        return difference / template.size, at, template
    fits = [(fit(share), share) for share in _crop_scales(_trimmed_width(inner) / _trimmed_width(outer))]
    (difference, at, template), share = min(fits, key=lambda f: f[0][0])
    if at is None:
        return 0.0, None
    size = (template.shape[1], template.shape[0])
    window = field[at[1]:at[1] + size[1], at[0]:at[0] + size[0]]
    return smooth_agreement(template, window), _placement(inner, outer, cut, size, at, factor)


def frame_similarity(a: Features, b: Features) -> tuple[float, float]:
    """The agreement of the whole frames: (as they are, b slightly rotated or untrimmed; b mirrored)."""
    return (max(*_rotated_agreements(a, b).values(), structural_agreement(a.whole, b.whole)),
            structural_agreement(a.frame, b.frame[:, ::-1]))


def _rotated_agreements(a: Features, b: Features, needed: float | None = None) -> dict[float, float]:
    """{angle: agreement of a's frame with b's turned by it}: as they are, and turned by each of
    ROTATIONS (a copy scanned or photographed askew)."""
    return {angle: _turned_agreement(a, b, angle, needed) for angle in (0.0, *ROTATIONS)}


def _turned_agreement(a: Features, b: Features, angle: float, needed: float | None = None) -> float:
    """The agreement of a's frame with b's turned by `angle` degrees."""
    return structural_agreement(a.frame, _turned(b.frame, angle), needed)


def _turned(frame: np.ndarray, angle: float) -> np.ndarray:
    """A frame turned by `angle` degrees about its centre (itself for 0)."""
    if not angle:
        return frame
    turn = cv2.getRotationMatrix2D(((FRAME - 1) / 2, (FRAME - 1) / 2), angle, 1.0)
    return cv2.warpAffine(frame, turn, (FRAME, FRAME), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _frame_match(a: Features, b: Features):
    """(relation, swapped, agreement) when the whole frames agree (as they are, untrimmed, mirrored or
    turned), else None. The likely cases first, each a single comparison, and the first that agrees
    decides: two copies that agree as they are were not turned."""
    same = structural_agreement(a.frame, b.frame, FRAME_SSIM)
    if same >= FRAME_SSIM:
        return *_relation(a, b, _box_transform(a.box, b.box, a, b), same), same
    # Borders trimmed differently (a colour shift moves a frame's shading in or out of the border's
    # colour): the pictures as they are.
    untrimmed = structural_agreement(a.whole, b.whole, FRAME_SSIM)
    if untrimmed >= FRAME_SSIM:
        whole = (0, 0, a.grey.shape[1], a.grey.shape[0]), (0, 0, b.grey.shape[1], b.grey.shape[0])
        return *_relation(a, b, _box_transform(*whole, a, b), untrimmed), untrimmed
    mirrored = structural_agreement(a.frame, b.frame[:, ::-1], FRAME_SSIM)
    if mirrored >= FRAME_SSIM:
        return "mirrored", True, mirrored
    for angle in ROTATIONS:
        turned = _turned_agreement(a, b, angle, FRAME_SSIM)
        if turned >= FRAME_SSIM:
            return "rotated", False, turned
    return None


def _to_size(f: Features) -> np.ndarray:
    """From the check image's coordinates to the keypoint image's."""
    return np.diag([f.size[0] / f.grey.shape[1], f.size[1] / f.grey.shape[0], 1.0])


def _box_transform(a_box: tuple, b_box: tuple, a: Features, b: Features) -> np.ndarray:
    """The transform (keypoint image coordinates) that lays b_box of b's check image on a_box of a's."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a_box, b_box
    scale = np.diag([(ax1 - ax0) / max(1, bx1 - bx0), (ay1 - ay0) / max(1, by1 - by0), 1.0])
    check = _shift(ax0, ay0) @ scale @ _shift(-bx0, -by0)
    return _to_size(a) @ check @ np.linalg.inv(_to_size(b))


@dataclass(frozen=True)
class _Rectangle:
    """An axis-aligned rectangle (x0, y0, x1, y1) in a keypoint image's coordinates."""
    x0: float
    y0: float
    x1: float
    y1: float

    def __and__(self, other: "_Rectangle") -> "_Rectangle | None":
        x0, y0 = max(self.x0, other.x0), max(self.y0, other.y0)
        x1, y1 = min(self.x1, other.x1), min(self.y1, other.y1)
        return _Rectangle(x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def mapped(self, transform: np.ndarray) -> "_Rectangle":
        (x0, x1), (y0, y1) = (transform @ np.array([[self.x0, self.x1], [self.y0, self.y1], [1.0, 1.0]]))[:2]
        return _Rectangle(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _rectangle(box: tuple[int, int, int, int], transform: np.ndarray) -> _Rectangle:
    """A box of a check image, in the keypoint image's coordinates that `transform` maps it to."""
    return _Rectangle(*box).mapped(transform)


def _typical_colour(f: Features, region: _Rectangle) -> np.ndarray:
    """The median CIELAB (a, b) of a region of f's keypoint image: lettering in yellow or white over a
    part of it, a copy's overlay, does not move it."""
    to_cells = np.linalg.inv(_to_size(f)) / COLOUR_STEP
    cells = region.mapped(np.diag([to_cells[0, 0], to_cells[1, 1], 1.0]))
    h, w = f.colour.shape[:2]
    x0, y0 = min(int(cells.x0), w - 1), min(int(cells.y0), h - 1)
    x1, y1 = max(x0 + 1, min(w, int(np.ceil(cells.x1)))), max(y0 + 1, min(h, int(np.ceil(cells.y1))))
    return np.median(f.colour[y0:y1, x0:x1].reshape(-1, 2).astype(np.float32), axis=0)


def _shift(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def crop_similarity(inner: Features, outer: Features,
                    needed: float | None = None) -> tuple[float, np.ndarray | None]:
    """The agreement of `inner` with the part of `outer` where it is found: (agreement, transform from
    inner's keypoint image to outer's); (0, None) when no placement correlates. Found by normalised
    cross-correlation, coarse to fine: every scale of CROP_SCALES on the pictures at half size, then
    the CROP_TRIES best scales that correlate there at full size, whose best placements' agreement is
    asked (`needed` as for structural_agreement)."""
    field, factor = _search_field(outer)
    coarse = cv2.resize(field, (field.shape[1] // 2, field.shape[0] // 2), interpolation=cv2.INTER_AREA)
    piece = _cut(inner.grey, inner.box)
    cut = piece.shape
    piece = _shrunk(piece)
    peaks = []
    for share in _crop_scales(_trimmed_width(inner) / _trimmed_width(outer)):
        size = _template_size(share, coarse.shape, piece.shape)
        if size is not None:
            peak = _best_place(coarse, piece, size)[0]
            if peak >= MIN_CROP_CORRELATION:
                peaks.append((peak, share))
    best, transform, best_share = 0.0, None, None
    for _, share in sorted(peaks, reverse=True)[:CROP_TRIES]:
        similarity, placed = _placed_agreement(inner, outer, field, piece, cut, share, factor, needed)
        if similarity > best:
            best, transform, best_share = similarity, placed, share
    # Between the grid's scales: a crop whose width falls halfway between two of them is 5% off in
    # scale at both, which costs its agreement more than any shift does.
    half_step = np.sqrt(CROP_SCALES[1] / CROP_SCALES[0])
    for share in ((best_share * half_step, best_share / half_step) if best_share else ()):
        similarity, placed = _placed_agreement(inner, outer, field, piece, cut, share, factor, needed)
        if similarity > best:
            best, transform = similarity, placed
    return best, transform


def _placed_agreement(inner: Features, outer: Features, field: np.ndarray, piece: np.ndarray,
                      cut: tuple[int, int], share: float, factor: float, needed: float | None):
    """(agreement, transform) of the piece at `share` of the field's width where it best fits the
    field; (0, None) when it does not fit or correlates nowhere."""
    size = _template_size(share, field.shape, piece.shape)
    if size is None:
        return 0.0, None
    peak, (x, y), template = _best_place(field, piece, size)
    if peak < MIN_CROP_CORRELATION:
        return 0.0, None
    similarity = structural_agreement(template, field[y:y + size[1], x:x + size[0]], needed)
    return similarity, _placement(inner, outer, cut, size, (x, y), factor)


def _search_field(outer: Features) -> tuple[np.ndarray, float]:
    """outer's box at SEARCH_SIDE (float32), and the factor it was scaled by."""
    field = _cut(outer.grey, outer.box)
    factor = SEARCH_SIDE / max(field.shape)
    field = cv2.resize(field, (max(1, round(field.shape[1] * factor)), max(1, round(field.shape[0] * factor))),
                       interpolation=cv2.INTER_AREA)
    return field.astype(np.float32), factor


def _shrunk(piece: np.ndarray) -> np.ndarray:
    """The piece at most SEARCH_SIDE on its long side: once, so that each scale's template is a cheap resize."""
    shrink = SEARCH_SIDE / max(piece.shape)
    if shrink >= 1:
        return piece
    return cv2.resize(piece, (max(1, round(piece.shape[1] * shrink)), max(1, round(piece.shape[0] * shrink))),
                      interpolation=cv2.INTER_AREA)


def _crop_scales(trimmed: float) -> np.ndarray:
    """The piece's widths, as shares of the field's, to search: CROP_SCALES' steps down from all of it
    to CROP_SCALES' smallest share times `trimmed`, when less than 1. A crop's share is a share of the
    whole pictures, and a box may have lost a plain margin that the other has not (a crop of a screen
    whose lines all end before its right edge): then the piece is a smaller share of the field than
    the crop is of its original, by the ratio of the shares of their widths that the boxes keep."""
    step = CROP_SCALES[1] / CROP_SCALES[0]
    lowest = CROP_SCALES[0] * min(1.0, trimmed)
    return CROP_SCALES[-1] / step ** np.arange(int(np.floor(np.log(CROP_SCALES[-1] / lowest) / np.log(step) + 1e-9)) + 1)


def _trimmed_width(f: Features) -> float:
    """The share of f's width that its box keeps."""
    return (f.box[2] - f.box[0]) / f.grey.shape[1]


def _template_size(share: float, field: tuple[int, int], piece: tuple[int, int]) -> tuple[int, int] | None:
    """(width, height) of the piece at `share` of the field's width; None when it does not fit or is
    too small to tell anything."""
    width = round(share * field[1])
    height = round(width * piece[0] / max(1, piece[1]))
    return None if width < 8 or height < 8 or width > field[1] or height > field[0] else (width, height)


def _best_place(field: np.ndarray, piece: np.ndarray, size: tuple[int, int]):
    """(correlation, (x, y), template) of the piece resized to `size` where it best fits the field."""
    template = cv2.resize(piece, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    _, peak, _, at = cv2.minMaxLoc(cv2.matchTemplate(field, template, cv2.TM_CCOEFF_NORMED))
    return peak, at, template


def _placement(inner: Features, outer: Features, piece: tuple[int, int], size: tuple[int, int],
               at: tuple[int, int], factor: float) -> np.ndarray:
    """The transform from inner's keypoint image to outer's that puts inner's picture (`piece`, rows and
    columns of its check image) at `at` with `size` in outer's search field (outer's box scaled by factor)."""
    (ix0, iy0), (ox0, oy0) = inner.box[:2], outer.box[:2]
    to_field = _shift(*at) @ np.diag([size[0] / piece[1], size[1] / piece[0], 1.0]) @ _shift(-ix0, -iy0)
    check = _shift(ox0, oy0) @ np.diag([1 / factor, 1 / factor, 1.0]) @ to_field
    return _to_size(outer) @ check @ np.linalg.inv(_to_size(inner))


def crop_signal(a: Features, b: Features, needed: float | None = None) -> tuple[float, np.ndarray | None]:
    """The crop signal of a pair: (agreement, transform from b to a) of either picture found inside
    the other, whichever agrees better. Both ways, whatever their sizes: searching only the picture
    with fewer pixels inside the other lowered the calibrated threshold to 0.55 (its highest negative
    fell), and at 0.55 two different pages of text were taken for a crop on the report half."""
    inside_a, b_to_a = crop_similarity(b, a, needed)
    inside_b, a_to_b = crop_similarity(a, b, needed)
    if inside_a >= inside_b:
        return inside_a, b_to_a
    return inside_b, np.linalg.inv(a_to_b)


def _crop_match(a: Features, b: Features):
    """(transform from b to a, agreement) when one of the two pictures lies inside the other, with the
    colours of the part they share: two smooth pictures whose grey levels fall alike (a gradient of
    one inside another's sky) are told apart by their colours, which a crop keeps."""
    similarity, b_to_a = crop_signal(a, b, CROP_SSIM)
    if similarity < CROP_SSIM or colour_gap(a, b, b_to_a) > COLOUR_GAP:
        return None
    return b_to_a, similarity


def colour_gap(a: Features, b: Features, b_to_a: np.ndarray) -> float:
    """How far apart the colours of the part the two pictures share (b laid on a by `b_to_a`) are: the
    distance between their median CIELAB a and b there. 0 when one of them is greyscale."""
    if min(a.chroma, b.chroma) < GREY_CHROMA:
        return 0.0
    shared_a = _rectangle(a.box, _to_size(a)) & _rectangle(b.box, b_to_a @ _to_size(b))
    if shared_a is None:
        return float("inf")
    shared_b = shared_a.mapped(np.linalg.inv(b_to_a))
    return float(np.linalg.norm(_typical_colour(a, shared_a) - _typical_colour(b, shared_b)))


def _aligned(a: Features, b: Features):
    """(transform from b to a as a 3 x 3 matrix, inliers, agreement) when b's keypoints map onto a's and the pixels agree."""
    if a.descriptors is None or b.descriptors is None or len(a.points) < MIN_INLIERS or len(b.points) < MIN_INLIERS:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(b.descriptors, a.descriptors, k=2)
    good = [m for m, *rest in (p for p in pairs if p) if not rest or m.distance < RATIO * rest[0].distance]
    if len(good) < MIN_INLIERS:
        return None
    source = b.points[[m.queryIdx for m in good]]
    target = a.points[[m.trainIdx for m in good]]
    # A copy is the picture scaled and shifted (a mirror is tried as a picture of its own): a similarity
    # transform, which RANSAC finds from two-point samples, so a few dozen draws settle even a pair whose
    # matches are mostly chance, and a distinct photo's planes fit it worse than a general homography.
    affine, mask = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC,
                                               ransacReprojThreshold=RANSAC_PIXELS, maxIters=500)
    if affine is None:
        return None
    homography = np.vstack([affine, [0.0, 0.0, 1.0]])
    inliers = int(mask.sum())
    if inliers < MIN_INLIERS or inliers < MIN_INLIER_SHARE * len(good) or not _plausible(homography):
        return None
    agreement = _agreement(a, b, homography)
    if agreement < MIN_AGREEMENT:
        return None
    return homography, inliers, agreement


def _plausible(h: np.ndarray) -> bool:
    """A copy is scaled, shifted and perhaps slightly skewed, never folded or strongly tilted."""
    affine = h[:2, :2] / h[2, 2]
    det = np.linalg.det(affine)
    return det > 0.01 and abs(h[2, 0] / h[2, 2]) < 1e-3 and abs(h[2, 1] / h[2, 2]) < 1e-3 \
        and np.linalg.cond(affine) < 3


def _check_homography(a: Features, b: Features, h: np.ndarray) -> np.ndarray:
    """The homography from b's check image to a's."""
    to_a = np.diag([a.grey.shape[1] / a.size[0], a.grey.shape[0] / a.size[1], 1.0])
    from_b = np.diag([b.size[0] / b.grey.shape[1], b.size[1] / b.grey.shape[0], 1.0])
    return to_a @ h @ from_b


def _overlap(a: Features, b: Features, h: np.ndarray):
    """b's check image warped into a's frame, and the mask of a's pixels it covers."""
    hc = _check_homography(a, b, h)
    source = b.grey
    shrink = np.sqrt(abs(np.linalg.det(hc[:2, :2])))
    if shrink < 0.9:  # b is larger there than in a: average its pixels down first, as a's were
        source = cv2.resize(b.grey, (max(1, round(b.grey.shape[1] * shrink)), max(1, round(b.grey.shape[0] * shrink))),
                            interpolation=cv2.INTER_AREA)
        hc = hc @ np.diag([b.grey.shape[1] / source.shape[1], b.grey.shape[0] / source.shape[0], 1.0])
    shape = (a.grey.shape[1], a.grey.shape[0])
    warped = cv2.warpPerspective(source.astype(np.float32), hc, shape, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones_like(source), hc, shape, flags=cv2.INTER_NEAREST)
    # Leave out the seam, where interpolation mixes in the outside.
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0
    return warped, mask


def _agreement(a: Features, b: Features, h: np.ndarray) -> float:
    """The share of the overlap's detailed pixels where the aligned grey levels agree, brightness
    offsets aside: near 1 for the same picture (a caption or text takes a corner), lower for a distinct
    photo, whose other depths and moved things the transform does not align. Flat areas (sky, a
    border) agree in any two pictures, so they are left out."""
    if np.linalg.det(_check_homography(a, b, h)[:2, :2]) > 1:
        # Compare where the shared picture is smaller: an enlarged picture is blurred by the enlarging,
        # and its fine texture would disagree with the sharp original's.
        a, b, h = b, a, np.linalg.inv(h)
    warped, mask = _overlap(a, b, h)
    if mask.sum() < 0.05 * mask.size:
        return 0.0
    # Detail in both: a caption's lettering over a plain sky is not evidence either way.
    detailed = mask & (_gradient(a.grey) > DETAIL) & (_gradient(warped) > DETAIL)
    if detailed.sum() < 0.02 * mask.size:
        detailed = mask
    agree = np.zeros(mask.shape, bool)
    agree[detailed] = _normalised_difference(a.grey, warped, mask, detailed) < AGREE
    return _tiles_agreeing(agree, detailed)


def _tiles_agreeing(agree: np.ndarray, detailed: np.ndarray) -> float:
    """The share of the detailed tiles (a TILES x TILES grid) whose pixels mostly agree. Counting tiles,
    not pixels, forgives a caption (it spoils the tiles of one band) and not a photo taken from another
    place (its parallax spoils tiles all over)."""
    rows = np.array_split(np.arange(agree.shape[0]), TILES)
    cols = np.array_split(np.arange(agree.shape[1]), TILES)
    shares = []
    for r in rows:
        for c in cols:
            cell = np.ix_(r, c)
            count = detailed[cell].sum()
            if count >= 0.1 * len(r) * len(c):
                shares.append(agree[cell].sum() / count)
    return float(np.mean(np.array(shares) >= TILE_AGREEMENT)) if shares else 0.0


def _gradient(grey: np.ndarray) -> np.ndarray:
    grey = grey.astype(np.float32)
    return np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def _normalised_difference(x: np.ndarray, y: np.ndarray, mask: np.ndarray,
                           where: np.ndarray | None = None) -> np.ndarray:
    """|x - y| at the pixels `where` (all of the mask by default), less the two pictures' typical
    brightness offset over the mask, in units of x's spread there. The offset is a median, so a caption
    bar over a sixth of the picture does not move it."""
    xs, ys = x[mask].astype(np.float32), y[mask].astype(np.float32)
    offset, spread = np.median(xs - ys), xs.std() + 2.0
    where = mask if where is None else where
    return np.abs(x[where].astype(np.float32) - y[where].astype(np.float32) - offset) / spread


def _relation(a: Features, b: Features, h: np.ndarray, agreement: float) -> tuple[str, bool]:
    """The edit relating b to a (b aligned onto a by h): (relation, swapped) where swapped means it reads
    "b <relation> a"."""
    if abs(np.degrees(np.arctan2(h[1, 0], h[0, 0]))) >= ASKEW:
        return "rotated", False
    inv = np.linalg.inv(h)
    cover_a = _shown(a.size, b.size, inv)   # share of a's frame that b shows
    cover_b = _shown(b.size, a.size, h)     # share of b's frame that a shows
    if cover_a < CONTAINED and cover_b >= CONTAINED:   # b lies inside a
        return ("bordered", False) if _plain_outside(a, b, h) else ("crop of", True)
    if cover_b < CONTAINED and cover_a >= CONTAINED:   # a lies inside b
        return ("bordered", True) if _plain_outside(b, a, inv) else ("crop of", False)
    if cover_a < CONTAINED and cover_b < CONTAINED:    # each shows a part of the other
        return "crop of", a.pixels[0] * a.pixels[1] > b.pixels[0] * b.pixels[1]
    if a.chroma < GREY_CHROMA <= COLOUR_CHROMA < b.chroma:
        return "greyscale", False
    if b.chroma < GREY_CHROMA <= COLOUR_CHROMA < a.chroma:
        return "greyscale", True
    if agreement < 0.97:
        overlay = _overlaid(a, b, h)
        if overlay is not None:
            return "overlay", overlay
    area_a, area_b = a.pixels[0] * a.pixels[1], b.pixels[0] * b.pixels[1]
    if min(area_a, area_b) < 0.8 * max(area_a, area_b):
        return "resized", area_b < area_a
    return "same", False


_GRID = (np.stack(np.meshgrid(np.linspace(0.02, 0.98, 25), np.linspace(0.02, 0.98, 25)), -1)
         .reshape(-1, 2).astype(np.float32))


def _shown(frame: tuple[int, int], other: tuple[int, int], h: np.ndarray) -> float:
    """The share of `frame` that `other` shows, h mapping frame's points into other's: counted on a grid
    of points, which, unlike polygon clipping, is not upset by edges that coincide."""
    points = cv2.perspectiveTransform((_GRID * np.float32(frame))[None], h)[0]
    inside = (points[:, 0] >= 0) & (points[:, 0] <= other[0]) & (points[:, 1] >= 0) & (points[:, 1] <= other[1])
    return float(inside.mean())


def _plain_outside(outer: Features, inner: Features, h: np.ndarray) -> bool:
    """Whether the part of `outer` that `inner` (aligned by h, inner -> outer) does not show is a plain
    frame: then outer is inner with a border added, not inner's surroundings."""
    _, mask = _overlap(outer, inner, h)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    outside = outer.grey[~grown].astype(np.float32)
    # A share, not a spread: JPEG ringing along the picture's edge must not hide a plain border.
    return outside.size > 0 and float(np.mean(np.abs(outside - np.median(outside)) < UNIFORM)) > 0.9


def _overlaid(a: Features, b: Features, h: np.ndarray) -> bool | None:
    """Whether a (False) or b (True) carries a caption or text over the shared picture: a compact region
    where the two disagree, more of it pure black or white (lettering, a caption bar) in the one that
    has it. None when the disagreement is scattered."""
    warped, mask = _overlap(a, b, h)
    diff = np.zeros(a.grey.shape, np.float32)
    diff[mask] = _normalised_difference(a.grey, warped, mask)
    region = cv2.morphologyEx((diff > AGREE).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    if region.sum() < 0.02 * mask.sum():
        return None
    return _extreme(warped[region]) > _extreme(a.grey[region].astype(np.float32))


def _extreme(values: np.ndarray) -> float:
    return float(np.mean((values < 24) | (values > 231)))
