-- Full-text search over the values of every text property: one SQLite FTS5 index whose words are folded
-- (case and accents: "Besançon" is found by "besancon"). It is contentless (content=''), so the text is
-- not stored twice, and contentless_delete=1 lets a value be removed by its rowid alone.
--
-- The values live in property_values (a WITHOUT ROWID table keyed by property and target), so a value's
-- row in the index is numbered property_id * 2^32 + target_id, and the target is its low 32 bits: ids
-- are numbered from 1 by SQLite, far below 2^32; a value whose ids do not fit is left out of the index
-- rather than given another value's number.
--
-- Triggers keep the index in step with every write. They fire too when the undo log applies a changeset
-- (SQLite's changeset_apply runs ordinary statements), so the index is not itself in the undo log.
CREATE VIRTUAL TABLE text_index USING fts5(
    value,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER text_index_insert AFTER INSERT ON property_values
WHEN new.target_id BETWEEN 0 AND 4294967295 AND new.property_id BETWEEN 0 AND 2147483647
     AND (SELECT type FROM properties WHERE id = new.property_id) = 'text'
BEGIN
    INSERT INTO text_index(rowid, value) VALUES (new.property_id * 4294967296 + new.target_id, new.value);
END;

-- A deleted property's values go by its foreign key's cascade, after its row: the type cannot be read any
-- more, so every text value is removed (removing a number that was never indexed is a no-op).
CREATE TRIGGER text_index_delete AFTER DELETE ON property_values
WHEN typeof(old.value) = 'text' AND old.target_id BETWEEN 0 AND 4294967295
     AND old.property_id BETWEEN 0 AND 2147483647
BEGIN
    DELETE FROM text_index WHERE rowid = old.property_id * 4294967296 + old.target_id;
END;

CREATE TRIGGER text_index_update AFTER UPDATE ON property_values
WHEN (SELECT type FROM properties WHERE id = new.property_id) = 'text'
BEGIN
    DELETE FROM text_index WHERE rowid = old.property_id * 4294967296 + old.target_id
        AND old.target_id BETWEEN 0 AND 4294967295 AND old.property_id BETWEEN 0 AND 2147483647;
    INSERT INTO text_index(rowid, value)
        SELECT new.property_id * 4294967296 + new.target_id, new.value
        WHERE new.target_id BETWEEN 0 AND 4294967295 AND new.property_id BETWEEN 0 AND 2147483647;
END;

-- A project made before this migration: its text values are indexed now.
INSERT INTO text_index(rowid, value)
SELECT pv.property_id * 4294967296 + pv.target_id, pv.value
FROM property_values pv JOIN properties p ON p.id = pv.property_id
WHERE p.type = 'text' AND pv.target_id BETWEEN 0 AND 4294967295 AND pv.property_id BETWEEN 0 AND 2147483647;
