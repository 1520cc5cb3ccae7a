"""The full-text index at scale: text on 30% of a 500,000-image project, searched alone and with other conditions.

    python benchmarks/bench_text_index.py [--source PROJECT] [--files N] [--runs R] [--write-results]

It copies the cached project of bench_scale.py (built there when missing; or --source, a project made
before migration 0006; the original is never written), brings the copy to the schema before the text index, writes generated French and English sentences into a
text property on 30% of the images, and then times: the migration that fills the index, a word query, a
phrase, a prefix, and a query combined with a date filter and a grouping. With --write-results the table
goes into benchmarks/RESULTS.md under "## Full-text search at 500,000 images".
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import apsw
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import imagier  # noqa: E402
from bench_scale import _median_ms, ensure_project, table  # noqa: E402
from common import machine, write_results  # noqa: E402
from imagier.store import textindex  # noqa: E402
from imagier.store.db import APPLICATION_ID, migrations  # noqa: E402

TEXT_SHARE = 0.3
INDEX_MIGRATION = 6  # 0006_text_index.sql
# Sentences are drawn from these words, the first ones of each list more often (a Zipf law, as in prose),
# so the queries below meet common and rare words.
ENGLISH = ("the a of and in on with by at from for this that is was people city street harbour boat "
           "election president market poster protest crowd river bridge night morning winter summer "
           "station train church school football match festival police fire storm village mountain "
           "sea beach museum painting portrait family wedding children dog cat horse garden").split()
FRENCH = ("le la les de des et à dans sur avec par pour une un est été ville rue port bateau élection "
          "présidentielle marché affiche manifestation foule rivière pont nuit matin hiver été gare train "
          "église école football fête police incendie tempête village montagne mer plage musée tableau "
          "portrait famille mariage enfants chien chat cheval jardin Besançon Lyon Marseille").split()
NOTES = """\
Where the time goes: FTS5 finds the 10,368 rows holding `harbour` in about 1 ms; the rest is SQLite reading
each matching file by its id (a few µs a file on this loaded machine) and handing the ids back. The index is
contentless (the words, not a second copy of the text): a value leaves it by FTS5's `delete` command with
its old text. FTS5 writes its in-memory buffer out whenever a row number comes out of order, which an
undo's changeset does (its rows come in hash order), hence an undo slower than the edit it undoes.
"""
WORD_QUERY = {"op": "search", "value": "harbour"}
COMBINED = {"filter": {"and": [{"op": "search", "value": "election OR élection"},
                               {"property": "taken", "op": "ge", "value": "2000"},
                               {"property": "taken", "op": "lt", "value": "2010"}]},
            "group": [{"property": "taken", "by": "year"}]}


def sentences(count: int, rng: np.random.Generator) -> list[str]:
    """`count` generated sentences of 6 to 20 words, half English, half French."""
    out = []
    for vocabulary in (ENGLISH, FRENCH):
        weights = 1.0 / np.arange(1, len(vocabulary) + 1)
        weights /= weights.sum()
        n = count // 2 if vocabulary is ENGLISH else count - count // 2
        lengths = rng.integers(6, 21, n)
        words = rng.choice(len(vocabulary), int(lengths.sum()), p=weights)
        ends = np.cumsum(lengths)
        out += [" ".join(vocabulary[w] for w in words[end - length:end]).capitalize() + "."
                for end, length in zip(ends, lengths)]
    return out


def prepare(source: Path, copy: Path, seed: int = 0) -> int:
    """Copy the project, bring the copy to the schema before the index and give 30% of its files a
    description; the number of descriptions."""
    shutil.copyfile(source, copy)
    conn = apsw.Connection(str(copy))
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= INDEX_MIGRATION:
        sys.exit(f"{source} already has the text index (schema {version}): pass --source, a project made before "
                 f"migration {INDEX_MIGRATION:04d}, or rebuild it with an imagier of that time")
    with conn:
        for number, sql in migrations()[version:INDEX_MIGRATION - 1]:
            conn.execute(sql)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {number}")
        files = [r[0] for r in conn.execute("SELECT id FROM files")]
        rng = np.random.default_rng(seed)
        chosen = rng.choice(files, int(len(files) * TEXT_SHARE), replace=False)
        conn.execute("INSERT INTO properties(name, type, scope, position) VALUES ('description', 'text', 'file', 99)")
        prop = conn.last_insert_rowid()
        conn.executemany("INSERT INTO property_values(property_id, target_id, value) VALUES (?, ?, ?)",
                         zip([prop] * len(chosen), map(int, chosen), sentences(len(chosen), rng)))
    conn.close()
    return len(chosen)


def measure(path: Path, runs: int, described: int) -> list[tuple[str, float, str, float | None]]:
    rows = []
    started = time.perf_counter()
    project = imagier.open(path, create=False)  # migration 0006 fills the index
    rows.append((f"migration 0006: index the text of {described:,} descriptions and the captions",
                 (time.perf_counter() - started) * 1000, "ms", None))
    size = textindex.size(project.db.reader)
    rows.append(("index size in the project file", size / 2**20, "MB", None))
    rows.append(("project file size", path.stat().st_size / 2**20, "MB", None))
    project.query(WORD_QUERY)  # the first query reads the index's pages from disk: the targets are warm
    for label, spec in {"word query `harbour`": WORD_QUERY,
                        "rare word `besancon` (accents folded)": {"op": "search", "value": "besancon"},
                        "phrase `\"le port\"`": {"op": "search", "value": '"le port"'},
                        "prefix `présid*`": {"op": "search", "value": "présid*"},
                        "two words `boat harbour`": {"op": "search", "value": "boat harbour"}}.items():
        ms, result = _median_ms(lambda: project.query(spec), runs)
        rows.append((f"{label} ({result['total']:,} images)", ms, "ms", 50 if spec is WORD_QUERY else None))
    ms, result = _median_ms(lambda: project.query(COMBINED["filter"], group=COMBINED["group"]), runs)
    rows.append((f"`election OR élection`, taken in 2000-2009, grouped by year ({result['total']:,} images, "
                 f"{len(result['groups'])} groups)", ms, "ms", 300))
    ms, result = _median_ms(lambda: project.query(WORD_QUERY, limit=200), runs)
    rows.append(("word query, first window of 200 ids", ms, "ms", None))
    ids = project.query_ids({"op": "search", "value": "besancon"})[:1000]
    started = time.perf_counter()
    project.set_values("description", ids, "Un bateau dans le port de Besançon")
    rows.append((f"set the description of {len(ids):,} images (index kept in step)",
                 (time.perf_counter() - started) * 1000, "ms", None))
    started = time.perf_counter()
    project.undo()
    rows.append(("undo that", (time.perf_counter() - started) * 1000, "ms", None))
    project.close()
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="the project to copy (default: bench_scale.py's cached one)")
    parser.add_argument("--files", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write-results", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args(argv)
    source = args.source or ensure_project(args.files)[0]
    with tempfile.TemporaryDirectory(dir=source.parent) as folder:
        copy = Path(folder) / "text.imagier"
        started = time.perf_counter()
        described = prepare(source, copy)
        print(f"copied and described {described:,} files in {time.perf_counter() - started:.0f} s", flush=True)
        rows = measure(copy, args.runs, described)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    text = table(rows, 1)
    print(text)
    print(uptime)
    if args.write_results:
        write_results(f"## Full-text search at {args.files:,} images\n\nMachine: "
                      f"{machine(f'SQLite {apsw.sqlite_lib_version()}')}; `uptime` at the end: {uptime}. "
                      f"Run: `python benchmarks/bench_text_index.py"
                      f"{f' --source {args.source}' if args.source else ''} --write-results` ({args.runs} runs, median; "
                      f"a copy of the {args.files:,}-image project of bench_scale.py with a `description` on 30% of the files: "
                      f"generated sentences of 6 to 20 words, half English, half French; the caption it already has on "
                      f"10% of the files is indexed too).\n\n{text}\n\n{NOTES}")


if __name__ == "__main__":
    main()
