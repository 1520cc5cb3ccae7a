"""The SQL of the text read in images: which contents were read (`ocr_reads`) and their words with
confidences and boxes (`ocr_words`); see ocr/reading.py."""

from __future__ import annotations

import json

import apsw

from .oplog import now

WORD_COLUMNS = ("line", "text", "confidence", "x", "y", "w", "h")


def unread_contents(conn: apsw.Connection) -> list[int]:
    """The contents no reading has covered yet, by id."""
    return [r[0] for r in conn.execute(
        "SELECT id FROM contents WHERE id NOT IN (SELECT content_id FROM ocr_reads) ORDER BY id")]


def read_count(conn: apsw.Connection) -> int:
    return conn.execute("SELECT count(*) FROM ocr_reads").fetchone()[0]


def save_reading(conn: apsw.Connection, content_id: int, engine: str, words: list[tuple]) -> None:
    """Record that a content was read, replacing an earlier reading; `words` are tuples of WORD_COLUMNS in
    reading order."""
    conn.execute("DELETE FROM ocr_words WHERE content_id = ?", (content_id,))
    conn.execute("INSERT OR REPLACE INTO ocr_reads(content_id, engine, read) VALUES (?, ?, ?)",
                 (content_id, engine, now()))
    conn.executemany("INSERT INTO ocr_words(content_id, position, line, text, confidence, x, y, w, h) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [(content_id, position, *word) for position, word in enumerate(words)])


def reading(conn: apsw.Connection, content_id: int) -> dict | None:
    """The reading of a content: {"engine", "read", "words": [{WORD_COLUMNS}]}, or None when unread."""
    row = conn.execute("SELECT engine, read FROM ocr_reads WHERE content_id = ?", (content_id,)).fetchone()
    if row is None:
        return None
    words = [dict(zip(WORD_COLUMNS, w)) for w in conn.execute(
        "SELECT line, text, confidence, x, y, w, h FROM ocr_words WHERE content_id = ? ORDER BY position",
        (content_id,))]
    return {"engine": row[0], "read": row[1], "words": words}


def words_of_contents(conn: apsw.Connection, content_ids: list[int]) -> dict[int, list[dict]]:
    """The words read in these contents, {content id: [{WORD_COLUMNS}] in reading order}; a content read
    without text maps to [], one never read is absent."""
    chosen = json.dumps([int(c) for c in content_ids])
    found: dict[int, list[dict]] = {content_id: [] for (content_id,) in conn.execute(
        "SELECT r.content_id FROM json_each(?) s JOIN ocr_reads r ON r.content_id = s.value", (chosen,))}
    for content_id, *word in conn.execute(
            "SELECT w.content_id, w.line, w.text, w.confidence, w.x, w.y, w.w, w.h FROM json_each(?) s "
            "JOIN ocr_words w ON w.content_id = s.value ORDER BY w.content_id, w.position", (chosen,)):
        found[content_id].append(dict(zip(WORD_COLUMNS, word)))
    return found
