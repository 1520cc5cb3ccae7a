"""Plugins: discovery (an entry point, folders), forms from signatures, each kind of action through the
Python API, the CLI and the HTTP API, undo, and failures (raises, hangs, malformed) leaving the project
unchanged. The example package examples/imagier-palette is loaded through a real entry point: a
dist-info with entry_points.txt on sys.path, as `pip install` would leave it."""

from __future__ import annotations

import enum
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Literal, Optional

import httpx
import pytest

import imagier
from imagier.errors import InvalidInput, NotFound
from imagier.plugins import DefinitionError, Property, PluginFailed, Range, VectorType, action
from imagier.server.app import create_app
from live import LiveServer, finished_job

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "imagier-palette" / "src"

# A folder plugin with one action per behaviour to check; every failing one writes first, so "nothing
# was saved" is really tested.
TESTKIT = '''
import time
from imagier.plugins import action

__version__ = "2.0"

def _tag_first(ctx):
    if "kit" not in {p["name"] for p in ctx.project.properties()}:
        ctx.project.create_property("kit", "multi-tag")
    ctx.project.add_values("kit", ctx.ids, ["touched"])

@action(kind="execute")
def tag(ctx, word: str = "touched") -> dict:
    """Tag the images."""
    if "kit" not in {p["name"] for p in ctx.project.properties()}:
        ctx.project.create_property("kit", "multi-tag")
    ctx.project.add_values("kit", ctx.ids, [word])
    return {"message": f"tagged {len(ctx.ids)}", "tagged": len(ctx.ids)}

@action(kind="execute")
def explode(ctx) -> dict:
    _tag_first(ctx)
    raise RuntimeError("the OCR engine is missing")

@action(kind="execute", timeout=1.5)
def hang(ctx) -> dict:
    _tag_first(ctx)
    while True:
        time.sleep(0.05)

@action(kind="execute")
def patient(ctx) -> dict:
    _tag_first(ctx)
    while not ctx.cancelled:
        time.sleep(0.05)
    return {"message": "stopped"}

@action(kind="execute")
def no_message(ctx) -> dict:
    _tag_first(ctx)
    return {"done": True}

@action(kind="group")
def not_a_list(ctx):
    _tag_first(ctx)
    return {"name": "everything", "ids": ctx.ids}

@action(kind="group")
def unknown_image(ctx):
    _tag_first(ctx)
    return [{"name": "ghosts", "ids": [987654]}]

@action(kind="similar")
def no_score(ctx):
    _tag_first(ctx)
    return [{"id": ctx.ids[0]}]

@action(kind="group")
def halves(ctx):
    half = len(ctx.ids) // 2
    return [{"name": "first", "ids": ctx.ids[:half]}, {"name": "second", "paths": [f["path"] for f in ctx.files(ctx.ids[half:])]}]

@action(kind="execute")
def crash(ctx) -> dict:
    _tag_first(ctx)
    import os
    os._exit(3)
'''


@pytest.fixture(scope="session")
def palette_installed(tmp_path_factory):
    """The example package installed through an entry point: a dist-info directory on sys.path (and on
    PYTHONPATH for the CLI's processes), next to the package's sources."""
    site = tmp_path_factory.mktemp("site")
    info = site / "imagier_palette-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: imagier-palette\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[imagier.plugins]\npalette = imagier_palette\n")
    added = [str(site), str(EXAMPLE)]
    sys.path[:0] = added
    yield os.pathsep.join(added)
    for entry in added:
        sys.path.remove(entry)


@pytest.fixture
def kit(embedded):
    """The test kit as a folder plugin in plugins/ beside the project file."""
    folder = embedded.path.parent / "plugins"
    folder.mkdir(exist_ok=True)
    (folder / "kit.py").write_text(TESTKIT)
    embedded.plugins(reload=True)
    return embedded


