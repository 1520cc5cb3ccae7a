"""The adversarial suite of issue 9: bad input over the HTTP API and the CLI, each a case of its own.

For every case:
- the answer is a clean refusal: over HTTP a 4xx whose body is JSON {"error", "message"} (never a 500,
  never a traceback); from the CLI a non-zero exit with a one-line message on stderr (never a traceback);
- the server still answers another request within a second afterwards, and for the slow cases (regexes
  that backtrack, filters thousands deep, bodies of megabytes) also while the bad request is in flight;
- the project file is unchanged: its SQL dump, read over a read-only connection, is the same before and
  after (and so is any other file the case points at).

The server is the real `imagier serve` in a process of its own, over one small project of real
photographs: a request that freezes it (a regex holding the GIL) then fails its case alone, and the
server is restarted for the next case instead of hanging the whole run. CLI cases run the real `imagier`
command with this tree's package first on PYTHONPATH.
"""

from __future__ import annotations

import ctypes
import difflib
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from PIL import Image

import imagier
from conftest import sample_pixels

# Refusals the issue leaves open: any of these, never a 2xx, a 3xx or a 5xx.
REFUSED = frozenset({400, 403, 404, 405, 409, 413, 422})
OUTSIDE = frozenset({403})  # item 4: a path outside the allowed folders gets one answer, whatever exists there
# A bad request is answered within this (the freeze lasted minutes); another request within a second.
ANSWER_SECONDS = 5.0
OTHER_REQUEST_SECONDS = 1.0
CLI_SECONDS = 30.0
SERVER_START_SECONDS = 60.0
# An error that echoes a multi-megabyte input back is not a clean error.
MAX_ERROR_BYTES = 1024 * 1024
MB = 1024 * 1024

SQLITE_HEADER = b"SQLite format 3\x00"
# The package under test, put first on the PYTHONPATH of the servers and commands this file starts.
SOURCE = Path(imagier.__file__).resolve().parents[1]
_SCRIPT = Path(sys.executable).with_name("imagier")
IMAGIER = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "imagier.cli"]

PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket", "hubble_deep_field")
EVIL_REGEX = "^(([a-z/._0-9]*)*)*X$"  # the issue's: every path of the corpus is made of that class
EVIL_REGEX_ANY_PATH = "^(([^@]*)*)*@$"  # backtracks on any path without an @


# ---- the corpus: one project of real photographs, outside folders, links and broken files -----------

def _child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCE), env.get("PYTHONPATH")) if p)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_photo(path: Path, sample: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sample_pixels(sample)).save(path, "JPEG", quality=85)


def _build_project(path: Path, photos: Path) -> dict:
    """Import and embed the photographs, and give the project some work of a user's to protect."""
    with imagier.open(path) as project:
        project.import_folders([photos])
        project.embed("efficientnet-lite0")
        project.embed("phash")
        project.create_property("caption", "text")
        project.create_property("rating", "number")
        project.create_property("category", "multi-tag")
        project.create_property("kind", "tag")
        project.create_tag("category", "cat")
        project.create_tag("category", "dog", parents=["cat"])
        ids = project.query_ids()
        project.set_values("caption", ids[:2], "a photograph")
        project.set_values("rating", ids[:1], 3)
        project.add_values("category", ids[:2], ["cat"])
        project.save_view("mine", {"filter": {"property": "rating", "op": "ge", "value": 1}})
        return {f["path"]: f for f in project.files(ids)}


def _csv(rows: list[tuple[str, str]], header: str = "path,caption[text]") -> str:
    return header + "\n" + "".join(f"{path},{value}\n" for path, value in rows)


@pytest.fixture(scope="module")
def corpus():
    """The project and every file the cases point at. Both folders are made outside pytest's tree, so that
    the corpus's paths are made of [a-z/._0-9] only (which makes the issue's regex backtrack on them) and lie
    outside the user's home: the server's allowed roots are its project's folder and the home only."""
    root = Path(tempfile.mkdtemp(prefix="imagierhostile")).resolve()
    outside = Path(tempfile.mkdtemp(prefix="imagieroutside")).resolve()
    try:
        yield _make_corpus(root, outside)
    finally:
        for folder in (root, outside):
            for dirpath, _, _ in os.walk(folder):
                os.chmod(dirpath, 0o755)
            shutil.rmtree(folder, ignore_errors=True)


def _make_corpus(root: Path, outside: Path) -> SimpleNamespace:
    photos = root / "photos"
    for name in PHOTOS:
        _write_photo(photos / f"{name}.jpg", name)
    project = root / "corpus.imagier"
    files = _build_project(project, photos)
    by_name = {Path(p).name: f for p, f in files.items()}

    # Links inside the allowed root that lead out of it.
    _write_photo(outside / "outside.jpg", "retina")
    shutil.copyfile(project, outside / "outside.imagier")
    (root / "link_dir").symlink_to(outside, target_is_directory=True)
    (root / "link_image.jpg").symlink_to(outside / "outside.jpg")
    (root / "link_passwd").symlink_to("/etc/passwd")
    (root / "link_project.imagier").symlink_to(outside / "outside.imagier")
    # An imported photograph that is now a link to a copy outside the roots (same bytes, size and time).
    coffee = photos / "coffee.jpg"
    shutil.move(coffee, outside / "coffee.jpg")
    coffee.symlink_to(outside / "coffee.jpg")

    # Project files that are not projects, for the page's "open project" and for the CLI.
    (root / "empty.imagier").write_bytes(b"")
    (root / "notes.imagier").write_text("field notes, not a project\n")
    cli = root / "cli"
    cli.mkdir()
    shutil.copyfile(project, cli / "corpus.imagier")
    (cli / "empty.imagier").write_bytes(b"")
    (cli / "notes.imagier").write_text("field notes, not a project\n")
    shutil.copyfile(photos / "astronaut.jpg", cli / "photo.imagier")
    plain = sqlite3.connect(cli / "plain.imagier")
    plain.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT)")
    plain.execute("INSERT INTO notes(text) VALUES ('not an imagier project')")
    plain.commit()
    plain.close()
    shutil.copyfile(project, cli / "newer.imagier")
    newer = sqlite3.connect(cli / "newer.imagier")
    newer.execute("PRAGMA user_version = 999")
    newer.close()
    (cli / "truncated.imagier").write_bytes(project.read_bytes()[:8192])
    shutil.copyfile(project, cli / "readonly.imagier")
    os.chmod(cli / "readonly.imagier", 0o444)
    locked = root / "locked"
    locked.mkdir()
    shutil.copyfile(project, locked / "corpus.imagier")

    astronaut, chelsea = str(photos / "astronaut.jpg"), str(photos / "chelsea.jpg")
    utf8_row = f"{astronaut},café au lait\n".encode("utf-8")
    latin1_row = f"{chelsea},café crème\n".encode("latin-1")
    csvs = {
        "latin1_mixed": b"path,caption[text]\n" + utf8_row + latin1_row,
        "utf16": _csv([(astronaut, "café"), (chelsea, "thé")]).encode("utf-16-le"),
        "binary": (photos / "astronaut.jpg").read_bytes()[:50_000],
        "valid": _csv([(astronaut, "new caption")]).encode(),
        "bad_type": _csv([(astronaut, "x")], header="path,caption[blob]").encode(),
        "outside_paths": _csv([("/etc/passwd", "x"), ("../../etc/shadow", "y")]).encode(),
    }
    for name, data in csvs.items():
        (cli / f"{name}.csv").write_bytes(data)
    os.chmod(locked, 0o555)  # last: the folder of a project that cannot be written

    names = {
        "root": str(root), "outside": str(outside), "photos": str(photos), "astronaut": astronaut,
        "link_dir": str(root / "link_dir"), "link_image": str(root / "link_image.jpg"),
        "link_passwd": str(root / "link_passwd"), "link_project": str(root / "link_project.imagier"),
        "swapped_hash": by_name["coffee.jpg"]["hash"], "cli": str(cli / "corpus.imagier"), "clidir": str(cli),
    }
    tracked = {  # the files a case may name as having to stay as they are
        "served": project, "empty": root / "empty.imagier", "notes": root / "notes.imagier",
        "outside_project": outside / "outside.imagier", "cli": cli / "corpus.imagier",
        "cli_empty": cli / "empty.imagier", "cli_notes": cli / "notes.imagier", "cli_photo": cli / "photo.imagier",
        "cli_plain": cli / "plain.imagier", "cli_newer": cli / "newer.imagier",
        "cli_truncated": cli / "truncated.imagier", "cli_readonly": cli / "readonly.imagier",
        "cli_locked": locked / "corpus.imagier", "cli_missing": cli / "missing.imagier",
        "missing_out": root / "nodir" / "out.csv",
    }
    names.update({f"file:{key}": str(path) for key, path in tracked.items()})
    return SimpleNamespace(root=root, outside=outside, project=project, names=names, files=tracked, csvs=csvs,
                           image_ids=sorted(f["id"] for f in files.values()))


