-- Machine-made properties are told apart from the user's: the page styles their values as guesses and
-- leaves them out of what it shows by default. The EfficientNet-Lite0 labels, once a property named
-- `labels` that read like facts, become `ImageNet guess`. `settings` keeps the project's choices that are
-- not annotations (whether it wants guesses at all); derived like the guesses, it is not in the undo log.

ALTER TABLE properties ADD COLUMN machine INTEGER NOT NULL DEFAULT 0 CHECK (machine IN (0, 1));

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL                           -- JSON
);

-- A `labels` property is the embedder's when it has the shape the embedder writes and the project has
-- its vectors; a user's own property of that name stays as it is. Saved views naming it follow the rename
-- (their JSON holds the name as a string; no ImageNet class is called "labels").
UPDATE views SET state = replace(state, '"labels"', '"ImageNet guess"')
WHERE EXISTS (SELECT 1 FROM properties WHERE name = 'labels' AND type = 'multi-tag' AND scope = 'content')
  AND EXISTS (SELECT 1 FROM vector_types WHERE model = 'efficientnet-lite0')
  AND NOT EXISTS (SELECT 1 FROM properties WHERE name = 'ImageNet guess');

UPDATE properties SET name = 'ImageNet guess', machine = 1
WHERE name = 'labels' AND type = 'multi-tag' AND scope = 'content'
  AND EXISTS (SELECT 1 FROM vector_types WHERE model = 'efficientnet-lite0')
  AND NOT EXISTS (SELECT 1 FROM properties WHERE name = 'ImageNet guess');
