-- One job system: every long operation (import, embedding, duplicates, clustering, layout, plugin runs, the
-- labels recompute, ...) is a row here, not only imports. The row gains the run's result or error, when it
-- last changed, which process runs it (so a job whose process died shows as interrupted rather than
-- running for ever) and whether another process asked it to stop. Import rows keep their ids, so an
-- interrupted import is resumed as before.
CREATE TABLE jobs_new (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,
    params    TEXT NOT NULL DEFAULT '{}',     -- JSON
    state     TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'cancelled')),
    progress  TEXT NOT NULL DEFAULT '{}',     -- JSON
    result    TEXT,                           -- JSON, once done
    error     TEXT,                           -- JSON {error, message}, once failed
    owner     TEXT,                           -- host:pid:token of the process running it
    cancel    INTEGER NOT NULL DEFAULT 0 CHECK (cancel IN (0, 1)),  -- asked to stop by another process
    started   TEXT NOT NULL,
    updated   TEXT NOT NULL,
    finished  TEXT
);

INSERT INTO jobs_new(id, kind, params, state, progress, started, updated, finished)
SELECT id, kind, params, state, progress, started, coalesce(finished, started), finished FROM jobs;

DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
