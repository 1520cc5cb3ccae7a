"""The suggestions a user rejected, per group, so they are never proposed again for that group.

A group is named by a canonical JSON key ({"property": name, "value": value}); a rejection is of a
content, so every file with the same bytes is rejected with it.
"""

from __future__ import annotations

import json

import apsw

from .oplog import now


def group_key(property_name: str, value) -> str:
    """The canonical key of the group of images whose `property_name` is `value`."""
    return json.dumps({"property": property_name, "value": value}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def reject(conn: apsw.Connection, key: str, content_ids) -> int:
    """Remember these contents as rejected for the group; returns how many were new."""
    before = conn.total_changes()
    conn.executemany("INSERT OR IGNORE INTO rejected_suggestions(group_key, content_id, rejected) VALUES (?, ?, ?)",
                     [(key, int(c), now()) for c in content_ids])
    return conn.total_changes() - before


def rejected(conn: apsw.Connection, key: str) -> list[int]:
    """The contents rejected for the group."""
    return [r[0] for r in conn.execute(
        "SELECT content_id FROM rejected_suggestions WHERE group_key = ? ORDER BY content_id", (key,))]
