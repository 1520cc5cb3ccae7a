"""The checks of arguments' shapes, written once: counts, ranges, image ids, names. The operations call them,
so a bad argument gets the same InvalidInput, naming the argument and the reason, through every door (the
Python API, the CLI, the HTTP API). The CLI's option types and the routes' body models refuse the plainest
mistakes earlier, with their own messages; what reaches an operation is checked here.

Each check returns the value it accepted, so a caller can check and use it in one line."""

from __future__ import annotations

import math
from typing import Iterable

from .errors import InvalidInput


def whole_number(name: str, value, *, minimum: int = 1, maximum: int | None = None) -> int:
    """`value` when it is an integer (not a bool) from `minimum` to `maximum`."""
    if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
            or (maximum is not None and value > maximum)):
        limit = f" and at most {maximum}" if maximum is not None else ""
        if minimum == 1:
            message = f"{name} must be a positive integer{limit}, not {value!r} ({name} must be an integer, 1 or more)"
        else:
            message = f"{name} must be an integer of at least {minimum}{limit}, not {value!r}"
        raise InvalidInput(message, **{name: _shown(value)})
    return value


def number_between(name: str, value, low: float, high: float, meaning: str = "a number") -> float:
    """`value` when it is a number (not a bool) from `low` to `high`; `meaning` says what it is ("a
    calibrated score")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidInput(f"{name} must be {meaning} between {low:g} and {high:g}, not {value!r}",
                           **{name: _shown(value)})
    return value


def image_ids(ids: Iterable, name: str = "ids") -> list[int]:
    """The image ids as integers (numbers in text are accepted, as a CSV or a URL gives them)."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise InvalidInput(f"{name} must be a list of image ids, not {_shown(ids)!r}", parameter=name)
    values = list(ids)
    try:
        return [int(value) for value in values]
    except (TypeError, ValueError):
        bad = next(value for value in values if not _converts(value))
        raise InvalidInput(f"image ids must be integers: {name} holds {_shown(bad)!r}", parameter=name) from None


def _converts(value) -> bool:
    try:
        int(value)
        return True
    except (TypeError, ValueError):
        return False


def comma_separated_ids(name: str, text: str) -> list[int]:
    """The image ids of a query parameter such as "1,2,3"."""
    try:
        return [int(i) for i in text.split(",") if i.strip()]
    except ValueError:
        raise InvalidInput(f"{name} must be comma-separated integers, not {text[:100]!r}", parameter=name) from None


def non_empty_name(what: str, value) -> str:
    """`value` when it is a text with something besides spaces: the name of a property, a tag, a view..."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"a {what} needs a non-empty name, not {_shown(value)!r}")
    return value


def _shown(value):
    """A value as an error's details may carry it (JSON): itself when plain, else its text, cut short."""
    return value if value is None or isinstance(value, (bool, int, float)) else str(value)[:100]


DEFAULT_FILM_EVERY = 5.0  # seconds between the frames taken from a film: the practice of the lab that asked for films


def film_sampling(every: float | None = DEFAULT_FILM_EVERY, shots: bool = False) -> dict:
    """The checked sampling of an import's films: a frame every `every` seconds (0 or None: none) and/or
    one per shot, with shot detection."""
    every = 0.0 if every is None else every
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not math.isfinite(every) or every < 0:
        raise InvalidInput(f"film_every is a number of seconds >= 0, not {every!r}", film_every=_shown(every))
    if 0 < every < 0.04:
        raise InvalidInput(f"film_every of {every} s would take every frame: give 0.04 s or more", film_every=every)
    if not isinstance(shots, bool):
        raise InvalidInput(f"film_shots is true or false, not {shots!r}", film_shots=_shown(shots))
    if every == 0 and not shots:
        raise InvalidInput("a film import takes frames every N seconds (film_every > 0), one per shot "
                           "(film_shots), or both", film_every=every)
    return {"every": float(every), "shots": shots}
