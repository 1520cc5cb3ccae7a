"""Documentation that cannot fall behind: every command is in the README, every operation says what it
does. (That every HTTP route has a summary is checked in test_server.py.)"""

import inspect
import re
from pathlib import Path

import click

from imagier import Project
from imagier.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def command_paths(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from command_paths(command, prefix + (name,))
        else:
            yield prefix + (name,)


def test_every_cli_command_is_in_the_readme():
    rows = [set(re.findall(r"[\w-]+", line)) for line in README.splitlines() if line.startswith("| `imagier ")]
    missing = [" ".join(path) for path in command_paths(main) if not any(set(path) <= row for row in rows)]
    assert missing == [], f"commands missing from the README's table: {missing}"


def test_every_cli_command_has_help():
    for path in command_paths(main):
        command = main
        for name in path:
            command = command.commands[name]
        assert command.help and command.help.strip(), " ".join(path)


def test_every_public_project_operation_has_a_docstring():
    undocumented = [name for name, member in inspect.getmembers(Project)
                    if not name.startswith("_") and callable(member) and not inspect.getdoc(member)]
    assert undocumented == []


def test_the_readme_python_example_runs(tmp_path, photo_dir, monkeypatch):
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    example = example.replace("~/corpus/tweets", str(photo_dir))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    project = namespace["project"]
    assert project.file_count() == 15
    assert (tmp_path / "corpus.csv").read_text().startswith("path,category[multi-tag]")
    project.close()


ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_unchanged():
    # The README's second shell block is the test command a new user runs; CI must run exactly that, so a
    # missing install step in it fails CI rather than the user.
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert commands[1] == ci_lines[-1]
    assert "venv" in commands[0] and "venv" in commands[1], "pip must not install into the system's Python"


def test_the_readme_and_docs_stand_alone():
    # Users get the repository, not the folders beside it.
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert "../shared" not in page.read_text(), page.name
