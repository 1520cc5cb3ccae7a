"""Two commits of imagier measured side by side by bench_scale.py and bench_server.py, runs alternated.

    python benchmarks/side_by_side.py OLD NEW [--files N] [--rounds R] [--runs K] [--write-results]

A refactoring promises the same speed; this checks it on one machine in one sitting, so the load that
moves every figure moves both columns alike. Each commit is checked out (detached) under
benchmarks/out/side-by-side/, gets its own copy of the cached synthetic project (a newer commit may
migrate the file, which an older one would then refuse), and the rounds go OLD, NEW, OLD, NEW...
The benchmark code is this tree's for both commits: only the imagier under test changes.
Each figure is given twice: the median over the rounds of each benchmark's own median, and the best
round. Other load on a shared machine only ever adds time, so the best round is the figure least moved by
it, and the one to compare row by row (timeit's documentation makes the same argument for its minimum).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import ensure_project  # noqa: E402
from common import HERE, machine, write_results  # noqa: E402

REPO = HERE.parent
HEADING = "## Side by side: structure change (issue 11)"

# Run in a fresh interpreter: imagier is imported from the commit's tree before the benchmark modules,
# whose own sys.path line would otherwise put this tree's src first.
MEASURE = """
import json, sys
sys.path.insert(0, {src!r}); import imagier
sys.path.insert(1, {bench!r}); import bench_scale, bench_server
from pathlib import Path
rows = bench_scale.measure(Path({project!r}), {runs}) + bench_server.measure(Path({project!r}), {runs}, Path({src!r}))
print(json.dumps(rows))
"""


def checkout(commit: str) -> tuple[str, Path]:
    """The commit's full hash and a detached work tree of it, made once."""
    full = subprocess.run(["git", "rev-parse", commit], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()
    tree = HERE / "out" / "side-by-side" / full[:12]
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), full], cwd=REPO, check=True,
                       capture_output=True)
    return full, tree


def measure(tree: Path, project: Path, runs: int) -> list[list]:
    script = MEASURE.format(src=str(tree / "src"), bench=str(HERE), project=str(project), runs=runs)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def side_by_side(old: str, new: str, files: int, rounds: int, runs: int) -> str:
    source, _ = ensure_project(files)
    commits = [checkout(old), checkout(new)]
    copies = []
    for full, tree in commits:
        copy = tree.parent / f"{full[:12]}-{source.name}"
        if not copy.exists():
            shutil.copyfile(source, copy)
        copies.append(copy)
    figures: list[list[list]] = [[], []]
    for _ in range(rounds):
        for side, ((_, tree), copy) in enumerate(zip(commits, copies)):
            figures[side].append(measure(tree, copy, runs))
    old, new = (commit[0][:7] for commit in commits)
    lines = [f"| operation | {old} median | {new} median | ratio | {old} best | {new} best | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for index, (what, _, unit, _) in enumerate(figures[0][0]):
        cells = []
        for statistic in (statistics.median, min):
            before, after = (statistic(run[index][1] for run in side) for side in figures)
            cells.append(f"{before:,.1f} {unit} | {after:,.1f} {unit} | {after / before:.3f}")
        lines.append(f"| {what} | {' | '.join(cells)} |")
    return (f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} when the runs ended\n\n"
            f"{files:,} files; {rounds} rounds alternating the two commits, each the median of {runs} runs per "
            f"query (bench_scale.py, then bench_server.py); each figure is the median over the rounds and the best "
            f"round; the ratios are after / before.\n\n"
            + "\n".join(lines) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--files", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5, help="runs per query inside each round")
    parser.add_argument("--write-results", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args(argv)
    report = side_by_side(args.old, args.new, args.files, args.rounds, args.runs)
    print(report)
    if args.write_results:
        write_results(f"{HEADING}\n\n{report}")


if __name__ == "__main__":
    main()
