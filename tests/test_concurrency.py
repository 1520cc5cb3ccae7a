"""Concurrent writers on one project file: a real server on loopback with 20 threads writing over HTTP
and `imagier values add` processes alongside, every acknowledged write stored exactly once, no 500, no
"database is locked"; a transaction that reads then writes waits for another process's writer instead of
failing; and a 500 does not close the client's connection."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter

import apsw
import httpx
import pytest

import imagier
from imagier.errors import Conflict
from imagier.server.app import create_app
from live import LiveServer
from conftest import load_benchmark

LOAD_SECONDS = 20


def load_script():
    return load_benchmark("bench_concurrency")


def test_a_read_then_write_transaction_waits_for_another_writer(imported):
    """Two connections to one file, as two processes have: the second writer commits while the first has
    read but not yet written. A deferred transaction then failed at once with SQLITE_BUSY; now the second
    writer waits for the first, and both writes land."""
    other = imagier.open(imported.path)
    try:
        other_done = threading.Event()

        def write_elsewhere():
            other.create_property("from-elsewhere", "text")
            other_done.set()

        with imported.db.write() as conn:
            conn.execute("SELECT count(*) FROM properties").fetchall()
            elsewhere = threading.Thread(target=write_elsewhere)
            elsewhere.start()
            assert not other_done.wait(0.5)  # it waits for this transaction's end
            imported.create_property("from-here", "text")
        elsewhere.join(30)
        assert other_done.is_set()
        names = {p["name"] for p in imported.properties()}
        assert {"from-here", "from-elsewhere"} <= names
        assert [op["kind"] for op in imported.history()[:2]] == ["create_property", "create_property"]
    finally:
        other.close()


def test_processes_creating_the_same_project_at_once_all_open_it(tmp_path):
    """Four connections (as four processes: a server, a CLI import, ...) create one new project at the same
    moment: one migrates, the others wait for it and find the schema made."""
    for trial in range(3):
        path = tmp_path / f"new-{trial}.imagier"
        start, errors, opened = threading.Barrier(4), [], []

        def create():
            start.wait()
            try:
                with imagier.open(path) as project:
                    opened.append(project.info()["files"])
            except Exception as e:  # noqa: BLE001 - every failure is the test's finding
                errors.append(repr(e))

        threads = [threading.Thread(target=create) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == [] and opened == [0, 0, 0, 0]


def test_a_write_that_waits_too_long_is_a_clean_conflict(imported, state_of):
    """Another program holding the write lock longer than the busy timeout: a Conflict naming the file,
    over HTTP a 409, never apsw.BusyError or a 500; and the project is unchanged."""
    before = state_of(imported)
    other = apsw.Connection(str(imported.path))
    other.execute("BEGIN IMMEDIATE")
    try:
        imported.db.writer.set_busy_timeout(300)  # rather than the 30 s a real write waits
        with pytest.raises(Conflict, match=f"{imported.path} is busy: .*nothing was written, try again"):
            imported.create_property("late", "text")
        with LiveServer(create_app(imported)) as server:
            answer = httpx.post(f"{server.url}/api/properties", json={"name": "late", "type": "text"}, timeout=30)
            assert answer.status_code == 409 and answer.json()["error"] == "Conflict"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert state_of(imported) == before
    imported.create_property("late", "text")  # the lock released, the write goes through


def test_a_capture_whose_snapshot_went_stale_fails_cleanly(imported):
    """A plugin's capture reads without the write lock (so that an action that only reads blocks no one); when
    another program commits meanwhile, its first write is a Conflict that says so, not apsw.BusyError."""
    other = imagier.open(imported.path)
    try:
        with pytest.raises(Conflict, match="another program changed it while this operation was reading it"):
            with imported.oplog.capture():
                imported.db.writer.execute("SELECT count(*) FROM properties").fetchall()
                other.create_property("from-elsewhere", "text")
                imported.create_property("from-the-plugin", "text")
    finally:
        other.close()
    assert {p["name"] for p in imported.properties() if not p["builtin"]} == {"from-elsewhere"}


def test_a_500_leaves_the_connection_open_for_the_next_request(imported):
    app = create_app(imported)

    @app.get("/api/test-failure")
    def failing():
        raise RuntimeError("a bug")

    with LiveServer(app) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/api/test-failure")
        failed = connection.getresponse()
        assert failed.status == 500 and json.loads(failed.read())["error"] == "InternalError"
        socket_before = connection.sock
        connection.request("GET", "/api/info")
        answer = connection.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["files"] == 15
        assert connection.sock is socket_before  # the same connection served both
        connection.close()


def test_http_and_cli_writers_at_once_store_every_acknowledged_write_once(imported):
    bench = load_script()
    bench.prepare(imported, writers=20)
    files = imported.files(imported.query_ids())
    ids, paths = [f["id"] for f in files], [f["path"] for f in files]
    with LiveServer(create_app(imported)) as server:
        with bench.WriteLoad(server.url, imported.path, ids, paths, writers=20, cli_writers=2) as load:
            threading.Event().wait(LOAD_SECONDS)
    assert load.failures == []
    assert len(load.created_tags) > 100 and len(load.added) > 100 and len(load.cli_added) >= 2

    tags = Counter(tag["name"] for tag in imported.tags(bench.TAGS))
    assert all(tags[name] == 1 for name in load.created_tags)
    values = imported.values(ids)
    for tag, image in load.added:
        assert tag in values[image][bench.TAGS]
    for (writer, image), number in load.numbers.items():
        assert values[image][bench.number_property(writer)] == number
    by_path = {f["path"]: f["id"] for f in files}
    for tag, path in load.cli_added:
        assert tag in values[by_path[path]][bench.CLI_TAGS]

    # Exactly once: one operation in the log for each acknowledged write, and none for anything else.
    ops = imported.history(limit=1_000_000)
    added_ops = Counter(tag for op in ops if op["kind"] == "add_values" for tag in op["params"]["tags"])
    assert added_ops == Counter([tag for tag, _ in load.added] + [tag for tag, _ in load.cli_added])
    created_ops = Counter(op["label"] for op in ops if op["kind"] == "create_tag")
    assert len(created_ops) == sum(created_ops.values()) == len(load.created_tags)
    assert sum(op["kind"] == "set_values" for op in ops) == load.numbers_set


def test_the_benchmark_measures_reads_under_a_small_load():
    bench = load_script()
    rows, summary = bench.measure(seconds=1, writers=2, cli_writers=1)
    assert summary["failures"] == [] and summary["writes"] > 0 and summary["cli"] >= 1
    assert [row[0] for row in rows] == ["POST /api/query (every image, grouped by folder)", "GET /api/info",
                                        "GET a thumbnail"]
    assert all(row[5] > 0 for row in rows) and "| GET a thumbnail |" in bench.table(rows)


@pytest.mark.benchmark
def test_reads_under_the_full_write_load():
    bench = load_script()
    rows, summary = bench.measure(seconds=20, writers=20, cli_writers=2)
    print(bench.table(rows))
    assert summary["failures"] == []
