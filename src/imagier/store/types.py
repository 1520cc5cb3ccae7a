"""Property types and scopes, the built-in read-only properties, and the conversion of values.

A value arrives from the API, the CLI or a CSV cell as JSON or text; `coerce` turns it into what the
project stores (numbers as numbers, dates as ISO 8601 text, checkboxes as 0/1), or raises InvalidInput
saying why it cannot.
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import date, datetime
from urllib.parse import urlparse

from ..errors import InvalidInput, NotFound

TYPES = ("text", "number", "date", "checkbox", "url", "colour", "tag", "multi-tag", "path")
TAG_TYPES = ("tag", "multi-tag")
SCOPES = ("file", "content")

# Spellings found in other tools' exports (Panoptic among them) mapped to ours.
TYPE_ALIASES = {
    "multi_tags": "multi-tag", "multi_tag": "multi-tag", "multitag": "multi-tag", "multi-tags": "multi-tag",
    "tags": "multi-tag", "color": "colour", "string": "text", "str": "text", "int": "number",
    "float": "number", "bool": "checkbox", "boolean": "checkbox", "datetime": "date", "image_link": "url",
    "link": "url",
}

# A frame's time (seconds, fr.time) as a timecode, HH:MM:SS.mmm, which sorts as the times do.
_TIMECODE = ("CASE WHEN fr.time IS NULL THEN NULL ELSE printf('%02d:%02d:%06.3f', CAST(fr.time / 3600 AS INTEGER), "
             "CAST(fr.time / 60 AS INTEGER) % 60, fr.time - 60 * CAST(fr.time / 60 AS INTEGER)) END")

# name -> (type, SQL expression over files f, contents c, folders fo, and for the frames of films (migration
# 0009) frames fr and films fm; empty for other images). Read-only, always present.
BUILTINS: dict[str, tuple[str, str]] = {
    "path": ("path", "f.path"),
    "folder": ("path", "fo.path"),
    "name": ("text", "f.name"),
    "format": ("text", "c.format"),
    "width": ("number", "c.width"),
    "height": ("number", "c.height"),
    "size": ("number", "c.size"),
    "modified": ("date", "f.modified"),
    "taken": ("date", "c.taken"),
    "hash": ("text", "c.hash"),
    "imported": ("date", "f.imported"),
    "film": ("path", "fm.path"),
    "time": ("number", "fr.time"),  # seconds: grouped with a bin of 60, by minute
    "timecode": ("text", _TIMECODE),
    "shot": ("number", "fr.shot"),
    "shot start": ("number", "fr.shot_start"),
    "shot end": ("number", "fr.shot_end"),
}
FRAME_BUILTINS = ("film", "time", "timecode", "shot", "shot start", "shot end")

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_SHORT_COLOUR = re.compile(r"^#[0-9a-fA-F]{3}$")
_DATE_PARTIAL = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
TRUE_WORDS = {"true", "yes", "1", "x", "on", "checked"}
FALSE_WORDS = {"false", "no", "0", "", "off", "unchecked"}


def no_property(name, known: list[str]) -> NotFound:
    """The error for a property name the project does not have: every name it has, built-in ones too
    (often what was meant, misspelt), and the closest one."""
    candidates = known + list(BUILTINS)
    by_lower = {n.lower(): n for n in candidates}
    closest = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1)
    suggestion = by_lower[closest[0]] if closest else None
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    user = ", ".join(known) if known else "none yet"
    return NotFound(f"no property named {name!r}{hint} (the project's properties: {user}; "
                    f"built-in: {', '.join(BUILTINS)})", property=name, suggestion=suggestion)



def canonical_type(name: str) -> str:
    t = TYPE_ALIASES.get(name.strip().lower(), name.strip().lower())
    if t not in TYPES:
        raise InvalidInput(f"unknown property type {name!r}; the types are {', '.join(TYPES)}", type=name)
    return t


def normalise_date(value) -> str:
    """A date or datetime as ISO 8601 text ('2019-05-03' or '2019-05-03T14:02:00')."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if _DATE_PARTIAL.match(text):
        parts = text.split("-")
        try:
            date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1)
        except ValueError as e:
            raise InvalidInput(f"{text!r} is not a valid date: {e}") from None
        return text
    candidate = text.replace(" ", "T", 1).removesuffix("Z")
    if re.match(r"^\d{4}:\d{2}:\d{2}T", candidate):  # EXIF writes dates as 2019:05:03 14:02:00
        candidate = candidate[:10].replace(":", "-") + candidate[10:]
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (use ISO 8601, for example 2019-05-03 or 2019-05-03T14:02)") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone().replace(tzinfo=None)
    return parsed.replace(microsecond=0).isoformat()


def coerce(type_: str, value):
    """The stored form of `value` for a scalar property of type `type_`. None means "no value"."""
    if value is None:
        return None
    if type_ == "number":
        if isinstance(value, bool):
            raise InvalidInput(f"{value!r} is not a number")
        if isinstance(value, (int, float)):
            number = value
        else:
            text = str(value).strip().replace(",", ".") if str(value).count(",") == 1 and "." not in str(value) else str(value).strip()
            if text == "":
                return None
            try:
                number = float(text)
            except ValueError:
                raise InvalidInput(f"{value!r} is not a number") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise InvalidInput(f"{value!r} is not a finite number")
        if isinstance(number, float) and number.is_integer() and abs(number) < 2**53:
            number = int(number)
        return number
    if type_ == "checkbox":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (int, float)) and value in (0, 1):
            return int(value)
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return 1
        if word in FALSE_WORDS:
            return 0
        raise InvalidInput(f"{value!r} is not a checkbox value (use true or false)")
    if type_ == "date":
        if isinstance(value, str) and value.strip() == "":
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise InvalidInput(f"{value!r} is not a date (use ISO 8601 text, for example 2019-05-03)")
        return normalise_date(value)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise InvalidInput(f"{value!r} is not text")
    text = str(value)
    if type_ in ("text", "path"):
        return text if text != "" else None
    if type_ == "url":
        text = text.strip()
        if text == "":
            return None
        parsed = urlparse(text)
        if not parsed.scheme or not (parsed.netloc or parsed.scheme in ("mailto", "file", "data")):
            raise InvalidInput(f"{text!r} is not a URL (it needs a scheme, for example https://)")
        return text
    if type_ == "colour":
        text = text.strip()
        if text == "":
            return None
        if _SHORT_COLOUR.match(text):
            text = "#" + "".join(ch * 2 for ch in text[1:])
        if not _COLOUR.match(text):
            raise InvalidInput(f"{text!r} is not a colour (use #rrggbb)")
        return text.lower()
    raise InvalidInput(f"values of type {type_} are not scalar")


def present(type_: str, stored):
    """The API form of a stored scalar value."""
    if stored is None:
        return None
    if type_ == "checkbox":
        return bool(stored)
    return stored


PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46a0a0", "#f032e6", "#9a9a2a",
           "#e6a0a0", "#2a7a7a", "#9a6324", "#800000", "#2a9a6a", "#808000", "#000075", "#808080")
