"""The SQL of properties, tags and values (the rules over them are in operations/annotations.py).

A value's target is a file id, or for a property with scope "content" the file's content id, so every file
sharing those bytes shows it. Lists of ids travel to SQLite as one JSON array (json_each), whatever their
length.
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator, Sequence

import apsw

PROPERTY_COLUMNS = "id, name, type, scope, machine"
# The column of `files` that a value of each scope is attached to.
TARGET_COLUMN = {"file": "f.id", "content": "f.content_id"}


def _json(ids: Iterable[int]) -> str:
    return json.dumps(list(ids))


def _property_row(row) -> dict:
    return {"id": row[0], "name": row[1], "type": row[2], "scope": row[3], "builtin": False, "machine": bool(row[4])}


# ---- properties -----------------------------------------------------------------------------------

def properties(conn: apsw.Connection) -> list[dict]:
    """The user's properties, in their order."""
    return [_property_row(r) for r in conn.execute(f"SELECT {PROPERTY_COLUMNS} FROM properties ORDER BY position, id")]


def property_with_id(conn: apsw.Connection, id: int) -> dict | None:
    row = conn.execute(f"SELECT {PROPERTY_COLUMNS} FROM properties WHERE id = ?", (id,)).fetchone()
    return None if row is None else _property_row(row)


def property_named(conn: apsw.Connection, name: str) -> dict | None:
    row = conn.execute(f"SELECT {PROPERTY_COLUMNS} FROM properties WHERE name = ?", (name,)).fetchone()
    return None if row is None else _property_row(row)


def property_names(conn: apsw.Connection) -> list[str]:
    """The user's property names, in their order."""
    return [r[0] for r in conn.execute("SELECT name FROM properties ORDER BY position, id")]


def add_property(conn: apsw.Connection, name: str, type: str, scope: str) -> None:
    """A new property, after the others."""
    position = conn.execute("SELECT coalesce(max(position), 0) + 1 FROM properties").fetchone()[0]
    conn.execute("INSERT INTO properties(name, type, scope, position) VALUES (?, ?, ?, ?)",
                 (name, type, scope, position))


def rename_property(conn: apsw.Connection, id: int, name: str) -> None:
    conn.execute("UPDATE properties SET name = ? WHERE id = ?", (name, id))


def delete_property(conn: apsw.Connection, id: int) -> None:
    """Delete a property; its tags and values go with it (foreign keys)."""
    conn.execute("DELETE FROM properties WHERE id = ?", (id,))


# ---- tags -----------------------------------------------------------------------------------------

def tags(conn: apsw.Connection, property_id: int) -> list[dict]:
    """The tags of a property by name: id, name, colour, parent ids and number of images."""
    parents: dict[int, list[int]] = {}
    for tag_id, parent_id in conn.execute(
            "SELECT tp.tag_id, tp.parent_id FROM tag_parents tp JOIN tags t ON t.id = tp.tag_id "
            "WHERE t.property_id = ?", (property_id,)):
        parents.setdefault(tag_id, []).append(parent_id)
    # Each tag's count from its own range of the tag_values_tag index: at 500,000 images, a fifth of the
    # time of grouping the property's rows by tag.
    return [{"id": r[0], "name": r[1], "colour": r[2], "parents": sorted(parents.get(r[0], [])), "count": r[3]}
            for r in conn.execute("SELECT id, name, colour, "
                                  "(SELECT count(*) FROM tag_values v WHERE v.tag_id = t.id) "
                                  "FROM tags t WHERE property_id = ? ORDER BY name", (property_id,))]


def tag_with_id(conn: apsw.Connection, property_id: int, tag_id: int) -> int | None:
    """`tag_id` when it is a tag of the property, else None."""
    row = conn.execute("SELECT id FROM tags WHERE id = ? AND property_id = ?", (tag_id, property_id)).fetchone()
    return None if row is None else row[0]


def tag_named(conn: apsw.Connection, property_id: int, name: str) -> int | None:
    """The id of the property's tag of this name, or None."""
    row = conn.execute("SELECT id FROM tags WHERE property_id = ? AND name = ?", (property_id, name)).fetchone()
    return None if row is None else row[0]


