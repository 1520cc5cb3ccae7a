"""The contract: every public Project operation, declared once, with its three doors.

Python is always a door (the operation is a Project method). For the two others each row names the
CLI command (words of the `imagier` command tree, options after `--`) and the HTTP routes ("METHOD
/path" as the OpenAPI schema spells it), or says in words why that door is absent. tests/test_parity.py
holds the table to the code: a public Project method without a row, a door that does not exist, a door
absent without a reason, or a command or route that no row claims, fails it.

Adding an operation: add its row here, then its command (cli/) and route (server/routes/), or the
reason one of them is absent.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    """One Project method and how the CLI and the HTTP API reach it."""

    method: str
    cli: tuple[str, ...] = ()
    http: tuple[str, ...] = ()
    no_cli: str = ""   # why no command reaches it (required when `cli` is empty)
    no_http: str = ""  # why no route reaches it (required when `http` is empty)


def _op(method: str, cli: str | tuple[str, ...] = (), http: str | tuple[str, ...] = (), *,
        no_cli: str = "", no_http: str = "") -> Operation:
    as_tuple = (lambda doors: (doors,) if isinstance(doors, str) else tuple(doors))
    return Operation(method, as_tuple(cli), as_tuple(http), no_cli, no_http)


# Reasons shared by several rows.
PLUMBING = "Python only: plumbing that other operations, plugins and notebooks build on, not a step of a researcher's work"
CHECK = ("Python only: the check a door runs before it starts the operation in the background, so that bad "
         "arguments are refused at once; the operation itself reports the same errors")
LIFECYCLE = "Python only: the CLI and the server open and close the project file themselves"
THROUGH_IMPORT = "the doors import with import_and_embed, which calls it"
JOBS = "the project's jobs: any operation of job_kinds.py run in the background by jobs.py, started, watched, cancelled and resumed alike"

OPERATIONS: tuple[Operation, ...] = (
    # ---- images and the project file ---------------------------------------------------------------
    _op("import_and_embed", "import", "POST /api/imports"),
    _op("import_folders", no_cli=THROUGH_IMPORT, no_http=THROUGH_IMPORT),
    _op("resume_import_and_embed", http="POST /api/imports/{import_id}/resume",
        no_cli="`imagier import` run again on the same folders resumes the interrupted import"),
    _op("resume_import", no_cli=THROUGH_IMPORT, no_http=THROUGH_IMPORT),
    _op("pending_imports", http="GET /api/imports/pending",
        no_cli="`imagier import` run again on the same folders finds and resumes its interrupted import"),
    _op("resumable_import", no_cli=CHECK, no_http=CHECK),
    _op("imported_folders", no_cli=PLUMBING, no_http=PLUMBING),
    _op("import_iiif", "import-iiif", "POST /api/imports/iiif"),
    _op("iiif_source", http="GET /api/files/{file_id}/iiif",
        no_cli="the page's detail view links to it; on the command line an IIIF image's path is its canvas's "
               "id and its folder the manifest's"),
    _op("info", "info", "GET /api/info"),
    _op("file_count", no_cli="part of `imagier info`", no_http="part of GET /api/info"),
    _op("content_count", no_cli="part of `imagier info`", no_http="part of GET /api/info"),
    _op("data_version", http="GET /api/changes",
        no_cli="a number a long-lived reader watches (the page, through GET /api/changes); a command ends at once"),
    _op("save_copy", http="GET /api/project/download",
        no_cli="a command's project file is closed when it ends: copy it as any file"),
    _op("close", no_cli=LIFECYCLE, no_http=LIFECYCLE),
    _op("file", http="GET /api/files/{file_id}",
        no_cli="the CLI names images by path; `imagier values get --id N` shows one image"),
    _op("files", "values get", ("GET /api/values", "POST /api/values")),
    _op("file_id", no_cli="every --path option of the CLI resolves its path with it",
        no_http="the page names images by id; POST /api/similar resolves a path with it"),
    _op("existing_files", no_cli=PLUMBING, no_http=PLUMBING),
    _op("all_paths", no_cli=PLUMBING, no_http=PLUMBING),
    _op("same_content", http="GET /api/files/{file_id}",
        no_cli="`imagier duplicates` lists the images with the same bytes among the other copies"),
    _op("thumbnail", http="GET /api/thumbnails/{content_hash}.jpg",
        no_cli="JPEG bytes for the page; the CLI prints the images' paths"),
    _op("original", http="GET /api/originals/{content_hash}",
        no_cli="the CLI prints the images' paths: the original is the file at that path"),
    _op("frame", "frame", "GET /api/files/{file_id}/frame"),
    _op("film_video", http="GET /api/films/{film_id}/video",
        no_cli="`imagier frame` prints the film's path and the frame's time: a video player opens it there"),

    # ---- properties, tags, values, history ---------------------------------------------------------
    _op("properties", "property list", "GET /api/properties"),
    _op("property", http="GET /api/properties/{name}", no_cli="`imagier property list` shows every property"),
    _op("create_property", "property create", "POST /api/properties"),
    _op("rename_property", "property rename", "PATCH /api/properties/{name}"),
    _op("delete_property", "property delete", "DELETE /api/properties/{name}"),
    _op("tags", "tag list", "GET /api/properties/{name}/tags"),
    _op("tag", http="GET /api/properties/{name}/tags/{tag}", no_cli="`imagier tag list` shows every tag"),
    _op("create_tag", "tag create", "POST /api/properties/{name}/tags"),
    _op("update_tag", "tag update", "PATCH /api/properties/{name}/tags/{tag}"),
    _op("delete_tag", "tag delete", "DELETE /api/properties/{name}/tags/{tag}"),
    _op("merge_tags", "tag merge", "POST /api/properties/{name}/tags/merge"),
    _op("values", "values get", ("GET /api/values", "POST /api/values", "GET /api/files/{file_id}")),
    _op("set_values", "values set", "POST /api/values/set"),
    _op("add_values", "values add", "POST /api/values/add"),
    _op("remove_values", "values remove", "POST /api/values/remove"),
    _op("set_many", http="POST /api/values/set-many",
        no_cli="`imagier import-csv` gives each image its own value, from a file"),
    _op("undo", "undo", "POST /api/undo"),
    _op("redo", "redo", "POST /api/redo"),
    _op("history", "history", "GET /api/history"),

    # ---- views and queries -------------------------------------------------------------------------
    _op("query", "query", "POST /api/query"),
    _op("query_ids", no_cli="the --filter options of `values` and `run` select images with it; `imagier query` "
                            "lists them", no_http="POST /api/query returns the same ids"),
    _op("text_matches", http="GET /api/files/{file_id}/matches",
        no_cli="the marks of the page's image detail; a shell finds the images by the same words with the "
               "filter op `search` (`imagier query --filter`), and `imagier ocr --show --search` marks the "
               "words read in one"),
    _op("compile_view", no_cli=PLUMBING, no_http=PLUMBING),
    _op("views", "views list", "GET /api/views"),
    _op("save_view", "views save", ("POST /api/views", "PUT /api/views/{view_id}")),
    _op("delete_view", "views delete", "DELETE /api/views/{view_id}"),

    # ---- CSV ---------------------------------------------------------------------------------------
    _op("export_csv", "export", "GET /api/export.csv"),
    _op("import_csv", "import-csv", "POST /api/import-csv"),

    # ---- vectors and models ------------------------------------------------------------------------
    _op("embed", "embed", "POST /api/embed"),
    _op("read_text", "ocr", no_http='a job: POST /api/jobs with {"kind": "ocr"}'),
    _op("image_text", "ocr --show --search", "GET /api/files/{file_id}/text"),
    _op("vector_types", "vectors", "GET /api/vector-types"),
    _op("vector_type", no_cli="`imagier vectors` lists every vector type",
        no_http="GET /api/vector-types lists every vector type"),
    _op("set_default_vector_type", "vectors --default", "PUT /api/vector-types/default"),
    _op("delete_vector_type", "vectors --delete", "DELETE /api/vector-types/{name}"),
    _op("create_vector_type", no_cli="`imagier embed` creates its model's vector type",
        no_http="POST /api/embed creates its model's vector type"),
    _op("models", "vectors", no_http="GET /api/models lists the same models with what each is for"),
    _op("default_model", no_cli=PLUMBING, no_http=PLUMBING),
    _op("model_offer", http="GET /api/models/offer",
        no_cli="`imagier import` prints the offer after its report (text mode)"),
    _op("check_model", no_cli=CHECK, no_http=CHECK),
    _op("vectors_of", no_cli=PLUMBING, no_http=PLUMBING),
    _op("put_vectors", no_cli=PLUMBING, no_http=PLUMBING),
    _op("guesses", http="POST /api/guesses",
        no_cli="the guesses are the values of the `ImageNet guess` property: `imagier values get` shows them"),
    _op("machine_labels_enabled", "labels status", "GET /api/labels"),
    _op("delete_machine_labels", "labels off", "PUT /api/labels"),
    _op("enable_machine_labels", "labels on", "PUT /api/labels"),

    # ---- similarity, clustering, suggestions, search, duplicates, map ------------------------------
    _op("similar", "similar", "POST /api/similar"),
    _op("calibration", "calibration", "GET /api/calibration"),
    _op("explain_similarity", "calibration --similarity", "GET /api/calibration/explain"),
    _op("cluster", "cluster", "POST /api/cluster"),
    _op("check_cluster", no_cli=CHECK, no_http=CHECK),
    _op("save_clusters", http="POST /api/clusters/save",
        no_cli="`imagier cluster --save-as` clusters and saves in one run; saving the clusters shown is a step "
               "of the page"),
    _op("suggestions", "suggest", "POST /api/suggestions"),
    _op("accept_suggestions", "suggest-accept", "POST /api/suggestions/accept"),
    _op("reject_suggestions", "suggest-reject", "POST /api/suggestions/reject"),
    _op("search", "search", "POST /api/search"),
    _op("duplicates", "duplicates", "POST /api/duplicates"),
    _op("check_duplicates", no_cli=CHECK, no_http=CHECK),
    _op("layout", "layout", ("POST /api/layout", "GET /api/layout")),

    # ---- plugins -----------------------------------------------------------------------------------
    _op("plugins", "plugins", "GET /api/plugins"),
    _op("run_action", "run", "POST /api/plugins/{plugin}/{action}/run"),
    _op("check_action", no_cli=CHECK, no_http=CHECK),

    # ---- checks run before background work ---------------------------------------------------------
    _op("check_selection", no_cli=CHECK, no_http=CHECK),
    _op("check_import", no_cli=CHECK, no_http=CHECK),
    _op("check_folders", no_cli=CHECK, no_http=CHECK),
    _op("check_iiif", no_cli=CHECK, no_http=CHECK),
)

# Commands and routes that reach no Project operation, and why: the server's own state, the jobs it
# runs, the models installed on the machine.
OTHER_DOORS: dict[str, str] = {
    "serve": "starts the server (the HTTP door itself)",
    "demo": "builds a demo project from scikit-image's photographs, then serves it",
    "models list": "the models installed on this machine (vectors/models.py), not a project's",
    "models get": "installs a model on this machine (vectors/models.py), not a project's",
    "models add": "installs a model on this machine (vectors/models.py), not a project's",
    "GET /api/models": "the models installed on the server's machine (vectors/models.py)",
    "POST /api/models/{name}/get": "installs a model on the server's machine (vectors/models.py), as a job",
    "GET /api/folders": "the folders the server may browse (its allowed roots), not the project's",
    "POST /api/project/open": "switches the project the server serves",
    # A job is not a Project operation: jobs.py's JobRunner runs one of the operations above in the
    # background (job_kinds.py lists which), keeping its row in the project file.
    **{door: JOBS for door in ("jobs list", "jobs show", "jobs cancel", "jobs resume", "GET /api/jobs",
                               "POST /api/jobs", "GET /api/jobs/{job_id}", "POST /api/jobs/{job_id}/cancel",
                               "POST /api/jobs/{job_id}/resume", "GET /api/jobs/{job_id}/events")},
}
