-- The first schema of an imagier project file.
-- Every table that user annotations touch has an explicit primary key: the undo log records
-- changes with SQLite's session extension, which only tracks tables with one.

CREATE TABLE folders (
    id        INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
    path      TEXT NOT NULL UNIQUE,          -- absolute POSIX path, no trailing slash
    name      TEXT NOT NULL
);
CREATE INDEX folders_parent ON folders(parent_id);

-- One row per distinct file content (the bytes' SHA-256); files with identical bytes share it.
CREATE TABLE contents (
    id          INTEGER PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,        -- hex SHA-256 of the file bytes
    format      TEXT NOT NULL,               -- JPEG, PNG, WEBP, GIF, TIFF, BMP, HEIF
    width       INTEGER NOT NULL,            -- as displayed, EXIF orientation applied
    height      INTEGER NOT NULL,
    size        INTEGER NOT NULL,            -- bytes
    taken       TEXT,                        -- EXIF DateTimeOriginal as ISO 8601, naive
    orientation INTEGER NOT NULL DEFAULT 1   -- EXIF orientation of the original bytes
);
CREATE INDEX contents_width ON contents(width);
CREATE INDEX contents_height ON contents(height);
CREATE INDEX contents_taken ON contents(taken);
CREATE INDEX contents_size ON contents(size);

-- One row per file path ("instance").
CREATE TABLE files (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    folder_id   INTEGER NOT NULL REFERENCES folders(id),
    name        TEXT NOT NULL,
    content_id  INTEGER NOT NULL REFERENCES contents(id),
    modified    TEXT NOT NULL,               -- file mtime, ISO 8601 UTC
    mtime_ns    INTEGER NOT NULL,            -- raw mtime, to notice changed files on re-import
    imported    TEXT NOT NULL                -- ISO 8601 UTC
);
CREATE INDEX files_folder ON files(folder_id);
CREATE INDEX files_content ON files(content_id);
CREATE INDEX files_name ON files(name);
CREATE INDEX files_modified ON files(modified);
CREATE INDEX files_imported ON files(imported);

CREATE TABLE thumbnails (
    content_id INTEGER PRIMARY KEY REFERENCES contents(id) ON DELETE CASCADE,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    data       BLOB NOT NULL                 -- JPEG
);

-- The original bytes, only when the project was asked to store them (for sharing).
CREATE TABLE originals (
    content_id INTEGER PRIMARY KEY REFERENCES contents(id) ON DELETE CASCADE,
    data       BLOB NOT NULL
);

CREATE TABLE properties (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE COLLATE NOCASE,
    type     TEXT NOT NULL CHECK (type IN ('text', 'number', 'date', 'checkbox', 'url', 'colour',
                                           'tag', 'multi-tag', 'path')),
    scope    TEXT NOT NULL CHECK (scope IN ('file', 'content')),
    position INTEGER NOT NULL DEFAULT 0
);

-- Values of scalar properties. target_id is a files.id or a contents.id, as the property's scope says.
-- `value` has no declared type, so SQLite keeps each value as stored: numbers as numbers, everything else
-- as text (dates in ISO 8601, checkboxes as 0/1), and one index serves filters and sorts of every type.
-- (A declared ANY would mean numeric affinity outside a STRICT table, turning the text "007" into 7.)
CREATE TABLE property_values (
    property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    target_id   INTEGER NOT NULL,
    value       NOT NULL,
    PRIMARY KEY (property_id, target_id)
) WITHOUT ROWID;
CREATE INDEX property_values_value ON property_values(property_id, value, target_id);

CREATE TABLE tags (
    id          INTEGER PRIMARY KEY,
    property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    colour      TEXT NOT NULL,               -- #rrggbb
    UNIQUE (property_id, name)
);

-- The parent DAG of tags (a tag may have several parents; cycles are refused by the code).
CREATE TABLE tag_parents (
    tag_id    INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    parent_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (tag_id, parent_id)
) WITHOUT ROWID;
CREATE INDEX tag_parents_parent ON tag_parents(parent_id);

-- Values of tag and multi-tag properties: one row per (image, tag).
CREATE TABLE tag_values (
    property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    target_id   INTEGER NOT NULL,
    tag_id      INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (property_id, target_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX tag_values_tag ON tag_values(tag_id, target_id);

-- Saved view states (filter, sort, group, display), one per tab.
CREATE TABLE views (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL,
    state    TEXT NOT NULL,                  -- JSON
    position INTEGER NOT NULL DEFAULT 0
);

-- The persistent operation log. An undoable operation keeps the SQLite changeset of what it did;
-- undo applies its inverse, redo applies it again.
CREATE TABLE ops (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,
    label     TEXT NOT NULL,
    created   TEXT NOT NULL,
    params    TEXT NOT NULL DEFAULT '{}',    -- JSON, for display
    changeset BLOB,                          -- NULL for operations that cannot be undone (import)
    state     TEXT NOT NULL DEFAULT 'done' CHECK (state IN ('done', 'undone'))
);

-- Long jobs (import, later embedding), so an interrupted one can be found and resumed.
CREATE TABLE jobs (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    params   TEXT NOT NULL,                  -- JSON
    state    TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'cancelled')),
    started  TEXT NOT NULL,
    finished TEXT,
    progress TEXT NOT NULL DEFAULT '{}'      -- JSON
);