def fill(value, corpus, served=None):
    """A case's value with its <<name>> placeholders replaced by the corpus's paths (and the server's port);
    a callable is called with the corpus to build the value (large bodies are built only when sent)."""
    if callable(value):
        return value(corpus)
    if isinstance(value, str) and "<<" in value:
        names = dict(corpus.names)
        if served is not None:
            names.update(port=str(served.port), other_port=str(served.port + 1))
        for key, replacement in names.items():
            value = value.replace(f"<<{key}>>", replacement)
        return value
    if isinstance(value, dict):
        return {fill(k, corpus, served): fill(v, corpus, served) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(fill(v, corpus, served) for v in value)
    return value


def snapshot(path: Path):
    """What must not change: a project's SQL dump (and the pragmas that mark it an imagier project), read
    over a read-only connection; any other file's bytes; or the fact that there is no file."""
    if not path.exists():
        return ("missing",)
    data = path.read_bytes()
    if data[:16] != SQLITE_HEADER:
        return ("bytes", len(data), hashlib.sha256(data).hexdigest())
    # Without a -wal beside it the file holds everything: read it as immutable, which creates no -wal or
    # -shm either (they would let a command write a project in a read-only folder).
    wal = path.with_name(path.name + "-wal").exists()
    conn = sqlite3.connect(f"{path.as_uri()}?{'mode=ro' if wal else 'immutable=1'}", uri=True)
    try:
        pragmas = [conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("application_id", "user_version")]
        return ("sqlite", pragmas, list(conn.iterdump()))
    except sqlite3.DatabaseError as e:  # a damaged file: its bytes are what must not change
        return ("bytes", len(data), hashlib.sha256(data).hexdigest(), str(e))
    finally:
        conn.close()


def changes(before, after) -> str:
    if before[0] == after[0] == "sqlite":
        diff = difflib.unified_diff([str(before[1])] + before[2], [str(after[1])] + after[2], lineterm="", n=0)
        return "\n".join(line[:200] for line in list(diff)[2:12])
    return f"{before[:3]} became {after[:3]}"


def unchanged_problems(paths: dict[str, Path], before: dict) -> list[str]:
    problems = []
    for key, path in paths.items():
        after = snapshot(path)
        if after != before[key]:
            problems.append(f"{path.name} changed:\n{changes(before[key], after)}")
    return problems


# ---- the server ---------------------------------------------------------------------------------------

class Served:
    """`imagier serve` on the corpus's project, in a process of its own on a free loopback port."""

    def __init__(self, corpus):
        self.corpus = corpus
        self.log = corpus.root / "server.log"
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = _free_port()
        # Its temporary files (exports, downloads) go with the corpus, even those of a server killed mid-request.
        scratch = self.corpus.root / ".server-tmp"
        scratch.mkdir(exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([*IMAGIER, "serve", str(self.corpus.project), "--port", str(self.port)],
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            env={**_child_env(), "TMPDIR": str(scratch)}, cwd=self.corpus.root)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while self.info(timeout=1.0)[0] is None:
            assert self.process.poll() is None, f"imagier serve exited: {self.log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "imagier serve did not answer"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:  # a thread stuck in a regex holds the GIL: SIGTERM waits
                self.process.kill()
                self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    def info(self, timeout: float) -> tuple[dict | None, str]:
        """GET /api/info on a new connection: (the answer, "") or (None, why not)."""
        try:
            response = httpx.get(f"{self.url}/api/info", timeout=timeout)
        except httpx.HTTPError as e:
            return None, f"{type(e).__name__} {e}"
        if response.status_code != 200:
            return None, f"status {response.status_code}"
        return response.json(), ""

    def check_alive(self) -> list[str]:
        """Problems with the server's answer to another request; restarts it when it cannot serve on."""
        started = time.monotonic()
        info, why = self.info(timeout=OTHER_REQUEST_SECONDS)
        problems = []
        if info is None:
            problems.append(f"GET /api/info afterwards got no answer within {OTHER_REQUEST_SECONDS} s ({why})")
        elif info["path"] != str(self.corpus.project):
            problems.append(f"the server now serves {info['path']} instead of the project")
        elif time.monotonic() - started > OTHER_REQUEST_SECONDS:
            problems.append(f"GET /api/info afterwards took {time.monotonic() - started:.1f} s")
        if problems:
            self.restart()
        return problems


@pytest.fixture(scope="module")
def served(corpus):
    server = Served(corpus)
    server.start()
    yield server
    server.stop()


# ---- HTTP cases -----------------------------------------------------------------------------------------

NOTHING = object()


@dataclass(frozen=True)
class Http:
    """One bad request. Strings may hold <<name>> placeholders (see fill); `content` may be a function of
    the corpus. `statuses`: the acceptable answers. `slow`: also check the server answers while it is in
    flight. `raw`: sent byte for byte over a socket (httpx would tidy the path or the headers)."""

    method: str
    url: str
    json: Any = NOTHING
    content: Any = None
    headers: dict = field(default_factory=dict)
    params: dict | None = None
    statuses: frozenset = REFUSED
    slow: bool = False
    raw: bool = False
    also_unchanged: tuple = ()


def nested_json_text(depth: int) -> str:
    """A filter nested `depth` deep in "not" as JSON text (json.dumps itself cannot write one 5,000 deep)."""
    return '{"not": ' * depth + '{"property": "caption", "op": "eq", "value": "x"}' + "}" * depth


def nested_and_text(depth: int) -> str:
    return '{"and": [' * depth + '{"property": "caption", "op": "eq", "value": "x"}' + "]}" * depth


def with_filter_text(body: dict, text: str) -> bytes:
    """A JSON body with a filter given as JSON text (a filter 900 deep is past what json.dumps can write
    from inside a test)."""
    return (json.dumps(body)[:-1] + (", " if body else "") + f'"filter": {text}}}').encode()


def deep_query_body(text: str) -> bytes:
    return with_filter_text({}, text)


def regex(pattern: str) -> dict:
    return {"property": "path", "op": "matches", "value": pattern}


JSON = {"content-type": "application/json"}


def query(filter_) -> Http:
    return Http("POST", "/api/query", json={"filter": filter_})


MALFORMED_FILTERS = {
    "text": "width > 3",
    "number": 42,
    "list": [1, 2],
    "true": True,
    "empty-object": {},
    "and-of-text": {"and": "x"},
    "and-of-numbers": {"and": [1, 2]},
    "or-of-object": {"or": {"property": "name"}},
    "not-of-list": {"not": []},
    "and-and-or": {"and": [], "or": []},
    "unknown-op": {"property": "width", "op": "regex", "value": "x"},
    "op-null": {"property": "width", "op": None, "value": 3},
    "op-number": {"property": "width", "op": 5, "value": 3},
    "op-missing": {"property": "width", "value": 3},
    "op-sql": {"property": "width", "op": "= 1 OR 1=1 --", "value": 1},
    "unknown-property": {"property": "nope", "op": "eq", "value": "x"},
    "property-null": {"property": None, "op": "eq", "value": "x"},
    "property-list": {"property": ["name"], "op": "eq", "value": "x"},
    "property-empty": {"property": "", "op": "eq", "value": "x"},
    "number-of-text": {"property": "width", "op": "gt", "value": "wide"},
    "number-of-list": {"property": "rating", "op": "gt", "value": [1]},
    "date-of-words": {"property": "taken", "op": "eq", "value": "not a date"},
    "date-of-object": {"property": "taken", "op": "lt", "value": {}},
    "text-of-object": {"property": "caption", "op": "contains", "value": {"a": 1}},
    "unknown-tag": {"property": "category", "op": "has_any", "value": ["nope"]},
    "tag-nested-lists": {"property": "category", "op": "has_any", "value": [[["cat"]]]},
    "tag-op-on-text": {"property": "caption", "op": "has_any", "value": ["x"]},
}

BAD_REGEXES = {  # patterns a linear-time engine refuses, or that are not regexes at all: a 4xx, fast
    "backreference": r"(a)\1",
    "named-backreference": r"(?P<x>a)(?P=x)",
    "lookahead": r"photos(?=/)",
    "lookbehind": r"(?<=photos)/",
    "conditional": r"(a)?(?(1)b|c)",
    "unclosed-group": "(",
    "unclosed-class": "[a-",
    "nothing-to-repeat": "*",
    "reversed-range": "a{2,1}",
}
EVIL_REGEXES = {  # patterns that backtrack for ages in Python's re: a fast answer, refused or not
    "issue": EVIL_REGEX,
    "any-path": EVIL_REGEX_ANY_PATH,
    "huge-repetition": "(a{1000}){1000}",
}

INJECTION_NAMES = {
    "sql": "'; DROP TABLE files; --",
    "double-quote": '"',
    "percent": "%",
    "underscore": "_",
    "nul": "cap\x00tion",
    "very-long": "p" * 100_000,
    "rtl": "\u202egnp.noitpac",
    "emoji": "📷🐈",
    "newline": "caption\nrating",
    "path": "../../etc/passwd",
}


def _filter_cases():
    for name, bad in MALFORMED_FILTERS.items():
        yield pytest.param(query(bad), id=f"query-filter-{name}")
    for name, number in {"infinite": b"1e400", "nan": b"NaN"}.items():  # JSON text httpx would not write
        yield pytest.param(Http("POST", "/api/query", headers=JSON, content=b'{"filter": {"property": '
                                b'"rating", "op": "gt", "value": ' + number + b"}}"), id=f"query-filter-number-{name}")
    for depth in (100, 900):
        yield pytest.param(Http("POST", "/api/query", content=deep_query_body(nested_json_text(depth)),
                                headers=JSON), id=f"query-not-depth-{depth}")
    yield pytest.param(Http("POST", "/api/query", content=deep_query_body(nested_json_text(5000)),
                            headers=JSON, slow=True), id="query-not-depth-5000")
    yield pytest.param(Http("POST", "/api/query", content=deep_query_body(nested_and_text(900)),
                            headers=JSON), id="query-and-depth-900")
    yield pytest.param(Http("POST", "/api/query", content=deep_query_body(nested_and_text(5000)),
                            headers=JSON, slow=True), id="query-and-depth-5000")
    for name, pattern in BAD_REGEXES.items():
        yield pytest.param(query(regex(pattern)), id=f"query-regex-{name}")
    for name, pattern in EVIL_REGEXES.items():
        yield pytest.param(Http("POST", "/api/query", json={"filter": regex(pattern)}, statuses=REFUSED | {200},
                                slow=True), id=f"query-evil-regex-{name}")
    # The route: a GET any page can send with <img src>.
    yield pytest.param(Http("GET", "/api/export.csv", params={"filter": json.dumps(regex(EVIL_REGEX))},
                            statuses=REFUSED | {200}, slow=True), id="export-evil-regex")
    yield pytest.param(Http("GET", "/api/export.csv", params={"filter": json.dumps(regex(r"(a)\1"))}),
                       id="export-regex-backreference")
    yield pytest.param(Http("GET", "/api/export.csv", params={"filter": nested_json_text(100)}),
                       id="export-not-depth-100")
    yield pytest.param(Http("GET", "/api/export.csv", params={"filter": nested_json_text(900)}),
                       id="export-not-depth-900")
    yield pytest.param(Http("GET", "/api/export.csv", params={"filter": "{"}), id="export-filter-bad-json")
    yield pytest.param(Http("GET", "/api/export.csv", params={"sort": '[{"property": "nope"}]'}),
                       id="export-sort-unknown-property")
    yield pytest.param(Http("GET", "/api/export.csv", params={"key": "name"}), id="export-key-unknown")
    yield pytest.param(Http("GET", "/api/export.csv", params={"separator": "|"}), id="export-separator-pipe")
    yield pytest.param(Http("GET", "/api/export.csv", params={"properties": "nope"}),
                       id="export-properties-unknown")
    # Sorts, groups and paging.
    for name, body in {
        "sort-text": {"sort": "name"},
        "sort-unknown-property": {"sort": [{"property": "nope"}]},
        "sort-desc-text": {"sort": [{"property": "name", "desc": "yes"}]},
        "group-by-century": {"group": [{"property": "taken", "by": "century"}]},
        "group-bin-zero": {"group": [{"property": "width", "bin": 0}]},
        "group-bin-text": {"group": [{"property": "width", "bin": "x"}]},
        "group-unknown-property": {"group": [{"property": "nope"}]},
        "limit-negative": {"limit": -1},
        "limit-text": {"limit": "ten"},
        "limit-float": {"limit": 2.5},
        "offset-negative": {"offset": -5},
        "misspelt-field": {"filters": None},
    }.items():
        yield pytest.param(Http("POST", "/api/query", json=body), id=f"query-{name}")
    yield pytest.param(Http("POST", "/api/query", content=('{"sort": ' + "[" * 5000 + "]" * 5000 + "}").encode(),
                            headers=JSON, slow=True), id="query-sort-lists-5000-deep")
    # The same filters reach every route that takes one.
    for route, body in {
        "values-set": {"property": "caption", "value": "x"},
        "similar": {"query": 1},
        "search": {"text": "cat"},
        "suggestions": {"property": "category", "value": "cat"},
    }.items():
        url = f"/api/{route.replace('-', '/')}"
        yield pytest.param(Http("POST", url, content=with_filter_text(body, nested_json_text(900)),
                                headers=JSON), id=f"{route}-not-depth-900")
        yield pytest.param(Http("POST", url, json={**body, "filter": regex(r"(a)\1")}),
                           id=f"{route}-regex-backreference")
        yield pytest.param(Http("POST", url, json={**body, "filter": {"property": "nope", "op": "eq", "value": 1}}),
                           id=f"{route}-unknown-property")
    yield pytest.param(Http("POST", "/api/values/set", json={"property": "caption", "value": "x",
                                                               "filter": regex(EVIL_REGEX)},
                            statuses=REFUSED | {200}, slow=True), id="values-set-evil-regex")
    yield pytest.param(Http("POST", "/api/views", content=b'{"name": "deep", "state": {"filter": '
                            + nested_json_text(900).encode() + b"}}", headers=JSON), id="views-not-depth-900")
    yield pytest.param(Http("POST", "/api/views", json={"name": "bad", "state": {"filter": regex(r"(a)\1")}}),
                       id="views-regex-backreference")
    # Job routes: a bad filter is refused at once, not accepted (202) and failed in the background.
    yield pytest.param(Http("POST", "/api/cluster", content=deep_query_body(nested_json_text(900)),
                            headers=JSON), id="cluster-not-depth-900")
    yield pytest.param(Http("POST", "/api/duplicates", json={"filter": {"property": "nope", "op": "eq", "value": 1}}),
                       id="duplicates-unknown-property")
    yield pytest.param(Http("POST", "/api/plugins/imagier/kmeans/run", json={"filter": regex(r"(a)\1")}),
                       id="plugin-run-regex-backreference")


def _injection_cases():
    for name, bad in INJECTION_NAMES.items():
        yield pytest.param(Http("POST", "/api/values/set", json={"property": bad, "ids": [1], "value": "x"}),
                           id=f"values-set-property-{name}")
        yield pytest.param(query({"property": bad, "op": "eq", "value": "x"}), id=f"query-property-{name}")
        yield pytest.param(Http("POST", "/api/properties/category/tags/merge", json={"sources": [bad], "into": "cat"}),
                           id=f"tag-merge-source-{name}")
    for name in ("sql", "double-quote", "percent", "nul", "rtl", "emoji"):
        yield pytest.param(Http("GET", f"/api/properties/{quote(INJECTION_NAMES[name], safe='')}"),
                           id=f"get-property-{name}")
    yield pytest.param(Http("POST", "/api/properties", json={"name": "cap\x00tion", "type": "text"}),
                       id="create-property-nul")
    yield pytest.param(Http("POST", "/api/properties", json={"name": "a/b", "type": "text"}),
                       id="create-property-slash")
    yield pytest.param(Http("POST", "/api/properties", json={"name": "  ", "type": "text"}),
                       id="create-property-blank")
    yield pytest.param(Http("POST", "/api/properties/category/tags", json={"name": "a,b"}), id="create-tag-comma")
    yield pytest.param(Http("POST", "/api/properties/category/tags", json={"name": "x", "colour": "red; DROP"}),
                       id="create-tag-colour-sql")


def _wrong_type_cases():
    cases = {
        # values
        "values-set-ids-text": ("POST", "/api/values/set", {"property": "caption", "ids": "1", "value": "x"}),
        "values-set-ids-words": ("POST", "/api/values/set", {"property": "caption", "ids": ["abc"], "value": "x"}),
        "values-set-ids-negative": ("POST", "/api/values/set", {"property": "caption", "ids": [-1], "value": "x"}),
        "values-set-ids-huge": ("POST", "/api/values/set", {"property": "caption", "ids": [2 ** 63], "value": "x"}),
        "values-set-ids-float": ("POST", "/api/values/set", {"property": "caption", "ids": [1.5], "value": "x"}),
        "values-set-ids-null": ("POST", "/api/values/set", {"property": "caption", "ids": [None], "value": "x"}),
        "values-set-ids-nested": ("POST", "/api/values/set", {"property": "caption", "ids": [[1]], "value": "x"}),
        "values-set-ids-object": ("POST", "/api/values/set", {"property": "caption", "ids": {}, "value": "x"}),
        "values-set-ids-and-filter": ("POST", "/api/values/set", {"property": "caption", "ids": [1], "filter": None,
                                                                  "value": "x"}),
        "values-set-no-selection": ("POST", "/api/values/set", {"property": "caption", "value": "x"}),
        "values-set-property-number": ("POST", "/api/values/set", {"property": 5, "ids": [1], "value": "x"}),
        "values-set-property-null": ("POST", "/api/values/set", {"property": None, "ids": [1], "value": "x"}),
        "values-set-builtin": ("POST", "/api/values/set", {"property": "width", "ids": [1], "value": 3}),
        "values-set-number-of-words": ("POST", "/api/values/set", {"property": "rating", "ids": [1], "value": "abc"}),
        "values-set-number-nested": ("POST", "/api/values/set", {"property": "rating", "ids": [1], "value": [[1]]}),
        "values-set-text-object": ("POST", "/api/values/set", {"property": "caption", "ids": [1], "value": {"a": 1}}),
        "values-add-tags-object": ("POST", "/api/values/add", {"property": "category", "ids": [1], "tags": {"a": 1}}),
        "values-add-tags-nested": ("POST", "/api/values/add", {"property": "category", "ids": [1], "tags": [[["x"]]]}),
        "values-add-to-text": ("POST", "/api/values/add", {"property": "caption", "ids": [1], "tags": ["x"]}),
        "values-remove-unknown-id": ("POST", "/api/values/remove", {"property": "category", "ids": [99999]}),
        "set-many-key-words": ("POST", "/api/values/set-many", {"property": "caption", "values": {"abc": "x"}}),
        "set-many-list": ("POST", "/api/values/set-many", {"property": "caption", "values": []}),
        "set-many-unknown-id": ("POST", "/api/values/set-many", {"property": "caption", "values": {"99999": "x"}}),
        "set-many-bad-number": ("POST", "/api/values/set-many", {"property": "rating", "values": {"1": "x"}}),
        "values-window-ids-text": ("POST", "/api/values", {"ids": "1,2"}),
        # properties and tags
        "property-name-number": ("POST", "/api/properties", {"name": 5, "type": "text"}),
        "property-name-list": ("POST", "/api/properties", {"name": ["a"], "type": "text"}),
        "property-type-unknown": ("POST", "/api/properties", {"name": "fresh", "type": "blob"}),
        "property-type-null": ("POST", "/api/properties", {"name": "fresh", "type": None}),
        "property-scope-unknown": ("POST", "/api/properties", {"name": "fresh", "type": "text", "scope": "world"}),
        "property-builtin-name": ("POST", "/api/properties", {"name": "path", "type": "text"}),
        "property-exists": ("POST", "/api/properties", {"name": "caption", "type": "text"}),
        "property-extra-field": ("POST", "/api/properties", {"name": "fresh", "type": "text", "colour": "red"}),
        "rename-to-null": ("PATCH", "/api/properties/caption", {"name": None}),
        "rename-to-builtin": ("PATCH", "/api/properties/caption", {"name": "width"}),
        "rename-to-existing": ("PATCH", "/api/properties/caption", {"name": "rating"}),
        "rename-unknown": ("PATCH", "/api/properties/nope", {"name": "fresh"}),
        "tag-colour-number": ("POST", "/api/properties/category/tags", {"name": "fresh", "colour": 123}),
        "tag-colour-words": ("POST", "/api/properties/category/tags", {"name": "fresh", "colour": "not a colour"}),
        "tag-parents-text": ("POST", "/api/properties/category/tags", {"name": "fresh", "parents": "cat"}),
        "tag-parents-object": ("POST", "/api/properties/category/tags", {"name": "fresh", "parents": [{"a": 1}]}),
        "tag-parents-unknown-id": ("POST", "/api/properties/category/tags", {"name": "fresh", "parents": [99999]}),
        "tag-name-null": ("POST", "/api/properties/category/tags", {"name": None}),
        "tag-on-text-property": ("POST", "/api/properties/caption/tags", {"name": "fresh"}),
        "tag-on-unknown-property": ("POST", "/api/properties/nope/tags", {"name": "fresh"}),
        "tag-parent-cycle": ("PATCH", "/api/properties/category/tags/cat", {"parents": ["dog"]}),
        "tag-rename-comma": ("PATCH", "/api/properties/category/tags/cat", {"name": "a,b"}),
        "merge-no-sources": ("POST", "/api/properties/category/tags/merge", {"sources": [], "into": "cat"}),
        "merge-into-null": ("POST", "/api/properties/category/tags/merge", {"sources": ["dog"], "into": None}),
        "merge-sources-text": ("POST", "/api/properties/category/tags/merge", {"sources": "dog", "into": "cat"}),
        "merge-into-unknown-id": ("POST", "/api/properties/category/tags/merge", {"sources": ["dog"], "into": 99999}),
        # similarity, clustering, suggestions, search
        "similar-query-unknown-id": ("POST", "/api/similar", {"query": 99999}),
        "similar-query-negative": ("POST", "/api/similar", {"query": -1}),
        "similar-query-huge": ("POST", "/api/similar", {"query": 2 ** 64}),
        "similar-query-float": ("POST", "/api/similar", {"query": 1.5}),
        "similar-query-null": ("POST", "/api/similar", {"query": None}),
        "similar-query-empty-list": ("POST", "/api/similar", {"query": []}),
        "similar-query-nested": ("POST", "/api/similar", {"query": [[1]]}),
        "similar-query-object": ("POST", "/api/similar", {"query": {}}),
        "similar-query-empty-text": ("POST", "/api/similar", {"query": ""}),
        "similar-top-k-zero": ("POST", "/api/similar", {"query": 1, "top_k": 0}),
        "similar-top-k-huge": ("POST", "/api/similar", {"query": 1, "top_k": 10 ** 9}),
        "similar-top-k-words": ("POST", "/api/similar", {"query": 1, "top_k": "many"}),
        "similar-min-score-two": ("POST", "/api/similar", {"query": 1, "min_score": 2}),
        "similar-vector-type-unknown": ("POST", "/api/similar", {"query": 1, "vector_type": "nope"}),
        "similar-vector-type-number": ("POST", "/api/similar", {"query": 1, "vector_type": 5}),
        "cluster-k-zero": ("POST", "/api/cluster", {"k": 0}),
        "cluster-k-words": ("POST", "/api/cluster", {"k": "two"}),
        "cluster-method-unknown": ("POST", "/api/cluster", {"method": "dbscan"}),
        "cluster-min-size-one": ("POST", "/api/cluster", {"method": "hdbscan", "min_cluster_size": 1}),
        "cluster-ids-words": ("POST", "/api/cluster", {"ids": ["a"]}),
        "cluster-ids-unknown": ("POST", "/api/cluster", {"ids": [99999]}),
        "cluster-vector-type-unknown": ("POST", "/api/cluster", {"vector_type": "nope"}),
        "save-clusters-empty": ("POST", "/api/clusters/save", {"property": "kind", "clusters": []}),
        "save-clusters-no-ids": ("POST", "/api/clusters/save", {"property": "kind", "clusters": [{"ids": []}]}),
        "save-clusters-unknown-ids": ("POST", "/api/clusters/save", {"property": "kind",
                                                                      "clusters": [{"ids": [99999]}]}),
        "save-clusters-negative": ("POST", "/api/clusters/save", {"property": "kind",
                                                                   "clusters": [{"ids": [1], "cluster": -1}]}),
        "save-clusters-text-property": ("POST", "/api/clusters/save", {"property": "caption",
                                                                        "clusters": [{"ids": [1]}]}),
        "suggestions-property-null": ("POST", "/api/suggestions", {"property": None, "value": "cat"}),
        "suggestions-unknown-property": ("POST", "/api/suggestions", {"property": "nope", "value": "cat"}),
        "suggestions-top-k-zero": ("POST", "/api/suggestions", {"property": "category", "value": "cat", "top_k": 0}),
        "accept-no-ids": ("POST", "/api/suggestions/accept", {"property": "category", "value": "cat", "ids": []}),
        "accept-unknown-ids": ("POST", "/api/suggestions/accept", {"property": "category", "value": "cat",
                                                                   "ids": [99999]}),
        "reject-ids-words": ("POST", "/api/suggestions/reject", {"property": "category", "value": "cat", "ids": ["a"]}),
        "search-text-number": ("POST", "/api/search", {"text": 5}),
        "search-top-k-zero": ("POST", "/api/search", {"text": "cat", "top_k": 0}),
        "search-vector-type-unknown": ("POST", "/api/search", {"text": "cat", "vector_type": "nope"}),
        "duplicates-k-zero": ("POST", "/api/duplicates", {"k": 0}),
        "duplicates-vector-type-unknown": ("POST", "/api/duplicates", {"vector_type": "nope"}),
        # embedding, imports, views, layout, plugins, projects
        "embed-model-unknown": ("POST", "/api/embed", {"model": "nope"}),
        "embed-batch-zero": ("POST", "/api/embed", {"batch_size": 0}),
        "embed-batch-huge": ("POST", "/api/embed", {"batch_size": 10 ** 9}),
        "import-no-folders": ("POST", "/api/imports", {"folders": []}),
        "import-folders-text": ("POST", "/api/imports", {"folders": "<<photos>>"}),
        "import-folders-null": ("POST", "/api/imports", {"folders": [None]}),
        "import-missing-folder": ("POST", "/api/imports", {"folders": ["<<root>>/nope"]}),
        "import-workers-zero": ("POST", "/api/imports", {"folders": ["<<photos>>"], "workers": 0}),
        "import-workers-huge": ("POST", "/api/imports", {"folders": ["<<photos>>"], "workers": 1000}),
        "import-model-unknown": ("POST", "/api/imports", {"folders": ["<<photos>>"], "model": "nope"}),
        "import-nul-in-path": ("POST", "/api/imports", {"folders": ["<<photos>>\x00/x"]}),
        "view-name-null": ("POST", "/api/views", {"name": None, "state": {}}),
        "view-state-list": ("POST", "/api/views", {"name": "v", "state": []}),
        "view-name-blank": ("POST", "/api/views", {"name": " ", "state": {}}),
        "layout-vector-type-unknown": ("POST", "/api/layout", {"vector_type": "nope"}),
        "layout-vector-type-number": ("POST", "/api/layout", {"vector_type": 5}),
        "default-vector-type-unknown": ("PUT", "/api/vector-types/default", {"name": "nope"}),
        "default-vector-type-null": ("PUT", "/api/vector-types/default", {"name": None}),
        "plugin-unknown": ("POST", "/api/plugins/nope/x/run", {}),
        "plugin-action-unknown": ("POST", "/api/plugins/imagier/nope/run", {}),
        "plugin-param-zero": ("POST", "/api/plugins/imagier/kmeans/run", {"params": {"k": 0}}),
        "plugin-param-words": ("POST", "/api/plugins/imagier/kmeans/run", {"params": {"k": "two"}}),
        "plugin-param-unknown": ("POST", "/api/plugins/imagier/kmeans/run", {"params": {"bogus": 1}}),
        "plugin-params-list": ("POST", "/api/plugins/imagier/kmeans/run", {"params": []}),
        "plugin-ids-words": ("POST", "/api/plugins/imagier/kmeans/run", {"ids": ["a"]}),
        "open-path-number": ("POST", "/api/project/open", {"path": 5}),
        "open-missing": ("POST", "/api/project/open", {"path": "<<root>>/nope.imagier"}),
        "create-existing": ("POST", "/api/project/open", {"path": "<<root>>/corpus.imagier", "create": True}),
        "create-in-missing-folder": ("POST", "/api/project/open", {"path": "<<root>>/nodir/x.imagier", "create": True}),
    }
    for name, (method, url, body) in cases.items():
        yield pytest.param(Http(method, url, json=body), id=name)
    yield pytest.param(Http("POST", "/api/project/open", json={"path": "<<root>>/notes.imagier"},
                            also_unchanged=("notes",)), id="open-text-file")
    yield pytest.param(Http("POST", "/api/project/open", json={"path": "<<root>>/empty.imagier"},
                            also_unchanged=("empty",)), id="open-empty-file")
    deep_tree = '{"ids": [1]' + ', "clusters": [{"ids": [1]' * 900 + "}]" * 900 + "}"
    yield pytest.param(Http("POST", "/api/clusters/save", content=f'{{"property": "kind", "clusters": [{deep_tree}]}}'
                            .encode(), headers=JSON), id="save-clusters-900-deep")
    for url in ("/api/files/abc", "/api/files/-1", "/api/files/1.5", "/api/files/99999999999999999999",
                "/api/history?limit=0", "/api/history?limit=abc", "/api/history?limit=" + "9" * 30,
                "/api/values?ids=abc", "/api/values?ids=1e5", "/api/calibration?vector_type=nope",
                "/api/layout?vector_type=nope", "/api/jobs/nope", "/api/jobs/nope/events",
                "/api/thumbnails/nothex.jpg", "/api/thumbnails/" + "0" * 64 + ".jpg", "/api/originals/" + "0" * 64):
        yield pytest.param(Http("GET", url), id="get-" + url.removeprefix("/api/")[:40])
    for method, url, body in (("PUT", "/api/views/abc", {"name": "v", "state": {}}),
                              ("PUT", "/api/views/99999", {"name": "v", "state": {}}),
                              ("PUT", "/api/views/99999999999999999999", {"name": "v", "state": {}}),
                              ("POST", "/api/jobs/nope/cancel", None),
                              ("POST", "/api/imports/999999/resume", None),
                              ("POST", "/api/imports/abc/resume", None),
                              ("POST", "/api/redo", None),
                              ("DELETE", "/api/properties/nope", None),
                              ("DELETE", "/api/properties/category/tags/nope", None)):
        yield pytest.param(Http(method, url, json=NOTHING if body is None else body),
                           id=f"{method.lower()}-{url.removeprefix('/api/')[:40]}")


def _outside_path_cases():
    outside = {"passwd": "/etc/passwd", "missing": "/etc/nonexistent.jpg", "dotdot": "../../../../../../etc/passwd",
               "link-image": "<<link_image>>", "link-passwd": "<<link_passwd>>", "image": "<<outside>>/outside.jpg"}
    for name, path in outside.items():
        yield pytest.param(Http("POST", "/api/similar", json={"query": path}, statuses=OUTSIDE), id=f"similar-{name}")
    yield pytest.param(Http("POST", "/api/similar", json={"query": "<<root>>/x\x00.jpg"}), id="similar-nul-in-path")
    folders = {"etc": "/etc", "dotdot": "../../../../../../etc", "link-dir": "<<link_dir>>",
               "missing": "/nonexistent"}
    for name, path in folders.items():
        yield pytest.param(Http("POST", "/api/imports", json={"folders": [path]}, statuses=OUTSIDE),
                           id=f"import-{name}")
        yield pytest.param(Http("GET", "/api/folders", params={"path": path}, statuses=OUTSIDE), id=f"folders-{name}")
        yield pytest.param(Http("POST", "/api/embed", json={"model": "clip-vit-b32", "model_path": path},
                                statuses=OUTSIDE), id=f"embed-model-path-{name}")
    yield pytest.param(Http("GET", "/api/folders", params={"path": "<<root>>\x00"}), id="folders-nul-in-path")
    yield pytest.param(Http("POST", "/api/plugins/imagier/clip/run", json={"params": {"model_path": "/etc"}},
                            statuses=OUTSIDE), id="plugin-clip-model-path-etc")
    yield pytest.param(Http("POST", "/api/plugins/imagier/clip/run",
                            json={"params": {"model_path": "<<link_dir>>"}}, statuses=OUTSIDE),
                       id="plugin-clip-model-path-link")
    for name, path in {"passwd": "/etc/passwd", "dotdot": "../../../../../../etc/passwd",
                       "link": "<<link_project>>", "outside": "<<outside>>/outside.imagier"}.items():
        yield pytest.param(Http("POST", "/api/project/open", json={"path": path}, statuses=OUTSIDE,
                                also_unchanged=("outside_project",)), id=f"open-{name}")
    yield pytest.param(Http("POST", "/api/project/open", json={"path": "<<outside>>/new", "create": True},
                            statuses=OUTSIDE), id="create-outside")
    # An imported photograph replaced by a link out of the roots: its original is not served.
    yield pytest.param(Http("GET", "/api/originals/<<swapped_hash>>", statuses=REFUSED), id="original-now-a-link")


def _guard_cases():
    write = {"name": "evil", "type": "text"}
    for name, host in {"evil": "evil.example", "suffix": "127.0.0.1.evil.example",
                       "localhost-suffix": "localhost.evil.example", "wildcard": "0.0.0.0", "empty": ""}.items():
        yield pytest.param(Http("GET", "/api/info", headers={"Host": host}, statuses=OUTSIDE), id=f"host-{name}")
    yield pytest.param(Http("POST", "/api/properties", json=write, headers={"Host": "evil.example"},
                            statuses=OUTSIDE), id="host-evil-write")
    evil = {"Origin": "http://evil.example"}
    for name, (method, url, body) in {
        "create-property": ("POST", "/api/properties", write),
        "undo": ("POST", "/api/undo", NOTHING),
        "delete-property": ("DELETE", "/api/properties/caption", NOTHING),
        "rename-property": ("PATCH", "/api/properties/caption", {"name": "evil"}),
        "set-values": ("POST", "/api/values/set", {"property": "caption", "ids": [1], "value": "evil"}),
        "open-project": ("POST", "/api/project/open", {"path": "<<root>>/evil.imagier", "create": True}),
        "import": ("POST", "/api/imports", {"folders": ["<<photos>>"], "embed": False}),
    }.items():
        yield pytest.param(Http(method, url, json=body, headers=evil, statuses=OUTSIDE), id=f"origin-evil-{name}")
    yield pytest.param(Http("POST", "/api/import-csv", content=lambda c: c.csvs["valid"],
                            headers={"content-type": "text/csv", **evil}, statuses=OUTSIDE),
                       id="origin-evil-import-csv")
    for name, origin in {"null": "null", "other-port": "http://127.0.0.1:<<other_port>>",
                         "localhost": "http://localhost:<<port>>"}.items():
        yield pytest.param(Http("POST", "/api/properties", json=write, headers={"Origin": origin}, statuses=OUTSIDE),
                           id=f"origin-{name}")
    cross = {"Sec-Fetch-Site": "cross-site"}
    for name, (url, params) in {
        "export": ("/api/export.csv", None),
        "export-filter": ("/api/export.csv", {"filter": json.dumps(regex("a"))}),
        "download": ("/api/project/download", None),
        "folders": ("/api/folders", {"path": "<<root>>"}),
        "calibration": ("/api/calibration", None),
        "plugins-reload": ("/api/plugins", {"reload": "true"}),
        "values": ("/api/values", {"ids": "1,2,3"}),
    }.items():
        yield pytest.param(Http("GET", url, params=params, headers=cross, statuses=OUTSIDE),
                           id=f"cross-site-get-{name}")


def _route_cases():
    for url in ("/api/nope", "/api", "/api/", "/api/properties/caption/nope/x", "/nope", "/assets/nope.js"):
        yield pytest.param(Http("GET", url, statuses=frozenset({404})), id=f"missing-get-{url}")
    yield pytest.param(Http("POST", "/api/nope", json={}, statuses=frozenset({404})), id="missing-post")
    for method, url in (("DELETE", "/api/info"), ("PUT", "/api/query"), ("GET", "/api/query"), ("POST", "/api/info"),
                        ("PATCH", "/api/values/set"), ("GET", "/api/undo"), ("DELETE", "/api/undo"),
                        ("OPTIONS", "/api/query"), ("TRACE", "/api/info")):
        yield pytest.param(Http(method, url, statuses=frozenset({404, 405})), id=f"method-{method}-{url}")
    for target in ("/api/../../../../etc/passwd", "/assets/../../../../../etc/passwd",
                   "/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/api/originals/..%2f..%2f..%2fetc%2fpasswd",
                   "/api/thumbnails/%2e%2e%2f%2e%2e%2fetc%2fpasswd.jpg"):
        yield pytest.param(Http("GET", target, statuses=frozenset({400, 403, 404}), raw=True), id=f"traversal-{target}")


def random_bytes(corpus=None) -> bytes:
    return np.random.default_rng(9).integers(0, 256, 5 * MB, dtype=np.uint8).tobytes()


def _body_cases():
    yield pytest.param(Http("POST", "/api/query", content=random_bytes, headers=JSON, slow=True),
                       id="query-5mb-binary")
    yield pytest.param(Http("POST", "/api/query", content=b"[" * 100_000, headers=JSON, slow=True),
                       id="query-100k-open-brackets")
    yield pytest.param(Http("POST", "/api/query", content=b'{"filter": ' + b'{"not": ' * 100_000, headers=JSON,
                            slow=True), id="query-100k-unclosed-nots")
    yield pytest.param(Http("POST", "/api/values/set", content=lambda c: json.dumps(
        {"property": "nope", "ids": list(range(700_000)), "value": "x"}).encode(), headers=JSON, slow=True),
                       id="values-set-5mb-of-ids")
    yield pytest.param(Http("POST", "/api/properties", content=b'{"name": "\xff\xfe\x00", "type": "text"}',
                            headers=JSON), id="create-property-invalid-utf8")
    yield pytest.param(Http("POST", "/api/properties", content=random_bytes,
                            headers={"content-type": "application/octet-stream"}, slow=True),
                       id="create-property-5mb-octet-stream")
    yield pytest.param(Http("POST", "/api/import-csv", params={"dry_run": "true"}, content=random_bytes,
                            headers={"content-type": "text/csv"}, slow=True), id="import-csv-dry-5mb-binary")
    yield pytest.param(Http("POST", "/api/import-csv", content=random_bytes, headers={"content-type": "text/csv"},
                            slow=True), id="import-csv-5mb-binary")
    yield pytest.param(Http("POST", "/api/import-csv", params={"dry_run": "true"},
                            content=lambda c: (random_bytes()[i:i + 65536] for i in range(0, 5 * MB, 65536)),
                            headers={"content-type": "text/csv"}, slow=True), id="import-csv-dry-5mb-chunked")
    # A Content-Length far beyond any limit, and a body that never comes: refused at once, not awaited.
    yield pytest.param(Http("POST", "/api/import-csv?dry_run=true",
                            headers={"Content-Type": "text/csv", "Content-Length": str(50 * 1024 * MB)},
                            content=b"path\n", raw=True, slow=True), id="import-csv-declares-50gb")


def _csv_cases():
    for name in ("latin1_mixed", "utf16", "binary", "bad_type", "outside_paths"):
        # A dry run reports unmatched rows (its purpose), so outside paths are refused by the real import only.
        for dry in (True, False) if name != "outside_paths" else (False,):
            yield pytest.param(Http("POST", "/api/import-csv", params={"dry_run": "true"} if dry else None,
                                    content=lambda c, name=name: c.csvs[name], headers={"content-type": "text/csv"}),
                               id=f"import-csv-{name}{'-dry' if dry else ''}")
    yield pytest.param(Http("POST", "/api/import-csv", json={"text": 5}), id="import-csv-json-text-number")
    yield pytest.param(Http("POST", "/api/import-csv", content=b"", headers={"content-type": "text/csv"}),
                       id="import-csv-empty")
    yield pytest.param(Http("POST", "/api/import-csv", params={"dry_run": "true", "encoding": "utf-8"},
                            content=lambda c: c.csvs["latin1_mixed"], headers={"content-type": "text/csv"}),
                       id="import-csv-latin1-said-utf8")
    yield pytest.param(Http("POST", "/api/import-csv", params={"encoding": "klingon"},
                            content=lambda c: c.csvs["valid"], headers={"content-type": "text/csv"}),
                       id="import-csv-unknown-encoding")


HTTP_CASES = [*_filter_cases(), *_injection_cases(), *_wrong_type_cases(), *_outside_path_cases(), *_guard_cases(),
              *_route_cases(), *_body_cases(), *_csv_cases()]


def raw_request(port: int, method: str, target: str, headers: dict, body: bytes, timeout: float) -> httpx.Response:
    """Send a request exactly as written; the answer's status, headers and body (read until the server
    closes, or stops sending for `timeout`)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body and not any(k.lower() == "content-length" for k in headers):
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except TimeoutError:
            if not data:
                raise httpx.ReadTimeout(f"no answer within {timeout} s") from None
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    answer_headers = [tuple(h.split(": ", 1)) for h in header_lines if ": " in h]
    if any(k.lower() == "transfer-encoding" and v == "chunked" for k, v in answer_headers):
        payload = _dechunk(payload)
    return httpx.Response(int(status_line.split()[1]), headers=answer_headers, content=payload)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + rest[:size], rest[size + 2:]
    return out


def send(served: Served, case: Http, corpus) -> httpx.Response:
    headers = fill(case.headers, corpus, served)
    content = fill(case.content, corpus, served)
    if case.raw:
        return raw_request(served.port, case.method, fill(case.url, corpus, served), headers, content or b"",
                           ANSWER_SECONDS)
    options: dict = {"headers": headers, "params": fill(case.params, corpus, served)}
    if case.json is not NOTHING:
        options["json"] = fill(case.json, corpus, served)
    elif content is not None:
        options["content"] = content
    with httpx.Client(base_url=served.url, timeout=ANSWER_SECONDS) as client:
        return client.request(case.method, fill(case.url, corpus, served), **options)


def answer_problems(response: httpx.Response, statuses: frozenset) -> list[str]:
    """What is wrong with the answer to a bad request: its status, or a body that is not a clean error."""
    status, text = response.status_code, response.text
    seen = f"status {status}: {text[:300]!r}"
    problems = []
    if status not in statuses:
        problems.append(f"expected {'/'.join(map(str, sorted(statuses)))}, got {seen}")
    if "Traceback" in text or 'File "/' in text:
        problems.append(f"a traceback in the answer: {text[:300]!r}")
    if status == 200:
        return problems
    try:
        body = response.json()
    except ValueError:
        return problems + [f"the error is not JSON ({response.headers.get('content-type')}): {text[:200]!r}"]
    if not (isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("message"), str)
            and body["message"].strip()):
        problems.append(f'the error is not {{"error", "message"}}: {text[:200]!r}')
    if len(response.content) > MAX_ERROR_BYTES:
        problems.append(f"the error echoes the input: {len(response.content)} bytes")
    return problems


def send_in_flight(served: Served, case: Http, corpus) -> tuple[httpx.Response | None, list[str]]:
    """Send a slow bad request in a thread and, while it is in flight, time another request."""
    outcome: dict = {}

    def bad_request():
        started = time.monotonic()
        try:
            outcome["response"] = send(served, case, corpus)
        except (httpx.HTTPError, OSError) as e:
            outcome["error"] = f"{type(e).__name__} {e}"
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=bad_request, daemon=True)
    thread.start()
    thread.join(0.3)
    problems = []
    if thread.is_alive():
        started = time.monotonic()
        info, why = served.info(timeout=OTHER_REQUEST_SECONDS)
        took = time.monotonic() - started
        if info is None:
            problems.append(f"while the bad request was in flight, GET /api/info got no answer within "
                            f"{OTHER_REQUEST_SECONDS} s ({why})")
        elif took > OTHER_REQUEST_SECONDS:
            problems.append(f"while the bad request was in flight, GET /api/info took {took:.1f} s")
    thread.join(ANSWER_SECONDS + 5)
    if "response" not in outcome:
        problems.append(f"no answer within {ANSWER_SECONDS} s ({outcome.get('error', 'still waiting')})")
    elif outcome["seconds"] > ANSWER_SECONDS:
        problems.append(f"answered after {outcome['seconds']:.1f} s")
    return outcome.get("response"), problems


def test_the_server_serves_good_requests(served, corpus):
    """The control: the refusals above are answers to bad input, not a server that refuses everything."""
    with httpx.Client(base_url=served.url, timeout=ANSWER_SECONDS) as client:
        info = client.get("/api/info", headers={"Sec-Fetch-Site": "same-origin"}).json()
        found = client.post("/api/query", json={"filter": {"property": "caption", "op": "eq", "value": "a photograph"}})
        export = client.get("/api/export.csv", params={"filter": json.dumps(regex("astronaut"))})
    assert (info["path"], info["files"]) == (str(corpus.project), len(PHOTOS))
    assert found.status_code == 200 and found.json()["total"] == 2
    assert export.status_code == 200 and len(export.text.splitlines()) == 2  # the header and astronaut.jpg


@pytest.mark.parametrize("case", HTTP_CASES)
def test_http_refuses_bad_input_cleanly(case: Http, served, corpus):
    watched = {key: corpus.files[key] for key in ("served", *case.also_unchanged)}
    before = {key: snapshot(path) for key, path in watched.items()}
    if case.slow:
        response, problems = send_in_flight(served, case, corpus)
    else:
        try:
            response, problems = send(served, case, corpus), []
        except (httpx.HTTPError, OSError) as e:
            response, problems = None, [f"no answer within {ANSWER_SECONDS} s: {type(e).__name__} {e}"]
    if response is not None:
        problems += answer_problems(response, case.statuses)
    problems += served.check_alive()
    problems += unchanged_problems(watched, before)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("route", ["similar", "folders", "imports", "embed", "open"])
def test_outside_paths_get_one_answer_whatever_exists_there(route, served, corpus):
    """Item 4, file probing: an existing and a missing file outside the roots are answered alike."""
    requests = {
        "similar": lambda path: Http("POST", "/api/similar", json={"query": path}),
        "folders": lambda path: Http("GET", "/api/folders", params={"path": path}),
        "imports": lambda path: Http("POST", "/api/imports", json={"folders": [path]}),
        "embed": lambda path: Http("POST", "/api/embed", json={"model": "clip-vit-b32", "model_path": path}),
        "open": lambda path: Http("POST", "/api/project/open", json={"path": path}),
    }[route]
    before = snapshot(corpus.project)
    answers = []
    for path in ("/etc/passwd", "/etc/nonexistent", "/etc", "<<outside>>/outside.imagier"):
        response = send(served, requests(path), corpus)
        body = response.json()
        message = body.get("message", "") if isinstance(body, dict) else ""
        # The answer may name the path it was given; nothing else in it may differ.
        answers.append((response.status_code, message.replace(fill(path, corpus), "PATH")))
    problems = [] if len(set(answers)) == 1 else [f"the answers differ: {answers}"]
    problems += [f"{status} is not a refusal" for status, _ in answers if status not in REFUSED]
    problems += served.check_alive()
    problems += unchanged_problems({"served": corpus.project}, {"served": before})
    assert not problems, "\n".join(problems)


# ---- CLI cases ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cli:
    """One bad command line. `watched`: the files that must stay as they are (keys of corpus.files);
    `read_only`: run without root's power to write files whatever their permissions; `mentions`: words the
    error message must hold; `may_succeed`: input a linear-time engine may run (then within the timeout)."""

    args: tuple
    watched: tuple = ("cli",)
    read_only: bool = False
    timeout: float = CLI_SECONDS
    mentions: tuple = ()
    may_succeed: bool = False


def _drop_root_file_powers() -> None:
    # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: without them root obeys file permissions like any
    # user, so a read-only project is read-only to the command. (Not root: nothing to drop, prctl fails.)
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP: gone from the program exec'd next


def cli(*args, **options) -> Cli:
    return Cli(args, **options)


P = "<<cli>>"
CLIDIR = "<<clidir>>"
CLI_CASES = [
    # filters, sorts and groups
    pytest.param(cli("query", P, "--filter", "{"), id="query-filter-bad-json"),
    pytest.param(cli("query", P, "--filter", nested_json_text(100)), id="query-not-depth-100"),
    pytest.param(cli("query", P, "--filter", nested_json_text(900)), id="query-not-depth-900"),
    pytest.param(cli("query", P, "--filter", nested_json_text(5000)), id="query-not-depth-5000"),
    pytest.param(cli("query", P, "--filter", nested_and_text(5000)), id="query-and-depth-5000"),
    pytest.param(cli("query", P, "--filter", json.dumps({"property": "width", "op": "regex", "value": 1})),
                 id="query-unknown-op"),
    pytest.param(cli("query", P, "--filter", json.dumps({"property": "'; DROP TABLE files; --", "op": "eq",
                                                         "value": 1})), id="query-property-sql"),
    pytest.param(cli("query", P, "--filter", json.dumps(regex(EVIL_REGEX)), timeout=ANSWER_SECONDS + 5,
                     may_succeed=True), id="query-evil-regex"),
    pytest.param(cli("query", P, "--filter", json.dumps(regex(r"(a)\1"))), id="query-regex-backreference"),
    pytest.param(cli("query", P, "--sort", json.dumps([{"property": "nope"}])), id="query-sort-unknown"),
    pytest.param(cli("query", P, "--limit", "-1"), id="query-limit-negative"),
    # values
    pytest.param(cli("values", "set", P, "caption", "x", "--id", "99999"), id="values-set-unknown-id"),
    pytest.param(cli("values", "set", P, "caption", "x", "--id", "9" * 30), id="values-set-huge-id"),
    pytest.param(cli("values", "set", P, "nope", "x", "--id", "1"), id="values-set-unknown-property"),
    pytest.param(cli("values", "set", P, "rating", "abc", "--id", "1"), id="values-set-number-of-words"),
    pytest.param(cli("values", "add", P, "caption", "x", "--id", "1"), id="values-add-to-text"),
    pytest.param(cli("values", "set", P, "caption", "x"), id="values-set-no-selection"),
    pytest.param(cli("values", "set", P, "caption", "x", "--path", "/etc/passwd"), id="values-set-outside-path"),
    pytest.param(cli("values", "set", P, "caption", "x", "--filter", nested_json_text(5000)),
                 id="values-set-filter-depth-5000"),
    # properties and tags
    pytest.param(cli("property", "create", P, "'; DROP TABLE files; --", "blob"), id="property-create-bad-type"),
    pytest.param(cli("property", "create", P, "path", "text"), id="property-create-builtin"),
    pytest.param(cli("property", "create", P, "caption", "text"), id="property-create-existing"),
    pytest.param(cli("tag", "create", P, "caption", "x"), id="tag-create-on-text"),
    pytest.param(cli("tag", "create", P, "category", "a,b"), id="tag-create-comma"),
    pytest.param(cli("tag", "update", P, "category", "cat", "--parent", "dog"), id="tag-update-cycle"),
    # project files that are not projects
    pytest.param(cli("info", f"{CLIDIR}/empty.imagier", watched=("cli_empty",)), id="info-0-byte-file"),
    pytest.param(cli("property", "create", f"{CLIDIR}/empty.imagier", "x", "text", watched=("cli_empty",)),
                 id="property-create-0-byte-file"),
    pytest.param(cli("info", f"{CLIDIR}/notes.imagier", watched=("cli_notes",)), id="info-text-file"),
    pytest.param(cli("info", f"{CLIDIR}/photo.imagier", watched=("cli_photo",)), id="info-jpeg-file"),
    pytest.param(cli("info", f"{CLIDIR}/plain.imagier", watched=("cli_plain",)), id="info-other-sqlite"),
    pytest.param(cli("info", f"{CLIDIR}/newer.imagier", watched=("cli_newer",)), id="info-newer-schema"),
    pytest.param(cli("query", f"{CLIDIR}/truncated.imagier", watched=("cli_truncated",)), id="query-truncated-file"),
    pytest.param(cli("info", f"{CLIDIR}/missing.imagier", watched=("cli_missing",)), id="info-missing-file"),
    pytest.param(cli("import", f"{CLIDIR}/notes.imagier", "<<photos>>", "--no-embed", watched=("cli_notes",)),
                 id="import-into-text-file"),
    # read-only projects
    pytest.param(cli("property", "create", f"{CLIDIR}/readonly.imagier", "x", "text", watched=("cli_readonly",),
                     read_only=True), id="property-create-read-only"),
    pytest.param(cli("values", "set", f"{CLIDIR}/readonly.imagier", "caption", "x", "--id", "1",
                     watched=("cli_readonly",), read_only=True), id="values-set-read-only"),
    pytest.param(cli("import-csv", f"{CLIDIR}/readonly.imagier", f"{CLIDIR}/valid.csv", watched=("cli_readonly",),
                     read_only=True), id="import-csv-read-only"),
    pytest.param(cli("undo", f"{CLIDIR}/readonly.imagier", watched=("cli_readonly",), read_only=True),
                 id="undo-read-only"),
    pytest.param(cli("property", "create", "<<root>>/locked/corpus.imagier", "x", "text", watched=("cli_locked",),
                     read_only=True), id="property-create-read-only-folder"),
    # exports
    pytest.param(cli("export", P, "<<root>>/nodir/out.csv", watched=("cli", "missing_out"),
                     mentions=("<<root>>/nodir",)), id="export-missing-folder"),
    pytest.param(cli("export", P, "<<root>>/out.csv", "--filter", nested_json_text(900)),
                 id="export-filter-depth-900"),
    # CSV files
    pytest.param(cli("import-csv", P, f"{CLIDIR}/binary.csv"), id="import-csv-binary"),
    pytest.param(cli("import-csv", P, f"{CLIDIR}/latin1_mixed.csv"), id="import-csv-latin1-mixed"),
    pytest.param(cli("import-csv", P, f"{CLIDIR}/utf16.csv"), id="import-csv-utf16-no-bom"),
    # plugins and their parameters
    pytest.param(cli("run", P, "imagier.kmeans", "--param", "k=abc"), id="run-param-words"),
    pytest.param(cli("run", P, "imagier.kmeans", "--param", "k=0"), id="run-param-zero"),
    pytest.param(cli("run", P, "imagier.kmeans", "--param", "k"), id="run-param-no-value"),
    pytest.param(cli("run", P, "imagier.kmeans", "--param", "bogus=1"), id="run-param-unknown"),
    pytest.param(cli("run", P, "imagier.nope"), id="run-unknown-action"),
    pytest.param(cli("run", P, "imagier.clip", "--param", "model_path=/nonexistent"), id="run-clip-missing-model"),
    # analysis
    pytest.param(cli("similar", P, "99999"), id="similar-unknown-id"),
    pytest.param(cli("similar", P, "/etc/passwd"), id="similar-not-an-image"),
    pytest.param(cli("embed", P, "--model", "nope"), id="embed-unknown-model"),
    pytest.param(cli("embed", P, "--model", "clip-vit-b32", "--model-path", "/nonexistent"),
                 id="embed-missing-model-path"),
    pytest.param(cli("cluster", P, "--k", "1000"), id="cluster-more-clusters-than-images"),
    # serving with a token that opens the server to anyone (item 2): refused at start, not served
    pytest.param(cli("serve", P, "--token", "", "--port", "0", timeout=ANSWER_SECONDS + 5), id="serve-empty-token"),
    pytest.param(cli("serve", P, "--token", "abc", "--port", "0", timeout=ANSWER_SECONDS + 5), id="serve-short-token"),
]


def cli_problems(done: subprocess.CompletedProcess, mentions: list[str]) -> list[str]:
    """What is wrong with a command's refusal: its exit status, or an error that is not one clean line."""
    seen = f"exit {done.returncode}, stderr {done.stderr[-600:]!r}, stdout {done.stdout[:200]!r}"
    problems = []
    if done.returncode <= 0:
        problems.append(f"expected a non-zero exit; {seen}")
    if "Traceback" in done.stderr + done.stdout:
        problems.append(f"a traceback: {done.stderr[-600:]!r}")
    # Click's usage errors open with a usage line and a hint; the message itself is the rest.
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith(("Usage: ", "Try '"))]
    if len(lines) != 1 or not lines[0].lower().startswith("error"):
        problems.append(f"expected a one-line error message on stderr; {seen}")
    problems += [f"the message does not name {word!r}: {done.stderr[-300:]!r}"
                 for word in mentions if word not in done.stderr]
    return problems


def test_cli_runs_good_commands(corpus):
    """The control: the commands refused below start, read projects (read-only ones too) and succeed."""
    for project, read_only in (("cli", False), ("cli_readonly", True)):
        done = subprocess.run([*IMAGIER, "query", str(corpus.files[project]), "--limit", "1"], capture_output=True,
                              text=True, timeout=CLI_SECONDS, env=_child_env(), stdin=subprocess.DEVNULL,
                              preexec_fn=_drop_root_file_powers if read_only else None)
        assert done.returncode == 0 and done.stdout.startswith(f"{len(PHOTOS)} images"), done.stderr


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_refuses_bad_input_cleanly(case: Cli, corpus):
    watched = {key: corpus.files[key] for key in case.watched}
    before = {key: snapshot(path) for key, path in watched.items()}
    args = [fill(arg, corpus) for arg in case.args]
    try:
        done = subprocess.run([*IMAGIER, *args], capture_output=True, text=True, errors="replace",
                              timeout=case.timeout, env=_child_env(), cwd=corpus.root, stdin=subprocess.DEVNULL,
                              preexec_fn=_drop_root_file_powers if case.read_only else None)
        if case.may_succeed and done.returncode == 0:
            problems = [f"a traceback: {done.stderr[-600:]!r}"] if "Traceback" in done.stderr else []
        else:
            problems = cli_problems(done, [fill(word, corpus) for word in case.mentions])
    except subprocess.TimeoutExpired as e:  # subprocess.run has killed it
        problems = [f"still running after {case.timeout} s: {(e.stderr or b'')[-300:]!r}"]
    problems += unchanged_problems(watched, before)
    assert not problems, "\n".join(problems)
