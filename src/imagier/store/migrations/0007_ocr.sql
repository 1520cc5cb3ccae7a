-- The text read in images (OCR). `ocr_reads` says which contents were read, by which engine, and when,
-- including those where no text was found, so a resumed job skips them. `ocr_words` keeps each word with
-- its confidence and its box as fractions of the upright image's width and height (so a page draws it over
-- a picture of any size). Derived data like the vectors: recomputed by the next reading, not undoable.
CREATE TABLE ocr_reads (
    content_id INTEGER PRIMARY KEY REFERENCES contents(id) ON DELETE CASCADE,
    engine     TEXT NOT NULL,
    read       TEXT NOT NULL                  -- ISO 8601 time stamp
);

CREATE TABLE ocr_words (
    content_id INTEGER NOT NULL REFERENCES ocr_reads(content_id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,              -- reading order: line by line, then left to right
    line       INTEGER NOT NULL,              -- the line (text box) the word belongs to
    text       TEXT NOT NULL,
    confidence REAL NOT NULL,
    x          REAL NOT NULL,                 -- left edge, fraction of the width
    y          REAL NOT NULL,                 -- top edge, fraction of the height
    w          REAL NOT NULL,
    h          REAL NOT NULL,
    PRIMARY KEY (content_id, position)
) WITHOUT ROWID;
