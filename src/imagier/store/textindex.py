"""The SQL of the full-text index of text values (migration 0006): the condition that finds the targets
whose text matches an FTS5 query (store/compiler.py reads the user's search into one), and the index's size.

The index (`text_index`, FTS5, contentless) is kept in step with property_values by triggers, so nothing
here writes to it. Its row for a value is numbered property_id * 2^32 + target_id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # the compiler imports this module where no database can be opened
    import apsw

TARGET_BITS = 32
TARGET_MASK = (1 << TARGET_BITS) - 1


def match_sql(key: str, property_ids: Sequence[int]) -> str:
    """An SQL condition: `key` (f.id or f.content_id) is the target of a value of one of these properties
    whose text matches the FTS5 query bound to its one parameter."""
    ranges = " OR ".join(f"rowid BETWEEN {pid << TARGET_BITS} AND {(pid << TARGET_BITS) | TARGET_MASK}"
                         for pid in sorted(property_ids))
    return (f"{key} IN (SELECT rowid & {TARGET_MASK} FROM text_index "
            f"WHERE text_index MATCH ? AND ({ranges or '0'}))")


def size(conn: apsw.Connection) -> int:
    """The bytes the index takes in the project file (its shadow tables' pages)."""
    return conn.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'text_index%'").fetchone()[0]
