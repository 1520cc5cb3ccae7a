"""The page's types come from the server's own description of its HTTP API: frontend/openapi.json is the
OpenAPI schema of `create_app`, written by frontend/scripts/openapi.py; `npm run build` generates
frontend/src/lib/schema.d.ts from it, and frontend/src/lib/api.ts, the one module that calls the server,
is type-checked against it. These tests fail when a route changed and the page was not regenerated, and
when a component calls the server around that module."""

import json
import re
from pathlib import Path

from imagier.server.app import create_app

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
GENERATED = FRONTEND / "src" / "lib" / "schema.d.ts"
CLIENT = FRONTEND / "src" / "lib" / "api.ts"
REGENERATE = "run `python frontend/scripts/openapi.py && cd frontend && npm run build` and commit the result"


def committed_schema() -> dict:
    return json.loads((FRONTEND / "openapi.json").read_text(encoding="utf-8"))


def test_the_committed_schema_is_the_current_servers(imported):
    assert committed_schema() == create_app(imported).openapi(), f"the server's routes changed: {REGENERATE}"


def test_the_generated_types_hold_every_route_of_the_committed_schema():
    generated = GENERATED.read_text(encoding="utf-8")
    schema = committed_schema()
    paths_in_types = set(re.findall(r'^    "(/[^"]*)": \{$', generated, re.MULTILINE))
    operations_in_types = set(re.findall(r"^    (\w+): \{$", generated.split("export interface operations")[1],
                                         re.MULTILINE))
    assert paths_in_types == set(schema["paths"]), f"schema.d.ts is older than openapi.json: {REGENERATE}"
    operations = {op["operationId"] for methods in schema["paths"].values() for op in methods.values()}
    assert operations_in_types == operations, f"schema.d.ts is older than openapi.json: {REGENERATE}"


def test_only_the_client_module_addresses_the_server():
    addressed = []
    for source in sorted((FRONTEND / "src").rglob("*")):
        if source.suffix not in {".ts", ".svelte"} or source in {GENERATED, CLIENT}:
            continue
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("//")[0]
            if re.search(r"""["'`]/api/""", code) and "href(" not in code or re.search(r"\bfetch\(", code):
                addressed.append(f"{source.relative_to(FRONTEND)}:{number}: {line.strip()}")
    assert addressed == [], "call the server through src/lib/api.ts:\n" + "\n".join(addressed)
