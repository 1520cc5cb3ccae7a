"""One contract, three doors: the table of src/imagier/contract.py against the code. Every public Project
method has a row; every command and route a row names exists; a door is absent only with a reason; every
command and route belongs to a row (or to OTHER_DOORS, with its reason)."""

import inspect

import click
import pytest

from imagier import Project
from imagier.cli import main
from imagier.contract import OPERATIONS, OTHER_DOORS, Operation
from imagier.server.app import create_app


def project_methods() -> set[str]:
    # Read at run time from the class, whatever it is made of (mixins today, parts tomorrow).
    return {name for name, member in inspect.getmembers(Project)
            if not name.startswith("_") and callable(member)}


def cli_doors(group: click.Group = main, prefix: tuple = ()) -> dict[str, set[str]]:
    """{"tag create": {"--colour", ...}} for every command of the `imagier` tree."""
    found = {}
    for name, command in group.commands.items():
        path = prefix + (name,)
        if isinstance(command, click.Group):
            found.update(cli_doors(command, path))
        else:
            found[" ".join(path)] = {opt for param in command.params for opt in getattr(param, "opts", [])}
    return found


def http_doors(tmp_path) -> set[str]:
    with Project(tmp_path / "parity.imagier") as project:
        schema = create_app(project).openapi()
    return {f"{method.upper()} {path}" for path, operations in schema["paths"].items() for method in operations}


def problems(operations, methods: set[str], commands: dict[str, set[str]], routes: set[str],
             other_doors: dict[str, str]) -> list[str]:
    """Every way the table and the code disagree, one sentence each."""
    found = []
    declared = [op.method for op in operations]
    found += [f"{name}: a public Project method without a row" for name in sorted(methods - set(declared))]
    found += [f"{name}: a row for no Project method" for name in sorted(set(declared) - methods)]
    found += [f"{name}: two rows" for name in sorted({n for n in declared if declared.count(n) > 1})]
    for op in operations:
        for door, reason, kind in ((op.cli, op.no_cli, "CLI"), (op.http, op.no_http, "HTTP")):
            if not door and not reason.strip():
                found.append(f"{op.method}: no {kind} door and no reason why")
            if door and reason:
                found.append(f"{op.method}: a {kind} door and a reason for its absence")
        for command in op.cli:
            words = command.split()
            name = " ".join(w for w in words if not w.startswith("--"))
            if name not in commands:
                found.append(f"{op.method}: no command `imagier {name}`")
            found += [f"{op.method}: `imagier {name}` has no option {w}" for w in words
                      if w.startswith("--") and w not in commands.get(name, set())]
        found += [f"{op.method}: no route {route}" for route in op.http if route not in routes]
    claimed = {" ".join(w for w in c.split() if not w.startswith("--")) for op in operations for c in op.cli}
    claimed |= {route for op in operations for route in op.http} | set(other_doors)
    found += [f"`imagier {c}`: a command no row claims" for c in sorted(set(commands) - claimed)]
    found += [f"{r}: a route no row claims" for r in sorted(routes - claimed)]
    found += [f"{door}: in OTHER_DOORS without a reason" for door, why in other_doors.items() if not why.strip()]
    found += [f"{door}: in OTHER_DOORS but not a command or route" for door in other_doors
              if door not in commands and door not in routes]
    return found


@pytest.fixture(scope="module")
def doors(tmp_path_factory):
    return project_methods(), cli_doors(), http_doors(tmp_path_factory.mktemp("parity"))


def test_the_table_matches_the_three_doors(doors):
    assert problems(OPERATIONS, *doors, OTHER_DOORS) == []


def test_the_doors_seen_are_the_real_ones(doors):
    methods, commands, routes = doors
    assert {"similar", "calibration", "delete_vector_type", "save_view"} <= methods
    assert "--default" in commands["vectors"] and "tag create" in commands
    assert "DELETE /api/properties/{name}/tags/{tag}" in routes


def without(method: str) -> tuple:
    return tuple(op for op in OPERATIONS if op.method != method)


def replaced(operation: Operation) -> tuple:
    return tuple(operation if op.method == operation.method else op for op in OPERATIONS)


@pytest.mark.parametrize("operations, expected", [
    (without("similar"), "similar: a public Project method without a row"),
    (replaced(Operation("similar", ("similar",), ())), "similar: no HTTP door and no reason why"),
    (replaced(Operation("similar", (), ("POST /api/similar",))), "similar: no CLI door and no reason why"),
    (replaced(Operation("similar", ("similar",), ("POST /api/similar",), no_cli="because")),
     "similar: a CLI door and a reason for its absence"),
    (replaced(Operation("similar", ("resemble",), ("POST /api/similar",))), "similar: no command `imagier resemble`"),
    (replaced(Operation("similar", ("similar --nearest",), ("POST /api/similar",))),
     "similar: `imagier similar` has no option --nearest"),
    (replaced(Operation("similar", ("similar",), ("GET /api/similar",))), "similar: no route GET /api/similar"),
    (without("views") + (Operation("views", no_cli="page only", no_http="page only"),),
     "`imagier views list`: a command no row claims"),
    (without("search") + (Operation("search", ("search",), no_http="later"),), "POST /api/search: a route no row claims"),
    (OPERATIONS + (Operation("teleport", no_cli="x", no_http="x"),), "teleport: a row for no Project method"),
])
def test_each_disagreement_is_reported(doors, operations, expected):
    assert expected in problems(operations, *doors, OTHER_DOORS)


def test_other_doors_need_a_reason_and_must_exist(doors):
    found = problems(OPERATIONS, *doors, {**OTHER_DOORS, "serve": " ", "GET /api/teleport": "gone"})
    assert "serve: in OTHER_DOORS without a reason" in found
    assert "GET /api/teleport: in OTHER_DOORS but not a command or route" in found
