"""The scale benchmark script: a smoke test of its builder and measurements, and the full run on demand."""

from __future__ import annotations


import pytest

import imagier
from conftest import load_benchmark



def load_script():
    return load_benchmark("bench_scale")


def test_builder_and_measurements_at_small_scale(tmp_path):
    bench = load_script()
    path = tmp_path / "small.imagier"
    bench.build(path, 2000)
    with imagier.open(path, create=False) as project:
        info = project.info()
        assert info["files"] == 2000 and 1900 < info["contents"] < 2000
        assert {p["name"] for p in info["properties"]} == {"rating", "caption", "reviewed", "collection", "subject"}
        result = project.query(**bench.MAIN_VIEW)
        assert 0 < result["total"] < 2000 and result["groups"]
        assert project.thumbnail(project.files([1])[0]["hash"])[:2] == b"\xff\xd8"  # a JPEG
    rows = bench.measure(path, runs=1)
    assert len(rows) == 5 + len(bench.OTHER_VIEWS) + 1
    with imagier.open(path, create=False) as project:  # the benchmark undid its own change
        assert "flagged" not in {t["name"] for t in project.tags("subject")}
    assert "| open project + info() |" in bench.table(rows)


def test_results_section_is_replaced_alone(tmp_path):
    load_script()  # puts benchmarks/ on the path
    from common import write_results
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\n## Import\n\nfast\n\n## Project at 500,000 files\n\nold\n")
    write_results("## Project at 500,000 files\n\nnew\n", results)
    write_results("## Project at 500,000 files\n\nnewer\n", results)
    write_results("## Server\n\nsmall\n", results)
    assert results.read_text() == (
        "# Results\n\n## Import\n\nfast\n\n## Project at 500,000 files\n\nnewer\n\n## Server\n\nsmall\n")


@pytest.mark.benchmark
def test_full_scale_meets_the_targets():
    bench = load_script()
    path, _ = bench.ensure_project(500_000)
    rows = bench.measure(path, runs=5)
    print(bench.table(rows))
    missed = [f"{what}: {value:.0f} {unit}" for what, value, unit, limit in rows
              if limit is not None and value >= limit]
    assert not missed, missed
