-- Full-text search over the values of every text property: one SQLite FTS5 index whose words are folded
-- (case and accents: "Besançon" is found by "besancon"). It is contentless (content=''): it holds the
-- words, not a second copy of the text, so a value leaves it by FTS5's 'delete' command given the value
-- it was indexed with, which the triggers below read from the row being deleted or changed. (FTS5's
-- contentless_delete=1 removes a row by its rowid alone, but costs ten times as much per row.)
--
-- The values live in property_values (a WITHOUT ROWID table keyed by property and target), so a value's
-- row in the index is numbered property_id * 2^32 + target_id, and the target is its low 32 bits: ids
-- are numbered from 1 by SQLite, far below 2^32; a value whose ids do not fit is left out of the index
-- rather than given another value's number.
--
-- A value is in the index exactly when it is a value of a text property (property types never change).
-- The triggers keep it so on every write, and they fire too when the undo log applies a changeset (SQLite
-- runs ordinary statements), so the index is not itself in the undo log. A changeset may insert a value
-- before its property, or delete the property before its values: the triggers on `properties` index or
-- remove the values of the property as it comes or goes, and the ones on `property_values` act only
-- while the property is there.
CREATE VIRTUAL TABLE text_index USING fts5(
    value,
    content = '',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER text_index_value_insert AFTER INSERT ON property_values
WHEN new.target_id BETWEEN 0 AND 4294967295 AND new.property_id BETWEEN 0 AND 2147483647
     AND (SELECT type FROM properties WHERE id = new.property_id) = 'text'
BEGIN
    INSERT INTO text_index(rowid, value) VALUES (new.property_id * 4294967296 + new.target_id, new.value);
END;

CREATE TRIGGER text_index_value_delete AFTER DELETE ON property_values
WHEN old.target_id BETWEEN 0 AND 4294967295 AND old.property_id BETWEEN 0 AND 2147483647
     AND (SELECT type FROM properties WHERE id = old.property_id) = 'text'
BEGIN
    INSERT INTO text_index(text_index, rowid, value)
    VALUES ('delete', old.property_id * 4294967296 + old.target_id, old.value);
END;

CREATE TRIGGER text_index_value_update AFTER UPDATE ON property_values
WHEN old.target_id BETWEEN 0 AND 4294967295 AND old.property_id BETWEEN 0 AND 2147483647
     AND new.target_id BETWEEN 0 AND 4294967295 AND new.property_id BETWEEN 0 AND 2147483647
     AND (SELECT type FROM properties WHERE id = old.property_id) = 'text'
     AND (SELECT type FROM properties WHERE id = new.property_id) = 'text'
BEGIN
    INSERT INTO text_index(text_index, rowid, value)
    VALUES ('delete', old.property_id * 4294967296 + old.target_id, old.value);
    INSERT INTO text_index(rowid, value) VALUES (new.property_id * 4294967296 + new.target_id, new.value);
END;

-- A property's values go by its foreign key's cascade after its row, when their type can no longer be
-- read: they leave the index before it goes.
CREATE TRIGGER text_index_property_delete BEFORE DELETE ON properties
WHEN old.type = 'text' AND old.id BETWEEN 0 AND 2147483647
BEGIN
    INSERT INTO text_index(text_index, rowid, value)
    SELECT 'delete', property_id * 4294967296 + target_id, value FROM property_values
    WHERE property_id = old.id AND target_id BETWEEN 0 AND 4294967295 ORDER BY target_id;
END;

CREATE TRIGGER text_index_property_insert AFTER INSERT ON properties
WHEN new.type = 'text' AND new.id BETWEEN 0 AND 2147483647
BEGIN
    INSERT INTO text_index(rowid, value)
    SELECT property_id * 4294967296 + target_id, value FROM property_values
    WHERE property_id = new.id AND target_id BETWEEN 0 AND 4294967295 ORDER BY target_id;
END;

-- A project made before this migration: its text values are indexed now, in rowid order (FTS5 writes
-- out what it holds in memory whenever a rowid comes out of order).
INSERT INTO text_index(rowid, value)
SELECT pv.property_id * 4294967296 + pv.target_id, pv.value
FROM property_values pv JOIN properties p ON p.id = pv.property_id
WHERE p.type = 'text' AND pv.target_id BETWEEN 0 AND 4294967295 AND pv.property_id BETWEEN 0 AND 2147483647
ORDER BY pv.property_id, pv.target_id;

-- One segment rather than the many the bulk insert wrote: searches read one, and later writes do not start
-- by merging them.
INSERT INTO text_index(text_index) VALUES ('optimize');
