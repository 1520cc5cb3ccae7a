-- Similarity maps: a 2-D position per content for one vector type, computed once per version of the
-- type's vectors (the map view reads it; a newer version of the vectors makes it stale). Derived data:
-- it can be computed again, so it is not in the undo log.

CREATE TABLE layouts (
    type_id     INTEGER PRIMARY KEY REFERENCES vector_types(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,                 -- the vector type's version the layout was made from
    params      TEXT NOT NULL DEFAULT '{}',       -- JSON: how it was made (method, landmarks, seed)
    content_ids BLOB NOT NULL,                    -- int64 little-endian, sorted
    coords      BLOB NOT NULL,                    -- float32 little-endian x, y per content, in [0, 1]
    created     TEXT NOT NULL
);
