"""Reading one image file: its hash, its metadata and its thumbnail, from a single decode.

`decode` is a top-level function of plain arguments and a plain result, so worker processes can run it.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

pillow_heif.register_heif_opener()

THUMBNAIL_SIZE = 256
THUMBNAIL_QUALITY = 80

_EXIF_IFD = 0x8769
_ORIENTATION = 0x0112
_DATETIME = 0x0132
_DATETIME_ORIGINAL = 0x9003

# How to turn the stored pixels upright for each EXIF orientation (the same table as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Multi-picture JPEGs (most camera files) are JPEGs to a user.
_FORMAT_NAMES = {"MPO": "JPEG"}


class DecodeError(Exception):
    """The file is not an image that can be imported; the message says why."""


@dataclass(frozen=True)
class Decoded:
    path: str
    size: int
    mtime_ns: int
    hash: str  # hex SHA-256 of the bytes
    format: str
    width: int  # as displayed, EXIF orientation applied
    height: int
    taken: str | None  # ISO 8601, naive
    orientation: int
    thumbnail: bytes  # JPEG
    thumbnail_width: int
    thumbnail_height: int
    data: bytes | None = None  # the file's bytes, when asked for


def decode(path: str, keep_bytes: bool = False) -> Decoded:
    """Read the file once and describe it. Raises DecodeError for anything that is not a whole image."""
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            data = f.read()
    except OSError as e:
        raise DecodeError(f"cannot read file: {e.strerror or e}") from None
    return decode_bytes(data, path, stat.st_mtime_ns, keep_bytes)


def decode_bytes(data: bytes, path: str, mtime_ns: int, keep_bytes: bool = False) -> Decoded:
    """Describe an image's bytes read elsewhere (fetched from a IIIF server) as `decode` describes a file's:
    `path` and `mtime_ns` are what the project records for them."""
    if not data:
        raise DecodeError("empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
        orientation, taken = _metadata(img)
        width, height = img.size
        if img.format in ("JPEG", "MPO"):
            # Let libjpeg decode at 1/2..1/8 scale. Draft keeps both sides at least as big as asked, so ask
            # for the thumbnail's own shape, not a square, or wide images are decoded larger than needed.
            longest = max(width, height)
            img.draft("RGB", (-(-THUMBNAIL_SIZE * width // longest), -(-THUMBNAIL_SIZE * height // longest)))
        # A truncated file may still yield an image padded with grey: only a full load notices.
        img.load()
        thumb = _thumbnail(img, orientation)
    except UnidentifiedImageError:
        raise DecodeError("not an image Pillow can read") from None
    except Image.DecompressionBombError as e:
        raise DecodeError(f"image too large to import safely: {e}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as e:
        reason = str(e).strip() or type(e).__name__
        if "truncated" in reason or "end of file" in reason.lower():
            raise DecodeError(f"truncated image: {reason}") from None
        raise DecodeError(f"corrupt image: {reason}") from None
    if orientation >= 5:
        width, height = height, width
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return Decoded(
        path=path,
        size=len(data),
        mtime_ns=mtime_ns,
        hash=hashlib.sha256(data).hexdigest(),
        format=_FORMAT_NAMES.get(img.format, img.format),
        width=width,
        height=height,
        taken=taken,
        orientation=orientation,
        thumbnail=out.getvalue(),
        thumbnail_width=thumb.width,
        thumbnail_height=thumb.height,
        data=data if keep_bytes else None,
    )


def _metadata(img: Image.Image) -> tuple[int, str | None]:
    """The EXIF orientation (1-8) and date taken. Unreadable EXIF counts as none: the pixels may be fine."""
    try:
        exif = img.getexif()
        orientation = exif.get(_ORIENTATION, 1)
        dates = (exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL), exif.get(_DATETIME))
    except Exception:  # noqa: BLE001 - Pillow raises many kinds of error on malformed EXIF
        return 1, None
    return (orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1), _taken(dates)


def _taken(dates) -> str | None:
    """The first readable EXIF date as 'YYYY-MM-DDTHH:MM:SS'; None when there is none."""
    for value in dates:
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str):
            try:
                # Cameras write "YYYY:MM:DD HH:MM:SS"; blank or "0000:00:00 ..." means unknown.
                return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S").isoformat()
            except ValueError:
                continue
    return None


def _thumbnail(img: Image.Image, orientation: int) -> Image.Image:
    """An upright RGB image whose long side is THUMBNAIL_SIZE (smaller images are not enlarged)."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        img = _stretch_to_8bit(img)
    elif img.mode not in ("RGB", "RGBA", "L", "LA"):
        # Palette and bilevel images would be resized by nearest neighbour: convert them first.
        transparent = img.mode in ("PA", "RGBa", "La") or "transparency" in img.info
        img = img.convert("RGBA" if transparent else "RGB")
    img.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    if img.mode in ("RGBA", "LA"):
        # Transparent areas show as white, as on a page, rather than as whatever colour they hide.
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, "white")
        img.paste(rgba, mask=rgba.getchannel("A"))
    elif img.mode != "RGB":
        img = img.convert("RGB")
    if orientation in _UPRIGHT:
        img = img.transpose(_UPRIGHT[orientation])
    return img


def _stretch_to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and float images (scientific TIFFs, PNGs) spread over 0..255; Pillow's conversion would clip them."""
    values = np.asarray(img, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return Image.fromarray(scaled.astype(np.uint8), "L")