def cli(*args, env_path: str = "", env: dict | None = None) -> tuple[int, object]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [env_path, os.environ.get("PYTHONPATH")])),
                   **(env or {})}
    done = subprocess.run([sys.executable, "-m", "imagier.cli", *map(str, args), "--json"], capture_output=True,
                          text=True, timeout=120, env=environment)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else done.stderr


# ---- discovery --------------------------------------------------------------------------------------------

def test_an_installed_plugin_is_found_through_its_entry_point(palette_installed, embedded):
    found = {p["name"]: p for p in embedded.plugins()["plugins"]}
    palette = found["palette"]
    assert (palette["version"], palette["distribution"], palette["module"]) == ("0.1.0", "imagier-palette",
                                                                                "imagier_palette")
    assert {a["name"]: a["kind"] for a in palette["actions"]} == {
        "dominant-colour": "execute", "by-colour": "group", "palette": "embed", "similar-palette": "similar"}
    assert found["imagier"]["builtin"] and not palette["builtin"]
    code, listed = cli("plugins", embedded.path, env_path=palette_installed)
    assert code == 0 and "palette" in [p["name"] for p in listed["plugins"]], listed


def test_folder_plugins_broken_ones_are_reported_and_skipped(embedded, tmp_path, monkeypatch):
    beside = embedded.path.parent / "plugins"
    beside.mkdir()
    (beside / "kit.py").write_text(TESTKIT)
    (beside / "broken.py").write_text("import a_module_that_does_not_exist\n")
    (beside / "badform.py").write_text(
        "from imagier.plugins import action\n"
        "@action(kind='execute')\ndef cluster(ctx, sizes: list[int]) -> dict:\n    return {'message': ''}\n")
    package = tmp_path / "env" / "mypack"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .actions import *\n")
    (package / "actions.py").write_text(
        "from imagier.plugins import action\n@action(kind='group')\ndef everything(ctx):\n"
        "    return [{'name': 'all', 'ids': ctx.ids}]\n")
    (tmp_path / "env" / "kit.py").write_text(TESTKIT)  # same name as the project's: the first found wins
    monkeypatch.setenv("IMAGIER_PLUGINS", f"{tmp_path / 'env'}{os.pathsep}{tmp_path / 'nowhere'}")
    found = embedded.plugins(reload=True)
    names = {p["name"]: p for p in found["plugins"]}
    assert {"imagier", "kit", "mypack"} <= set(names)
    assert names["kit"]["version"] == "2.0" and names["kit"]["source"] == str((tmp_path / "env" / "kit.py").resolve())
    errors = {e["plugin"]: e["error"] for e in found["errors"]}
    assert "No module named 'a_module_that_does_not_exist'" in errors["broken"]
    assert "action 'cluster'" in errors["badform"] and "parameter 'sizes'" in errors["badform"]
    assert "unsupported type" in errors["badform"]
    assert "was found first" in errors["kit"]
    assert "does not exist" in errors[str(tmp_path / "nowhere")]
    # the plugins that loaded still run
    groups = embedded.run_action("mypack.everything")
    assert [len(g["ids"]) for g in groups] == [embedded.file_count()]


# ---- forms ------------------------------------------------------------------------------------------------

class Mode(enum.Enum):
    FAST = "fast"
    GOOD = "good"


