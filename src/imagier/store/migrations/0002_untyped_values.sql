-- property_values.value was declared ANY, which in a table that is not STRICT means NUMERIC affinity:
-- SQLite turned the text '007' into the integer 7 and the partial date '2019' into 2019, so text lost
-- leading zeros and dates stopped comparing with dates. A column with no declared type keeps every
-- value exactly as stored. The table is rebuilt with the same columns and key, so the changesets in
-- the operation log still apply to it.
CREATE TABLE property_values_new (
    property_id INTEGER NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
    target_id   INTEGER NOT NULL,
    value       NOT NULL,
    PRIMARY KEY (property_id, target_id)
) WITHOUT ROWID;
-- Values already converted are turned back into text where the property is not a number or checkbox.
INSERT INTO property_values_new(property_id, target_id, value)
SELECT pv.property_id, pv.target_id,
       CASE WHEN p.type IN ('number', 'checkbox') THEN pv.value ELSE CAST(pv.value AS TEXT) END
FROM property_values pv JOIN properties p ON p.id = pv.property_id;
DROP TABLE property_values;
ALTER TABLE property_values_new RENAME TO property_values;
CREATE INDEX property_values_value ON property_values(property_id, value, target_id);
