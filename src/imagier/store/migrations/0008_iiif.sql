-- Images imported from IIIF manifests (ingest/iiif_import.py). Each such file's path is its canvas's id; this
-- table keeps, beside it, the manifest that lists the canvas, the Image API request its bytes came from
-- and the manifest's page for people, so that every image can be cited and reopened at the source. Not
-- undoable, like the import that writes it.
CREATE TABLE iiif_sources (
    file_id     INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    manifest_id TEXT NOT NULL,
    canvas_id   TEXT NOT NULL,
    image       TEXT NOT NULL,               -- the URL the image's bytes were fetched from
    homepage    TEXT                         -- the manifest's homepage (v3) or related page (v2), if any
);
CREATE INDEX iiif_sources_manifest ON iiif_sources(manifest_id);
