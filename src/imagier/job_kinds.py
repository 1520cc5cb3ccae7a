"""The kinds of jobs: for each, the Project operation it runs, the check of its parameters (before any work
starts) and what resuming it means. Adding a kind of job is one entry at the end of this module.

A kind's `check(project, params, roots)` returns the parameters as the job will keep them (JSON, in the
project file's `jobs` row) or raises the error naming what is wrong; `roots` are the folders a server's page
may see (None from Python or the command line), which path parameters must lie in. Its
`run(project, params, progress, cancel, job_id)` does the work and returns the job's result.

`resumes` says what resuming a stopped job of the kind does: "continues" (it skips the work already
written: an import its files, an embedding the images that have vectors, duplicates the pairs checked, OCR
the images read) or
"restarts" (it runs again from the start with the same parameters).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from .checks import DEFAULT_FILM_EVERY, film_sampling, whole_number
from .errors import InvalidInput
from .plugins.schema import KIND as FIELD_KIND
from .vectors import models as catalogue

CONTINUES, RESTARTS = "continues", "restarts"


@dataclass(frozen=True)
class JobKind:
    name: str
    check: Callable[..., dict]
    run: Callable[..., Any]
    resumes: str
    # Jobs of one scope run one at a time (two imports into one project would compete for its files); by
    # default the scope is the kind.
    scope: Callable[[dict], str] | None = None
    # same_work(recorded, asked): whether an interrupted job's parameters ask for the work asked now, which
    # it then goes on with (None: every job of the kind is a new one).
    same_work: Callable[[dict, dict], bool] | None = None

    def scope_of(self, params: dict) -> str:
        return self.scope(params) if self.scope else self.name


KINDS: dict[str, JobKind] = {}


def kind(name: str) -> JobKind:
    """The kind of job `name`; InvalidInput naming the known ones when there is none."""
    if name not in KINDS:
        raise InvalidInput(f"no kind of job {name!r}; the kinds are {', '.join(sorted(KINDS))}", kind=name)
    return KINDS[name]


def _register(name: str, check, run, resumes: str, scope=None, same_work=None) -> None:
    KINDS[name] = JobKind(name, check, run, resumes, scope, same_work)


def _only(name: str, params: dict, allowed: dict) -> dict:
    """The parameters with their defaults; InvalidInput for one the kind does not take."""
    if not isinstance(params, dict):
        raise InvalidInput(f"the parameters of a {name} job must be an object, not {params!r}", kind=name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidInput(f"a {name} job takes no parameter {unknown[0]!r} (it takes: {', '.join(allowed)})",
                           kind=name, parameter=unknown[0])
    return {**allowed, **params}


def _within(roots, path, parameter: str) -> None:
    if roots is not None and path is not None:
        roots.check(path, parameter)


# ---- import: the importer keeps its own progress in the job's row, and resumes from the files written ----

def _check_import(project, params, roots) -> dict:
    p = _only("import", params, {"folders": None, "store_originals": False, "workers": None, "embed": True,
                                 "model": None, "film_every": DEFAULT_FILM_EVERY, "film_shots": False})
    folders = p["folders"] if isinstance(p["folders"], list) else [p["folders"]]
    for folder in folders:
        _within(roots, folder, "folders")
    checked = {"folders": project.check_import(folders, embed=p["embed"], model=p["model"]),
               "store_originals": bool(p["store_originals"]),
               "workers": p["workers"], "embed": bool(p["embed"]), "model": p["model"],
               "films": film_sampling(p["film_every"], p["film_shots"])}
    if roots is not None:  # links to files outside the roots are not followed: the page could read them
        checked["links_within"] = sorted(os.path.realpath(root) for root in roots.roots)
    return checked


def _run_import(project, params, progress, cancel, job_id):
    return project.resume_import_and_embed(job_id, workers=params.get("workers"), progress=progress, cancel=cancel)


def _same_import(recorded: dict, asked: dict) -> bool:
    recorded = {"films": film_sampling(), **recorded}  # recorded before films were imported: the default
    # What is imported, not what follows the import (embedding) nor how fast (workers).
    return all(recorded.get(key) == asked.get(key) for key in ("folders", "store_originals", "links_within", "films"))


_register("import", _check_import, _run_import, CONTINUES, same_work=_same_import)


# ---- embed -------------------------------------------------------------------------------------------------

def _check_embed(project, params, roots) -> dict:
    p = _only("embed", params, {"model": None, "model_path": None, "batch_size": 32})
    _within(roots, p["model_path"], "model_path")  # first: outside the roots, whether a folder exists is not told
    return {**p, "model": project.check_model(p["model"], p["model_path"])}


def _run_embed(project, params, progress, cancel, job_id):
    return project.embed(params["model"], model_path=params["model_path"], batch_size=params["batch_size"],
                         progress=progress, cancel=cancel)


_register("embed", _check_embed, _run_embed, CONTINUES)


# ---- duplicates ----------------------------------------------------------------------------------------------

def _check_duplicates(project, params, roots) -> dict:
    p = _only("duplicates", params, {"filter": None, "vector_type": None, "k": 10})
    project.check_duplicates(**p)
    return p


def _run_duplicates(project, params, progress, cancel, job_id):
    return project.duplicates(**params, progress=progress, cancel=cancel)


_register("duplicates", _check_duplicates, _run_duplicates, CONTINUES)


# ---- cluster -------------------------------------------------------------------------------------------------

CLUSTER_OPTIONS = {"filter": None, "ids": None, "k": None, "method": "kmeans", "min_cluster_size": None,
                   "vector_type": None, "save_as": None, "parent": None, "text_weight": 0.0}


def _check_cluster(project, params, roots) -> dict:
    p = _only("cluster", params, CLUSTER_OPTIONS)
    project.check_cluster(**p)
    return p


def _run_cluster(project, params, progress, cancel, job_id):
    clusters = project.cluster(**params, cancel=cancel)
    # Without the paths: the page needs the ids only, and at 500,000 images paths would double the answer.
    return {"clusters": [{k: v for k, v in c.items() if k != "paths"} for c in clusters],
            "provenance": clusters.provenance}


_register("cluster", _check_cluster, _run_cluster, RESTARTS)


# ---- layout --------------------------------------------------------------------------------------------------

def _check_layout(project, params, roots) -> dict:
    p = _only("layout", params, {"vector_type": None})
    project.vector_type(p["vector_type"])  # an unknown vector type is a NotFound now
    return p


def _run_layout(project, params, progress, cancel, job_id):
    from .analysis.layout import summary
    return summary(project.layout(params["vector_type"], progress=progress, cancel=cancel))


_register("layout", _check_layout, _run_layout, RESTARTS)


# ---- plugin actions: one run of an action at a time, different actions side by side -------------------------

def _check_plugin(project, params, roots) -> dict:
    p = _only("plugin", params, {"action": None, "params": {}, "ids": None, "filter": None})
    chosen = project.check_action(p["action"], p["params"], ids=p["ids"], filter=p["filter"])
    for name, field in chosen["schema"]["properties"].items():
        if field.get(FIELD_KIND) == "path" and isinstance(p["params"].get(name), str):
            _within(roots, p["params"][name], name)
    return {**p, "action": f"{chosen['plugin']}.{chosen['name']}", "kind": chosen["kind"], "label": chosen["label"]}


def _run_plugin(project, params, progress, cancel, job_id):
    return project.run_action(params["action"], params["params"], ids=params["ids"], filter=params["filter"],
                              progress=progress, cancel=cancel)


_register("plugin", _check_plugin, _run_plugin, RESTARTS, scope=lambda params: params["action"])


# ---- download: a model from the hub onto this machine (kept in the project's jobs like the others) ------------

def _check_download(project, params, roots) -> dict:
    p = _only("download", params, {"model": None})
    catalogue.downloadable(p["model"])  # an unknown or built-in model
    return p


def _run_download(project, params, progress, cancel, job_id):
    def in_megabytes(event: dict) -> None:  # a job's progress is counts, which the page shows as they are
        progress({"done": event["done"] // 1_000_000, "total": event["total"] // 1_000_000,
                  "phase": f"{event['file']} (MB)"})
    return catalogue.get(params["model"], in_megabytes, cancel=cancel)


_register("download", _check_download, _run_download, RESTARTS)


# ---- labels: the ImageNet guesses written again from the stored vectors ------------------------------------

def _check_labels(project, params, roots) -> dict:
    return _only("labels", params, {})


def _run_labels(project, params, progress, cancel, job_id):
    return project.enable_machine_labels()


_register("labels", _check_labels, _run_labels, RESTARTS)


# ---- ocr: the text in the images, read from their originals; a resume reads only the images not read yet ----

def _check_ocr(project, params, roots) -> dict:
    p = _only("ocr", params, {"workers": None})
    if p["workers"] is not None:
        whole_number("workers", p["workers"])
    return p


def _run_ocr(project, params, progress, cancel, job_id):
    return project.read_text(workers=params["workers"], progress=progress, cancel=cancel)


_register("ocr", _check_ocr, _run_ocr, CONTINUES)


# ---- iiif: images of IIIF manifests fetched from their servers; a resume fetches the canvases still missing ----

def _check_iiif(project, params, roots) -> dict:
    p = _only("iiif", params, {"sources": None, "size": None, "language": None, "concurrency": None,
                               "embed": True, "model": None})
    sources = p["sources"] if isinstance(p["sources"], list) else [p["sources"]]
    for source in sources:
        if isinstance(source, str) and "://" not in source:  # URLs are checked by check_iiif
            _within(roots, source, "sources")  # a manifest file must lie where the page may look
    options = {key: p[key] for key in ("size", "language", "concurrency") if p[key] is not None}
    return project.check_iiif(sources, embed=p["embed"], model=p["model"], **options)


def _run_iiif(project, params, progress, cancel, job_id):
    return project.import_iiif(**params, progress=progress, cancel=cancel)


_register("iiif", _check_iiif, _run_iiif, CONTINUES,
          same_work=lambda recorded, asked: recorded.get("sources") == asked.get("sources"))