def tag_name(conn: apsw.Connection, tag_id: int) -> str:
    return conn.execute("SELECT name FROM tags WHERE id = ?", (tag_id,)).fetchone()[0]


def tag_count(conn: apsw.Connection, property_id: int) -> int:
    return conn.execute("SELECT count(*) FROM tags WHERE property_id = ?", (property_id,)).fetchone()[0]


def add_tag(conn: apsw.Connection, property_id: int, name: str, colour: str) -> int:
    """A new tag of the property; its id."""
    conn.execute("INSERT INTO tags(property_id, name, colour) VALUES (?, ?, ?)", (property_id, name, colour))
    return conn.last_insert_rowid()


def rename_tag(conn: apsw.Connection, tag_id: int, name: str) -> None:
    conn.execute("UPDATE tags SET name = ? WHERE id = ?", (name, tag_id))


def set_tag_colour(conn: apsw.Connection, tag_id: int, colour: str) -> None:
    conn.execute("UPDATE tags SET colour = ? WHERE id = ?", (colour, tag_id))


def remove_parents(conn: apsw.Connection, tag_id: int) -> None:
    conn.execute("DELETE FROM tag_parents WHERE tag_id = ?", (tag_id,))


def add_parent(conn: apsw.Connection, tag_id: int, parent_id: int) -> None:
    conn.execute("INSERT OR IGNORE INTO tag_parents(tag_id, parent_id) VALUES (?, ?)", (tag_id, parent_id))


def delete_tags(conn: apsw.Connection, tag_ids: Sequence[int]) -> None:
    """Delete tags; images lose them, their children lose them as parents (foreign keys)."""
    conn.execute("DELETE FROM tags WHERE id IN (SELECT value FROM json_each(?))", (_json(tag_ids),))


def descendants(conn: apsw.Connection, tag_ids: Sequence[int]) -> set[int]:
    """These tags and every tag below them."""
    rows = conn.execute(
        "WITH RECURSIVE d(id) AS (SELECT value FROM json_each(?) UNION "
        "SELECT tp.tag_id FROM tag_parents tp JOIN d ON tp.parent_id = d.id) SELECT id FROM d",
        (_json(tag_ids),)).fetchall()
    return {r[0] for r in rows}


def children(conn: apsw.Connection, tag_ids: Sequence[int]) -> list[int]:
    """The tags whose parents include one of these."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT tag_id FROM tag_parents WHERE parent_id IN (SELECT value FROM json_each(?))",
        (_json(tag_ids),))]


def copy_tag_values(conn: apsw.Connection, source_ids: Sequence[int], target_id: int) -> None:
    """Give the target tag to every image that has one of the source tags."""
    conn.execute("INSERT OR IGNORE INTO tag_values(property_id, target_id, tag_id) SELECT property_id, target_id, ? "
                 "FROM tag_values WHERE tag_id IN (SELECT value FROM json_each(?))", (target_id, _json(source_ids)))


def keep_only_tag(conn: apsw.Connection, property_id: int, tag_id: int) -> None:
    """Take every other tag of the property from the images that have this one."""
    conn.execute("DELETE FROM tag_values WHERE property_id = ? AND tag_id <> ? AND target_id IN "
                 "(SELECT target_id FROM tag_values WHERE tag_id = ?)", (property_id, tag_id, tag_id))


# ---- values ---------------------------------------------------------------------------------------

def targets_of_files(conn: apsw.Connection, file_ids: Sequence[int], scope: str) -> dict[int, int]:
    """{file id: the target of its values in this scope} for the files among `file_ids` that exist."""
    return dict(conn.execute(f"SELECT f.id, {TARGET_COLUMN[scope]} FROM json_each(?) s JOIN files f ON f.id = s.value",
                             (_json(file_ids),)).fetchall())


def existing_file_count(conn: apsw.Connection, file_ids: Sequence[int]) -> int:
    """How many of these (distinct) file ids name a file."""
    return conn.execute("SELECT count(*) FROM json_each(?) s JOIN files f ON f.id = s.value",
                        (_json(file_ids),)).fetchone()[0]


def set_value(conn: apsw.Connection, property_id: int, targets: Sequence[int], value) -> None:
    """Give every target this (stored) value."""
    conn.execute("INSERT INTO property_values(property_id, target_id, value) SELECT ?, value, ? FROM json_each(?) "
                 "WHERE true ON CONFLICT DO UPDATE SET value = excluded.value", (property_id, value, _json(targets)))


def set_each_value(conn: apsw.Connection, property_id: int, values: Iterable[tuple[int, object]]) -> None:
    """Give each target its own (stored) value: (target, value) pairs."""
    conn.executemany("INSERT INTO property_values(property_id, target_id, value) VALUES (?, ?, ?) "
                     "ON CONFLICT DO UPDATE SET value = excluded.value",
                     [(property_id, target, value) for target, value in values])


def delete_values(conn: apsw.Connection, property_id: int, targets: Sequence[int]) -> None:
    """Remove the property's value (not its tags) from the targets."""
    conn.execute("DELETE FROM property_values WHERE property_id = ? AND target_id IN (SELECT value FROM json_each(?))",
                 (property_id, _json(targets)))


