"""The documentation site (mkdocs.yml, docs/): it builds with broken links as errors, reads offline, its
generated references cover the code as it is, and the tutorial shows screenshots the demo walk takes."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from imagier import Project
from imagier.cli import main
from live import LAPTOP
from test_docs import command_paths

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "tutorial.md"
DEMO_TEST = ROOT / "tests" / "test_webui_demo.py"
BUILD_SECONDS = 60
LOADING_LINKS = {"stylesheet", "icon", "preload", "modulepreload"}


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict`: any warning (a broken link or anchor, a page left out) fails it. Material's
    banner about MkDocs 2 is left out of the output, where it would hide the warnings."""
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(root / "mkdocs.yml"), "--site-dir", str(site)],
                          capture_output=True, text=True, timeout=BUILD_SECONDS * 2,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    started = time.monotonic()
    built = build(ROOT, site)
    took = time.monotonic() - started
    assert built.returncode == 0, built.stderr
    assert took < BUILD_SECONDS, f"the docs took {took:.0f} s to build"
    return site


class References(HTMLParser):
    """What a page loads (scripts, stylesheets, images, icons, frames) and the anchors (ids) it holds."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []
        self.anchors: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.anchors.add(attrs["id"])
        if tag in ("script", "img", "iframe", "source") and attrs.get("src"):
            self.loaded.append(attrs["src"])
        # a <link> loads a stylesheet, an icon or a preload; other <link>s (canonical, next) only name a page
        if tag == "link" and attrs.get("href") and set((attrs.get("rel") or "").split()) & LOADING_LINKS:
            self.loaded.append(attrs["href"])


def references_in(html: str) -> References:
    parser = References()
    parser.feed(html)
    return parser


def references(page: Path) -> References:
    return references_in(page.read_text(encoding="utf-8"))


def is_outside(url: str) -> bool:
    return bool(re.match(r"(https?:)?//", url))


def test_the_site_loads_nothing_from_outside(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 12
    outside = {f"{page.relative_to(site)}: {url}" for page in pages for url in references(page).loaded
               if is_outside(url)}
    assert outside == set()
    fonts = {f"{sheet.relative_to(site)}: {url}" for sheet in site.rglob("*.css")
             for url in re.findall(r"url\(['\"]?([^)'\"]+)", sheet.read_text(encoding="utf-8")) if is_outside(url)}
    assert fonts == set()
    # Search from the file system reads its index as a script: the offline plugin wrote it.
    assert (site / "search" / "search_index.js").stat().st_size > 10_000


@pytest.mark.browser
def test_the_site_reads_and_searches_from_the_file_system_offline(site, chromium):
    """Opened as files, as from a copy of the site on a machine without internet access: the tutorial's
    pictures show, the search finds, and nothing is asked of any server."""
    outside: list[str] = []

    def only_files(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = chromium.new_context(viewport=LAPTOP)
    try:
        context.route("**/*", only_files)
        page = context.new_page()
        page.goto((site / "tutorial.html").as_uri())
        page.wait_for_function("""() => { const images = [...document.querySelectorAll('article img')];
            return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0); }""")
        page.click(".md-search__input")
        page.keyboard.type("duplicates")
        found = page.locator(".md-search-result__item")
        found.first.wait_for(timeout=15_000)
        assert "Find duplicates" in found.all_inner_texts()[0]
    finally:
        context.close()
    assert outside == []


def test_every_loaded_file_is_in_the_site(site):
    missing = set()
    for page in site.rglob("*.html"):
        for url in references(page).loaded:
            path = url.split("#")[0].split("?")[0]
            # the 404 page names its files from the site's root, as it is served at any depth
            target = site / path.lstrip("/") if path.startswith("/") else page.parent / path
            if not target.is_file():
                missing.add(f"{page.relative_to(site)}: {url}")
    assert missing == set()


def test_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(DOCS, copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "src").symlink_to(ROOT / "src")
    (copy / "docs" / "howto" / "share.md").open("a").write("\nSee [the moon](../moon.md).\n")
    built = build(copy, tmp_path / "site")
    assert built.returncode != 0
    assert "moon.md" in built.stderr


def test_the_cli_reference_lists_every_command(site):
    text = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    missing = [" ".join(path) for path in command_paths(main) if f"imagier {' '.join(path)}" not in text]
    assert missing == []


def test_the_http_reference_has_every_route(site):
    from imagier.server.app import create_app
    hooks = load_hooks()
    with Project(site.parent / "routes.imagier") as project:
        schema = create_app(project).openapi()
    anchors = references(site / "reference" / "http.html").anchors
    expected = {hooks.route_anchor(method, path) for path, item in schema["paths"].items() for method in item
                if method in hooks.METHODS}
    assert len(expected) > 40
    assert expected - anchors == set()
    assert {f"schema-{name}" for name in schema["components"]["schemas"]} - anchors == set()


def test_the_python_reference_has_every_operation(site):
    anchors = references(site / "reference" / "python.html").anchors
    public = {name for name in dir(Project) if not name.startswith("_") and callable(getattr(Project, name))}
    assert len(public) > 50
    assert {f"imagier.Project.{name}" for name in public} - anchors == set()
    assert {"imagier.open", "imagier.plugins.action", "imagier.plugins.Context"} <= anchors


def load_hooks():
    import importlib.util
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks" / "generated.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- the tutorial's screenshots ------------------------------------------------------------------------

def demo_screenshots() -> set[str]:
    """The names of the screenshots the demo walk saves for the tutorial (its tutorial_screenshot calls)."""
    tree = ast.parse(DEMO_TEST.read_text(encoding="utf-8"))
    return {call.args[1].value for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "tutorial_screenshot"
            and isinstance(call.args[1], ast.Constant)}


def test_every_tutorial_image_is_one_the_demo_walk_takes():
    shown = re.findall(r"!\[[^\]]*\]\(tutorial/([^)\s]+)\.jpg\)", TUTORIAL.read_text(encoding="utf-8"))
    taken = demo_screenshots()
    assert len(shown) >= 8
    assert set(shown) - taken == set(), "the tutorial shows images the demo walk does not take"
    assert taken - set(shown) == set(), "the demo walk saves screenshots for the tutorial that it does not show"
    assert [name for name in shown if not (DOCS / "tutorial" / f"{name}.jpg").is_file()] == []
    kept = {path.stem for path in (DOCS / "tutorial").glob("*")}
    assert kept == taken, "docs/tutorial/ holds exactly the screenshots the demo walk saves"


def test_the_readmes_links_lead_to_files():
    # The README is the front door to the docs: each relative link must open a file of the repository.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [target for target in re.findall(r"\]\(([^)\s]+)\)", readme) if not is_outside(target)]
    assert any(target.startswith("docs/") for target in targets)
    assert [t for t in targets if not (ROOT / t.split("#")[0]).exists()] == []
