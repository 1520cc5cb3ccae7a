"""Write the HTTP API's OpenAPI schema to frontend/openapi.json, from which `npm run build` generates the
page's types (src/lib/schema.d.ts). Run it after changing a route (tests/test_webui_api_types.py fails until
then):  python frontend/scripts/openapi.py && cd frontend && npm run build"""

import json
import sys
import tempfile
from pathlib import Path

import imagier
from imagier.server.app import create_app

OUT = Path(__file__).resolve().parents[1] / "openapi.json"


def schema_text() -> str:
    """The schema of the current server's routes (the same for every project)."""
    with tempfile.TemporaryDirectory() as folder, imagier.open(Path(folder) / "schema.imagier") as project:
        return json.dumps(create_app(project).openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(schema_text(), encoding="utf-8")
    sys.stdout.write(f"wrote {OUT}\n")