def test_the_form_schema_of_every_supported_parameter_type(embedded):
    @action(kind="execute", label="All types", timeout=30)
    def everything(ctx, count: int, ratio: float = 0.5, title: str = "t", flag: bool = False, mode: Mode = Mode.FAST,
                   side: Literal["left", "right"] = "left", prop: Property = "subject",
                   tags: Property[Literal["tag", "multi-tag"]] | None = None, vectors: VectorType | None = None,
                   folder: Path = Path("/tmp"), bounded: Annotated[int, Range(1, 100)] = 10,
                   maybe: Optional[Annotated[float, Range(0, 1)]] = None) -> dict:
        """Do everything.

        Args:
            count: how many things.
            ratio: a share,
                over two lines.
            mode: how hard to try.
        """
    spec = everything.__imagier_action__
    props = spec.schema["properties"]
    assert spec.schema["required"] == ["count"] and spec.schema["additionalProperties"] is False
    assert spec.description == "Do everything." and spec.timeout == 30 and spec.label == "All types"
    assert props["count"] == {"type": "integer", "title": "count", "description": "how many things."}
    assert props["ratio"] == {"type": "number", "title": "ratio", "description": "a share, over two lines.", "default": 0.5}
    assert props["title"] == {"type": "string", "title": "title", "default": "t"}
    assert props["flag"] == {"type": "boolean", "title": "flag", "default": False}
    assert props["mode"] == {"type": "string", "enum": ["fast", "good"], "title": "mode",
                             "description": "how hard to try.", "default": "fast"}
    assert props["side"] == {"type": "string", "enum": ["left", "right"], "title": "side", "default": "left"}
    assert props["prop"] == {"type": "string", "x-imagier": "property", "title": "prop", "default": "subject"}
    assert props["tags"] == {"type": ["string", "null"], "x-imagier": "property", "x-property-types": ["tag", "multi-tag"],
                             "title": "tags", "default": None}
    assert props["vectors"] == {"type": ["string", "null"], "x-imagier": "vector-type", "title": "vectors", "default": None}
    assert props["folder"] == {"type": "string", "format": "path", "x-imagier": "path", "title": "folder", "default": "/tmp"}
    assert props["bounded"] == {"type": "integer", "minimum": 1, "maximum": 100, "title": "bounded", "default": 10}
    assert props["maybe"] == {"type": ["number", "null"], "minimum": 0, "maximum": 1, "title": "maybe", "default": None}

    # the values the function receives are typed; bad ones are refused naming the parameter
    from imagier.plugins.schema import coerce_params
    embedded.create_property("subject", "multi-tag")
    got = coerce_params(spec.params, {"count": 3, "mode": "good", "folder": "~/x", "tags": "subject"}, embedded, "t")
    assert got["mode"] is Mode.GOOD and got["folder"] == Path("~/x").expanduser() and got["tags"] == "subject"
    for bad, named in [({}, "'count' is required"), ({"count": "3"}, "whole number"), ({"count": 1, "bounded": 101},
                       "between 1 and 100"), ({"count": 1, "mode": "slow"}, "'mode'"), ({"count": 1, "prop": "nope"},
                       "has none called 'nope'"), ({"count": 1, "tags": "width"}, "of type tag or multi-tag"),
                       ({"count": 1, "vectors": "nope"}, "no vector type named 'nope'"), ({"count": 1, "extra": 1}, "no parameter 'extra'")]:
        with pytest.raises(InvalidInput, match=re.escape(named)):
            coerce_params(spec.params, bad, embedded, "t")


@pytest.mark.parametrize("signature, message", [
    ("ctx, x", "has no type annotation"),
    ("ctx, x: dict", "unsupported type"),
    ("ctx, x: int | str", "a union may only be"),
    ("ctx, *rest: int", "*args and **kwargs"),
    ("ctx, x: Annotated[str, Range(1, 2)]", "a Range bounds a number"),
    ("ctx, x: Annotated[int, Range(1, 5)] = 9", "its default is between 1 and 5"),
])
def test_an_unsupported_parameter_is_an_error_at_load_time(signature, message):
    namespace = {"action": action, "Annotated": Annotated, "Range": Range}
    with pytest.raises(DefinitionError, match=re.escape(message)) as raised:
        exec(f"@action(kind='execute')\ndef broken({signature}):\n    pass\n", namespace)
    assert "action 'broken'" in str(raised.value)


# ---- each kind, through the Python API and the CLI ----------------------------------------------------------

