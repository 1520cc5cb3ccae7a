"""The OCR engine: RapidOCR's pipeline with PP-OCRv6's detection and recognition models, run with ONNX Runtime
on the CPU. An image goes in, its words come out with their confidences and boxes.

The recogniser is the one inside RapidOCR's wheel; the detector is the wheel's, quantized to 8-bit integers,
shipped beside this module (PP-OCRv6_det_small_int8.onnx, Apache-2.0 like the original, made by
benchmarks/calibrate_ocr.py). Both are named by their paths, so RapidOCR never reaches for its download code:
reading works offline. PP-OCRv6's recogniser is multilingual (Latin script with accents included).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Originals larger than this (longest side, pixels) are scaled down first: it bounds a worker's memory on a
# 50-megapixel photograph, and a caption small enough to vanish at this size is not meant to be read.
MAX_SIDE = 2048
# Text is *found* on the image scaled to this longest side, then each line is *read* from the full-size image:
# 14-pixel captions on a 2-megapixel meme are still found at 960 (benchmarks/bench_ocr.py) and a smaller
# detection input is most of the speed.
DETECTION_SIDE = 960
# The detector's thresholds (RapidOCR's defaults: 0.3 and 0.5), lowered so that thin 14-pixel captions are
# found: on 10 such memes the character error rate fell from 22% to 10%, and no whole text-free
# photograph of the benchmark gained text (benchmarks/bench_ocr.py).
PIXEL_THRESHOLD, BOX_THRESHOLD = 0.2, 0.3
# Lines the recogniser is less sure of than this are dropped: on photographs without text, what the detector
# mistakes for text (foliage, fences) is read with low confidence.
MIN_CONFIDENCE = 0.5
# A line of a single letter or digit is dropped too: on photographs, a lone glyph is a cat's whiskers or a
# leaf read as "9" far more often than text (and captions are never one character long).
MIN_LINE_CHARACTERS = 2
# The recogniser and the detector in floats, as RapidOCR's wheel ships them.
RECOGNISER, FLOAT_DETECTOR = "PP-OCRv6_rec_small.onnx", "PP-OCRv6_det_small.onnx"
# The detector is nine tenths of the time of an image in floats; this one is the same model in 8-bit integers
# (benchmarks/calibrate_ocr.py, its ranges measured on the calibration half of bench_ocr.py's corpus), three
# times faster on a CPU with VNNI. It costs accuracy on 14-18 px captions only (report half: character error
# rate 5.1% against 2.3% with the float detector; benchmarks/RESULTS.md, "OCR").
DETECTOR = Path(__file__).resolve().parent / "PP-OCRv6_det_small_int8.onnx"


class UnreadableImage(Exception):
    """The image cannot be decoded; the message says why."""


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float
    line: int  # the line (text box) of the image it was read in, in reading order
    # its box as fractions of the upright image's width and height: left, top, width, height
    x: float
    y: float
    w: float
    h: float


def engine_name() -> str:
    """The engine and its models, as recorded with each reading."""
    return f"rapidocr {metadata.version('rapidocr')} PP-OCRv6 small, detector in 8-bit integers"


def wheel_model(filename: str) -> Path:
    """The path of one of the models in RapidOCR's wheel."""
    path = Path(str(resources.files("rapidocr") / "models" / filename))
    if not path.is_file():
        raise FileNotFoundError(f"RapidOCR's model {path} is missing: reinstall rapidocr")
    return path


def detection_input(image: Image.Image) -> np.ndarray:
    """The detector's input for an upright RGB image, as RapidOCR prepares it with this engine's settings
    (scaled to DETECTION_SIDE, normalised, channels first): what the quantized detector was calibrated on."""
    from rapidocr.ch_ppocr_det.utils import DetPreProcess
    return DetPreProcess(DETECTION_SIDE, "max")(_bgr(image))


def _bgr(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))[:, :, ::-1]  # RapidOCR takes OpenCV's BGR order


class TextReader:
    """One RapidOCR engine; each worker process holds its own (`threads`: ONNX Runtime's threads in it)."""

    def __init__(self, threads: int = 1):
        from rapidocr import RapidOCR  # loaded only by a reading: opening a project loads no model
        params = {"Det.model_path": str(DETECTOR), "Rec.model_path": str(wheel_model(RECOGNISER)),"Global.log_level": "error", "Global.use_cls": False,  # captions are upright
                  "Global.text_score": MIN_CONFIDENCE, "Global.max_side_len": MAX_SIDE,
                  "Det.limit_type": "max", "Det.limit_side_len": DETECTION_SIDE,
                  "Det.thresh": PIXEL_THRESHOLD, "Det.box_thresh": BOX_THRESHOLD,
                  "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                  "EngineConfig.onnxruntime.inter_op_num_threads": 1}
        self._engine = RapidOCR(params=params)

    def read(self, image: Image.Image) -> list[Word]:
        """The words of an upright RGB image, line by line in reading order."""
        pixels = _bgr(image)
        result = self._engine(pixels, return_word_box=True)
        if result.txts is None:
            return []
        height, width = pixels.shape[:2]
        words = []
        lines = [found for found in zip(result.txts, result.scores, result.boxes, result.word_results)
                 if sum(c.isalnum() for c in found[0]) >= MIN_LINE_CHARACTERS]
        for line, (text, score, box, parts) in enumerate(lines):
            # A line the recogniser could not split into words is one word.
            parts = [p for p in parts if p[0].strip() and p[2] is not None] or [(text, score, box)]
            for word_text, confidence, corners in parts:
                xs, ys = np.asarray(corners, dtype=float)[:, 0], np.asarray(corners, dtype=float)[:, 1]
                x0, y0 = max(xs.min(), 0) / width, max(ys.min(), 0) / height
                x1, y1 = min(xs.max(), width) / width, min(ys.max(), height) / height
                words.append(Word(word_text.strip(), round(float(confidence), 4), line,
                                  round(x0, 5), round(y0, 5), round(x1 - x0, 5), round(y1 - y0, 5)))
        return words


def open_upright(data: bytes | None, path: Path | None) -> Image.Image:
    """The original image (its bytes, or the file at `path`) turned upright and at most MAX_SIDE pixels
    long; UnreadableImage saying why when it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as img:
            img.draft("RGB", (MAX_SIDE, MAX_SIDE))  # a large JPEG is decoded at a fraction of its size
            upright = ImageOps.exif_transpose(img).convert("RGB")
    except FileNotFoundError as e:
        raise UnreadableImage(f"the file is gone: {e.filename}") from None
    except UnidentifiedImageError:
        raise UnreadableImage("not an image Pillow can read") from None
    except Image.DecompressionBombError as e:
        raise UnreadableImage(f"image too large to read safely: {e}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as e:
        raise UnreadableImage(f"corrupt image: {str(e).strip() or type(e).__name__}") from None
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    return upright
