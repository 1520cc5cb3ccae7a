-- Vectors: each vector type is an embedder with its parameters; each content has at most one vector of a
-- type. Vectors are derived data (they can be computed again), so they are not in the undo log.

CREATE TABLE vector_types (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,             -- what users pick: 'efficientnet-lite0', 'clip-vit-b32', 'phash'
    model      TEXT NOT NULL,                    -- the embedder that makes them
    params     TEXT NOT NULL DEFAULT '{}',       -- JSON: the embedder's parameters (weights' hash, quantised...)
    dim        INTEGER NOT NULL CHECK (dim > 0),
    dtype      TEXT NOT NULL CHECK (dtype IN ('float32', 'float16', 'bits')),  -- bits: packed binary hashes
    metric     TEXT NOT NULL CHECK (metric IN ('cosine', 'hamming')),
    is_default INTEGER NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 0,       -- bumped by every write, so in-memory matrices know they are stale
    created    TEXT NOT NULL
);

CREATE TABLE vectors (
    type_id    INTEGER NOT NULL REFERENCES vector_types(id) ON DELETE CASCADE,
    content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    data       BLOB NOT NULL,                    -- dim values of dtype, little-endian (bits: ceil(dim / 8) bytes)
    PRIMARY KEY (type_id, content_id)
) WITHOUT ROWID;

-- Suggestions the user rejected for a group, so they are not proposed again. A group is named by a
-- canonical JSON key (for example {"property": "category", "value": "cups"}).
CREATE TABLE rejected_suggestions (
    group_key  TEXT NOT NULL,
    content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    rejected   TEXT NOT NULL,
    PRIMARY KEY (group_key, content_id)
) WITHOUT ROWID;