def add_tag_values(conn: apsw.Connection, property_id: int, targets: Sequence[int], tag_ids: Sequence[int]) -> None:
    """Give every target these tags, keeping the ones they have."""
    targets_json = _json(targets)
    for tag_id in tag_ids:
        conn.execute("INSERT OR IGNORE INTO tag_values(property_id, target_id, tag_id) SELECT ?, value, ? "
                     "FROM json_each(?)", (property_id, tag_id, targets_json))


def add_each_tag_value(conn: apsw.Connection, property_id: int, pairs: Iterable[tuple[int, int]]) -> None:
    """Give each target its tag: (target, tag id) pairs."""
    conn.executemany("INSERT OR IGNORE INTO tag_values(property_id, target_id, tag_id) VALUES (?, ?, ?)",
                     [(property_id, target, tag_id) for target, tag_id in pairs])


def delete_tag_values(conn: apsw.Connection, property_id: int, targets: Sequence[int],
                      tag_ids: Sequence[int] | None = None) -> None:
    """Take these tags (every tag of the property, when None) from the targets."""
    if tag_ids is None:
        conn.execute("DELETE FROM tag_values WHERE property_id = ? AND target_id IN (SELECT value FROM json_each(?))",
                     (property_id, _json(targets)))
    else:
        conn.execute("DELETE FROM tag_values WHERE property_id = ? AND target_id IN (SELECT value FROM json_each(?)) "
                     "AND tag_id IN (SELECT value FROM json_each(?))", (property_id, _json(targets), _json(tag_ids)))


def values_of_files(conn: apsw.Connection, file_ids: Sequence[int], scope: str) -> Iterator[tuple[int, int, object]]:
    """(file id, property id, stored value) of every value of these files in the properties of this scope, as
    SQLite reads them (a CSV export reads hundreds of thousands: no list of them is built)."""
    return conn.execute(
        f"SELECT f.id, pv.property_id, pv.value FROM json_each(?) s JOIN files f ON f.id = s.value "
        f"JOIN properties p ON p.scope = ? JOIN property_values pv "
        f"ON pv.property_id = p.id AND pv.target_id = {TARGET_COLUMN[scope]}", (_json(file_ids), scope))


def tag_names_of_files(conn: apsw.Connection, file_ids: Sequence[int], scope: str) -> Iterator[tuple[int, int, str]]:
    """(file id, property id, tag name) of every tag of these files in the properties of this scope, by name,
    as SQLite reads them."""
    return conn.execute(
        f"SELECT f.id, tv.property_id, t.name FROM json_each(?) s JOIN files f ON f.id = s.value "
        f"JOIN properties p ON p.scope = ? JOIN tag_values tv ON tv.property_id = p.id "
        f"AND tv.target_id = {TARGET_COLUMN[scope]} JOIN tags t ON t.id = tv.tag_id ORDER BY t.name",
        (_json(file_ids), scope))