def test_each_kind_through_the_cli_and_undo(palette_installed, embedded, state_of):
    path, env = embedded.path, palette_installed
    embedded.close()
    code, groups = cli("run", path, "palette.by-colour", env_path=env)
    assert code == 0, groups
    assert all(set(g) == {"name", "paths"} for g in groups)
    assert sorted(p for g in groups for p in g["paths"]) == sorted(f["path"] for f in _all_files(path))

    code, result = cli("run", path, "palette.dominant-colour", "--param", "min_share=0.25", env_path=env)
    assert code == 0 and result["message"].startswith("wrote the dominant colour"), result
    with imagier.open(path) as project:
        values = project.values(project.query_ids())
        assert all(re.fullmatch(r"#[0-9a-f]{6}", v["dominant colour"]) for v in values.values())
        assert project.history(1)[0]["label"] == "Dominant colour (palette.dominant-colour)"
        before_undo = state_of(project)

    code, result = cli("run", path, "imagier-palette.palette", env_path=env)  # by distribution name
    contents = len({f["content_id"] for f in _all_files(path)})
    assert code == 0 and result["embedded"] == result["total"] == contents, result
    code, again = cli("run", path, "imagier_palette.palette", env_path=env)  # by module name: nothing left to do
    assert code == 0 and again["embedded"] == 0

    query = _all_files(path)[0]["path"]
    code, ranked = cli("run", path, "palette.similar-palette", "--path", query, "--param", "top_k=5", env_path=env)
    assert code == 0 and len(ranked) == 5 and all(set(r) == {"path", "score"} for r in ranked), ranked
    assert [r["score"] for r in ranked] == sorted((r["score"] for r in ranked), reverse=True)
    assert query not in [r["path"] for r in ranked]

    code, undone = cli("undo", path)
    assert code == 0 and undone["label"] == "Dominant colour (palette.dominant-colour)"
    with imagier.open(path) as project:
        assert not any("dominant colour" in v for v in project.values(project.query_ids()).values())
        assert state_of(project) != before_undo
        assert "dominant colour" not in [p["name"] for p in project.properties()]

    code, error = cli("run", path, "palette.dominant-colour", "--param", "min_share=3", env_path=env)
    assert code == 1 and "'min_share' is between 0.05 and 1.0" in error["message"]
    code, error = cli("run", path, "palette.nothing", env_path=env)
    assert code == 1 and "has no action 'nothing'" in error["message"]


def _all_files(path) -> list[dict]:
    with imagier.open(path) as project:
        return project.files(project.query_ids())


def test_builtins_are_plugins(embedded):
    ids = embedded.query_ids()
    groups = embedded.run_action("imagier.kmeans", {"k": 3})
    assert len(groups) == 3 and sorted(i for g in groups for i in g["ids"]) == sorted(ids)
    ranked = embedded.run_action("imagier.similar", {"top_k": 4}, ids=ids[:1])
    direct = embedded.similar(ids[0], top_k=4)
    assert [(r["id"], r["score"]) for r in ranked] == [(r["id"], r["score"]) for r in direct]
    found = embedded.run_action("imagier.search", {"text": "cat", "top_k": 3})
    assert [r["id"] for r in found] == [r["id"] for r in embedded.search("cat", top_k=3)]
    report = embedded.run_action("imagier.grey")
    assert report["embedded"] == embedded.content_count() and "embedded" in report["message"]
    with pytest.raises(NotFound, match="no plugin named 'nope'"):
        embedded.run_action("nope.kmeans")


def test_writes_are_one_undoable_operation(kit):
    ids = kit.query_ids()[:4]
    result = kit.run_action("kit.tag", {"word": "seen"}, ids=ids)
    assert result == {"message": "tagged 4", "tagged": 4}
    assert all(kit.values([i])[i]["kit"] == ["seen"] for i in ids)
    assert kit.history(1)[0]["kind"] == "plugin" and kit.history(1)[0]["params"]["images"] == 4
    kit.undo()  # the property and its values go together
    assert "kit" not in [p["name"] for p in kit.properties()]
    kit.redo()
    assert kit.values(ids[:1])[ids[0]]["kit"] == ["seen"]

    groups = kit.run_action("kit.halves", ids=ids)  # ids and paths both name images
    assert [g["ids"] for g in groups] == [ids[:2], ids[2:]]


