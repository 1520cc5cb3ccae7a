"""The query engine's SQL: a view (filter tree, sort keys, group keys), compiled to one SQL statement by
store/compiler.py against a snapshot of the project's properties and tags (operations/query.py checks the
view, keeps the snapshot and refuses what fails), run here and its rows ordered and grouped.

SQLite filters, and sorts by text keys; the statement returns a single row holding the ids of the
matching images as one text and, per group key and numeric sort key, the rows' values (numbers as text
for NumPy to parse, text as a JSON array). Shipping a few strings out of SQLite instead of 500,000 rows
saves most of the time Python would spend fetching, and NumPy orders by numbers and groups
(np.lexsort) several times faster than SQLite's sorter.

What a filter, a sort and a grouping mean is said in store/compiler.py. Of the result:
- Groups are ordered by key, the group of images without a value (key null) last. Grouping by a
  multi-tag property puts an image in the group of each of its tags, so `ids` may hold an image more
  than once: `total` counts images, `rows` counts entries of `ids`, and a group's `count` is its
  number of entries (`end - start`).
- A date less precise than the grouping keeps its own precision as key ("2019" among months).
"""

from __future__ import annotations

import json
import math
import weakref
from bisect import bisect_left, bisect_right

import apsw
import numpy as np

from .compiler import CompiledView, Key, Tag, regex


def _regexp(pattern, value) -> bool:
    # SQLite evaluates `x REGEXP p` as regexp(p, x).
    return value is not None and regex(pattern).Match(str(value)) is not None


def _fold(value):
    return None if value is None else str(value).casefold()


_PREPARED: weakref.WeakSet = weakref.WeakSet()


def prepare(conn: apsw.Connection) -> apsw.Connection:
    """Give a connection the SQL functions that compiled views call (once per connection)."""
    if conn not in _PREPARED:
        conn.create_scalar_function("regexp", _regexp, 2, deterministic=True)
        conn.create_scalar_function("imagier_fold", _fold, 1, deterministic=True)
        _PREPARED.add(conn)
    return conn


def tags(conn: apsw.Connection) -> dict[int, list[Tag]]:
    """Every tag, by property id, each with the parents it had at the same moment (one statement)."""
    found: dict[int, list[Tag]] = {}
    for tag_id, property_id, name, parents in conn.execute(
            "SELECT t.id, t.property_id, t.name, "
            "(SELECT json_group_array(parent_id) FROM tag_parents WHERE tag_id = t.id) FROM tags t"):
        found.setdefault(property_id, []).append(Tag(tag_id, name, tuple(json.loads(parents))))
    return found


def run_view(conn: apsw.Connection, view: CompiledView, offset: int, limit: int | None) -> dict:
    """The images of a compiled view, in order: {"total", "rows", "ids", "groups"?} (see Querying.query).
    An apsw.SQLError when SQLite cannot run it."""
    ids_text, *columns = prepare(conn).execute(view.sql, view.params).fetchone()
    ids = _numbers(ids_text, np.int64)
    values = [_numbers(column, float) if key.numeric else json.loads(column)
              for key, column in zip(view.groups + view.sort, columns)]
    codes = [_codes(key, column) for key, column in zip(view.groups + view.sort, values)]
    # np.lexsort is stable and sorts by its last key first: the group keys, then the numeric sort keys,
    # keeping the order SQLite gave to rows that tie on them.
    order = np.lexsort(codes[::-1]) if codes else np.arange(len(ids))
    result = {"total": _distinct(ids) if view.repeats else len(ids), "rows": len(ids),
              "ids": ids[order][offset:None if limit is None else offset + limit].tolist()}
    if view.groups:
        levels = [(key, column, code[order]) for key, column, code in zip(view.groups, values, codes)]
        result["groups"] = _tree(levels, order)
    return result


def _codes(key: Key, values) -> np.ndarray:
    """Per row, a number that orders the rows by this key: missing values get +inf, last either way."""
    if key.tag_names is not None:
        codes = _tag_ranks(values, key.tag_names)
    else:
        codes = values.copy() if key.numeric else _ranks(values)
    if key.desc:
        codes = -codes
    codes[np.isnan(codes)] = np.inf
    return codes


def _present(key: Key, value):
    """A group's key as the API shows it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if key.tag_names is not None:
        return key.tag_names[int(value)]
    if key.field.type == "checkbox":
        return bool(value)
    if isinstance(value, float) and value.is_integer():  # numbers come back from SQLite as floats
        return int(value)
    return value


def _distinct(ids: np.ndarray) -> int:
    seen = np.zeros(int(ids.max()) + 1 if len(ids) else 0, dtype=bool)
    seen[ids] = True
    return int(seen.sum())


def _numbers(text: str | None, dtype) -> np.ndarray:
    return np.fromstring(text, dtype=dtype, sep=",") if text else np.zeros(0, dtype)


def _ranks(values: list) -> np.ndarray:
    """Per row, the rank of its text among the distinct texts (NaN when missing). Only the distinct values
    are sorted, and group keys (dates by month, folders, formats) have few."""
    distinct = [v for v in dict.fromkeys(values) if v is not None]
    rank = dict(zip(sorted(distinct), range(len(distinct))))
    rank[None] = math.nan
    return np.fromiter(map(rank.__getitem__, values), dtype=float, count=len(values))


def _tag_ranks(tag_ids: np.ndarray, names: dict) -> np.ndarray:
    """Per row, the rank of its tag's name among the property's tags (NaN when it has no tag)."""
    by_name = np.full(max(names, default=0) + 1, np.nan)
    by_name[sorted(names, key=names.__getitem__)] = np.arange(len(names))
    ranks = np.full(len(tag_ids), np.nan)
    tagged = ~np.isnan(tag_ids)
    ranks[tagged] = by_name[tag_ids[tagged].astype(np.int64)]
    return ranks


def _tree(levels: list, order: np.ndarray) -> list[dict]:
    """The group tree of the ordered rows. levels: per group key, (key, its values by row as fetched, its
    codes in sorted order); a group ends where the codes of its level or of a level above change."""
    rows = len(order)
    changed = np.zeros(max(rows - 1, 0), dtype=bool)
    bounds = []
    for _, _, codes in levels:
        changed |= codes[1:] != codes[:-1]
        bounds.append(np.concatenate(([0], np.flatnonzero(changed) + 1, [rows])).tolist())
    # Each level shows its key from the row that starts the group.
    shown = [(key, values, bound) for (key, values, _), bound in zip(levels, bounds)]
    return _groups_between(shown, order, 0, 0, rows) if rows else []


def _groups_between(levels: list, order: np.ndarray, depth: int, start: int, end: int) -> list[dict]:
    key, values, bounds = levels[depth]
    cuts = bounds[bisect_left(bounds, start):bisect_right(bounds, end)]
    return [{"key": _present(key, values[order[a]]), "count": b - a, "start": a, "end": b,
             "groups": _groups_between(levels, order, depth + 1, a, b) if depth + 1 < len(levels) else []}
            for a, b in zip(cuts, cuts[1:])]
