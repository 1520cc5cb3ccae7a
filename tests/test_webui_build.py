"""The built page that ships in the package is the build of the frontend/ sources in the repository.

`npm run build` (in frontend/) writes src/imagier/server/webui/ and, beside it, build-stamp.json with a hash
of the sources it was built from; this test hashes the sources the same way (see frontend/vite.config.ts),
so a change to frontend/ committed without its build fails here, not in a researcher's browser.
"""

import hashlib
import json
from pathlib import Path

import imagier.server.app as server_app

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
STAMPED = ["index.html", "openapi.json", "package.json", "package-lock.json", "vite.config.ts", "svelte.config.js", "tsconfig.json", "src"]


def source_hash(root: Path) -> str:
    files = []
    for name in STAMPED:
        path = root / name
        files += [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    digest = hashlib.sha256()
    for relative in sorted(p.relative_to(root).as_posix() for p in files):
        digest.update(relative.encode() + b"\0")
        digest.update((root / relative).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def test_the_shipped_page_is_built_from_the_current_sources():
    stamp = json.loads((server_app.WEBUI / "build-stamp.json").read_text())
    assert stamp["sources"] == source_hash(FRONTEND), (
        "src/imagier/server/webui is older than frontend/: run `npm install && npm run build` in frontend/ "
        "and commit the result")


def test_the_page_and_its_assets_are_served(imported):
    from fastapi.testclient import TestClient
    client = TestClient(server_app.create_app(imported), base_url="http://127.0.0.1")
    page = client.get("/")
    assert page.status_code == 200 and '<div id="app">' in page.text
    scripts = [part.split('"')[0] for part in page.text.split('src="')[1:]]
    assert scripts, "the page loads no script"
    for script in scripts:
        asset = client.get(script)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
