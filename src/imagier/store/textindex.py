"""The SQL of the full-text index of text values (migration 0006): the condition that finds the targets
whose text matches an FTS5 query (store/compiler.py reads the user's search into one), the index's size, and
where a query matches one text (the words the image detail highlights).

The index (`text_index`, FTS5, contentless) is kept in step with property_values by triggers, so nothing
here writes to it. Its row for a value is numbered property_id * 2^32 + target_id.
"""

from __future__ import annotations

import re
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


# Around each run of matched words in FTS5's highlight(): control characters, which the tokenizer reads as
# separators, so they are taken out of the text first and only FTS5's own mark a match.
_MATCH_START, _MATCH_END = "\x01", "\x02"


def matched_spans(conn: apsw.Connection, query: str, text: str) -> list[tuple[int, int]]:
    """Where the FTS5 `query` matches `text` as the index reads it: (start, end) character spans, in order.
    The text goes through the index's own tokenizer (read from the project's schema, so case and accents
    fold as they do in a search) in a scratch table of this connection, and FTS5's highlight() marks the
    words of its phrases and prefixes. No span when the text as a whole does not match (a word missing, a NOT
    that excludes it), as the search would not find it."""
    schema = conn.execute("SELECT sql FROM main.sqlite_master WHERE name = 'text_index'").fetchone()[0]
    tokenize = re.search(r"tokenize\s*=\s*('(?:[^']|'')*')", schema).group(1)
    # In temp: the project file is not written, not even when this connection is inside a write.
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.text_matching USING fts5(value, tokenize = {tokenize})")
    conn.execute("DELETE FROM temp.text_matching")
    conn.execute("INSERT INTO temp.text_matching(value) VALUES (?)",
                 (text.replace(_MATCH_START, " ").replace(_MATCH_END, " "),))
    row = conn.execute("SELECT highlight(text_matching, 0, ?, ?) FROM temp.text_matching WHERE text_matching MATCH ?",
                       (_MATCH_START, _MATCH_END, query)).fetchone()
    spans, position, start = [], 0, 0
    for character in row[0] if row is not None else "":
        if character == _MATCH_START:
            start = position
        elif character == _MATCH_END:
            spans.append((start, position))
        else:
            position += 1
    return spans