# ---- failures leave the project unchanged -------------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("explode", "kit.explode failed: RuntimeError: the OCR engine is missing (at kit.py, line"),
    ("hang", "kit.hang did not finish within its timeout of 1.5 s and was stopped; nothing was saved"),
    ("no-message", "kit.no-message returned a malformed result: an execute action returns an object with a \"message\""),
    ("not-a-list", "kit.not-a-list returned a malformed result: a group action returns a list"),
    ("unknown-image", "kit.unknown-image returned a malformed result: group 1: no image with id 987654"),
    ("no-score", "kit.no-score returned a malformed result: item 1 has no numeric \"score\""),
    ("crash", "kit.crash stopped unexpectedly (its process exited with code 3)"),
])
def test_a_failing_plugin_gives_a_clear_error_and_leaves_the_project_unchanged(kit, state_of, name, message):
    before = state_of(kit)
    started = time.monotonic()
    with pytest.raises(PluginFailed) as raised:
        kit.run_action(f"kit.{name}", ids=kit.query_ids()[:3])
    assert message in raised.value.message and "nothing was saved" in raised.value.message
    assert time.monotonic() - started < 20
    assert state_of(kit) == before


# ---- HTTP ---------------------------------------------------------------------------------------------------

def test_each_kind_through_http(palette_installed, kit, state_of):
    with LiveServer(create_app(kit)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        listed = client.get("/api/plugins").json()
        actions = {f"{p['name']}.{a['name']}": a for p in listed["plugins"] for a in p["actions"]}
        assert {"palette.by-colour", "palette.similar-palette", "kit.tag", "imagier.kmeans"} <= set(actions)
        assert actions["palette.dominant-colour"]["schema"]["properties"]["min_share"]["minimum"] == 0.05

        ids = kit.query_ids()
        run = client.post("/api/plugins/palette/dominant-colour/run", json={"params": {"min_share": 0.3}, "ids": ids[:5]})
        assert run.status_code == 202
        job = finished_job(client, run.json()["job"])
        assert job["state"] == "done" and job["result"]["images"] == 5 and job["params"]["kind"] == "execute"
        assert all("dominant colour" in v for v in kit.values(ids[:5]).values())
        assert "dominant colour" not in kit.values(ids[5:6]).get(ids[5], {})
        assert client.post("/api/undo").json()["label"].startswith("Dominant colour")
        assert "dominant colour" not in kit.values(ids[:1]).get(ids[0], {})

        job = finished_job(client, client.post("/api/plugins/palette/by-colour/run", json={"ids": ids}).json()["job"])
        assert job["state"] == "done" and sorted(i for g in job["result"] for i in g["ids"]) == sorted(ids)
        assert all(len(g["ids"]) == len(g["paths"]) for g in job["result"])

        job = finished_job(client, client.post("/api/plugins/palette/palette/run", json={}).json()["job"])
        assert job["state"] == "done" and job["result"]["embedded"] == kit.content_count()
        job = finished_job(client, client.post("/api/plugins/palette/similar-palette/run",
                                       json={"params": {"top_k": 3}, "ids": ids[:1]}).json()["job"])
        assert job["state"] == "done" and [set(r) for r in job["result"]] == [{"id", "path", "score"}] * 3

        # refused before a job starts: bad parameters, unknown actions
        bad = client.post("/api/plugins/palette/similar-palette/run", json={"params": {"top_k": 0}})
        assert bad.status_code == 400 and "'top_k' is between 1 and 1000" in bad.json()["message"]
        assert client.post("/api/plugins/palette/nope/run", json={}).status_code == 404

        # a failing plugin: a failed job with the reason, the project unchanged
        before = state_of(kit)
        job = finished_job(client, client.post("/api/plugins/kit/explode/run", json={"ids": ids[:2]}).json()["job"])
        assert job["state"] == "failed" and "RuntimeError: the OCR engine is missing" in job["error"]["message"]
        assert job["error"]["error"] == "PluginFailed"
        # a hung one is stopped at its timeout
        job = finished_job(client, client.post("/api/plugins/kit/hang/run", json={"ids": ids[:2]}).json()["job"])
        assert job["state"] == "failed" and "did not finish within its timeout of 1.5 s" in job["error"]["message"]
        # a cancelled one stops and keeps nothing
        started = client.post("/api/plugins/kit/patient/run", json={"ids": ids[:2]}).json()["job"]
        time.sleep(0.5)
        # meanwhile: the same action is refused, another one runs beside it
        again = client.post("/api/plugins/kit/patient/run", json={"ids": ids[:2]})
        assert again.status_code == 409 and "kit.patient is already running" in again.json()["message"]
        beside = finished_job(client, client.post("/api/plugins/kit/halves/run", json={"ids": ids}).json()["job"])
        assert beside["state"] == "done" and len(beside["result"]) == 2
        assert client.get(f"/api/jobs/{started}").json()["state"] == "running"
        assert client.post(f"/api/jobs/{started}/cancel").status_code == 202
        job = finished_job(client, started, timeout=20)
        assert job["state"] == "cancelled" and "nothing was saved" in job["error"]["message"]
        assert state_of(kit) == before


@pytest.mark.parametrize("body, status, words", [
    ({"ids": [1, 99999]}, 404, "no image with id 99999"),
    ({"filter": {"property": "nope", "op": "eq", "value": 1}}, 404, "nope"),
    ({"filter": {"property": "path", "op": "regex", "value": r"(a)\1"}}, 400, "regex"),
])
def test_bad_images_or_filter_are_refused_before_a_job_starts(embedded, body, status, words):
    with pytest.raises(InvalidInput if status == 400 else NotFound, match=words):
        embedded.check_action("imagier.kmeans", {}, ids=body.get("ids"), filter=body.get("filter"))
    with LiveServer(create_app(embedded)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        refused = client.post("/api/plugins/imagier/kmeans/run", json=body)
        assert refused.status_code == status and words in refused.json()["message"]
        assert client.get("/api/jobs").json() == []


# ---- the guide's template -----------------------------------------------------------------------------------

def test_the_guides_template_plugin_runs(embedded, state_of):
    guide = (ROOT / "docs" / "plugins.md").read_text()
    template = re.search(r"```python\n(.*?)```", guide, re.S).group(1)
    folder = embedded.path.parent / "plugins"
    folder.mkdir()
    (folder / "brightness.py").write_text(template)
    path = embedded.path
    embedded.close()
    code, listed = cli("plugins", path)
    brightness = next(p for p in listed["plugins"] if p["name"] == "brightness")
    split = next(a for a in brightness["actions"] if a["name"] == "split")
    assert split["schema"]["properties"]["keep"]["x-property-types"] == ["multi-tag"]
    assert split["schema"]["properties"]["parts"]["maximum"] == 10
    code, result = cli("run", path, "brightness.measure", "--param", "scale=fraction")
    assert code == 0 and result["message"] == f"measured {len(_all_files(path))} images", result
    with imagier.open(path) as project:
        values = [v["brightness"] for v in project.values(project.query_ids()).values()]
        assert len(values) == len(_all_files(path)) and all(0 <= v <= 1 for v in values)
    code, groups = cli("run", path, "brightness.split", "--param", "parts=4")
    assert code == 0 and [g["name"] for g in groups] == [f"brightness {n} of 4" for n in range(1, 5)]
    code, _ = cli("undo", path)
    with imagier.open(path) as project:
        assert "brightness" not in [p["name"] for p in project.properties()]
