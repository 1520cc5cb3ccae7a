"""The package's structure, read from its source (ast): no import cycles, imports point down the layers of
docs/architecture.md, and no SQL outside store/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import imagier

PACKAGE = Path(imagier.__file__).parent

# What each part of the package may import besides itself (docs/architecture.md, "The parts"). The layers,
# bottom up: errors and checks (argument shapes); store/ (persistence); operations/ (the rules: validation,
# the op log, undoable writes); ingest/ and exchange/; vectors/; analysis/;
# plugins/; project.py; the jobs that run its operations (job_kinds.py, jobs.py); the doors (cli/,
# server/) and the table of their contract (contract.py, which imports nothing). `imagier` is the
# package's __init__, the public names of the doors.
BASE = {"errors", "checks"}
BELOW_PROJECT = BASE | {"_version", "store", "operations", "ingest", "exchange", "vectors", "ocr", "analysis",
                        "plugins"}
MAY_IMPORT = {
    "errors": set(),
    "checks": {"errors"},
    "_version": set(),
    "contract": set(),
    "store": BASE,
    "operations": BASE | {"store"},
    "ingest": BASE | {"operations", "store"},
    "exchange": BASE | {"operations", "store"},
    "vectors": BASE | {"ingest", "operations", "store"},  # a query image from outside is decoded as the import decodes
    "ocr": BASE | {"ingest", "operations", "store"},  # its workers start as the import's do
    "analysis": BASE | {"vectors", "operations", "store"},
    "plugins": BASE | {"analysis", "vectors", "exchange", "ingest", "operations", "store", "_version"},
    "project": BELOW_PROJECT,
    "job_kinds": BASE | {"analysis", "plugins", "vectors", "operations"},
    "jobs": BASE | {"store", "operations", "job_kinds"},
    "demo": {"project", "errors"},
    "cli": BELOW_PROJECT | {"project", "jobs", "server", "demo", "imagier"},  # `imagier serve` starts the server
    "server": BELOW_PROJECT | {"project", "jobs", "job_kinds", "imagier"},
}
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM|CREATE (TABLE|INDEX)"
                 r"|PRAGMA \w+)")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["imagier", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The imagier modules this one imports, at its top or inside a function (a late import is an import)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from package import module` imports the module; the package itself only for its own names
            modules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found |= modules if len(modules) == len(node.names) else modules | {base}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _part(name: str) -> str:
    """The part a module belongs to: its package under imagier, or the module itself ("project")."""
    return name.split(".")[1] if name != "imagier" else "imagier"


def _cycles() -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(root: str) -> None:
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(GRAPH[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return found


def test_the_walk_sees_the_package():
    assert GRAPH["imagier.project"] >= {"imagier.store.db", "imagier.analysis.similarity"}
    assert "imagier.store.db" in GRAPH["imagier.operations.oplog"]
    assert "imagier.vectors.base" in GRAPH["imagier.vectors.efficientnet"]


def test_no_module_imports_one_that_imports_it_back():
    cycles = [sorted(c) for c in _cycles()]
    assert cycles == []


def test_imports_point_down_the_layers():
    upward = sorted(f"{name} imports {other}" for name, imported in GRAPH.items() if name != "imagier"
                    for other in imported
                    if _part(other) != _part(name) and _part(other) not in MAY_IMPORT[_part(name)])
    assert upward == []


def test_every_part_has_its_rule():
    assert sorted({_part(name) for name in MODULES} - set(MAY_IMPORT) - {"imagier"}) == []


def test_no_sql_outside_store():
    found = []
    for name, path in MODULES.items():
        if name.startswith("imagier.store."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                found.append(f"{name}, line {node.lineno}: {node.value[:60]!r}")
    assert found == []


def test_the_architecture_page_names_every_module():
    """Below the doors (whose modules are one per area), a module the page does not name is a part nobody
    has placed in the map."""
    page = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    unnamed = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                     if path.name not in ("__init__.py", "__main__.py")
                     and path.relative_to(PACKAGE).parts[0] not in ("cli", "server")
                     and f"`{path.name}`" not in page and f"/{path.name}`" not in page)
    assert unnamed == []


# store/ is persistence only, in one style: functions over an open connection (the caller, in operations/ or
# a part above, opens the transaction), returning rows or None, refusing nothing. Two kinds of module are
# exempt: db.py owns the connections (and refuses files that are not projects), compiler.py and types.py are
# pure (a view and the property types compiled against a schema snapshot, no connection).
OWNS_CONNECTIONS = {"imagier.store.db"}
PURE_STORE = {"imagier.store.compiler", "imagier.store.types"}
REFUSALS = {"InvalidInput", "NotFound", "Conflict", "Forbidden"}


def _store_style_problems(name: str, tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
            if "db" in params or "self" in params:
                found.append(f"{name}.{node.name} is a method or takes a Database: store/ functions take `conn`")
        elif isinstance(node, ast.Raise) and node.exc is not None:
            called = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if getattr(called, "id", getattr(called, "attr", None)) in REFUSALS:
                found.append(f"{name}, line {node.lineno}: a refusal is a rule, for operations/")
    return found


def test_store_is_persistence_over_a_connection():
    found = [problem for name, path in MODULES.items()
             if name.startswith("imagier.store.") and name not in OWNS_CONNECTIONS | PURE_STORE
             for problem in _store_style_problems(name, ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []


def test_the_store_rule_sees_a_method_and_a_refusal():
    tree = ast.parse("class Views:\n    def views(self):\n        raise NotFound('x')\n")
    assert len(_store_style_problems("imagier.store.example", tree)) == 2
