"""The project file: migrations, pragmas, refusing files that are not projects, sharing by copy."""

import shutil

import apsw
import pytest

import imagier
from imagier.errors import ProjectFileError
from imagier.operations.oplog import TRACKED_TABLES
from imagier.store.db import APPLICATION_ID, SCHEMA_VERSION, migrations


def pragma(project, name):
    return project.db.reader.execute(f"PRAGMA {name}").fetchone()[0]


def test_new_project_is_at_the_latest_schema_with_wal_and_foreign_keys(tmp_path):
    with imagier.open(tmp_path / "p.imagier") as project:
        assert pragma(project, "user_version") == SCHEMA_VERSION == len(migrations())
        assert pragma(project, "application_id") == APPLICATION_ID
        assert pragma(project, "journal_mode") == "wal"
        assert pragma(project, "foreign_keys") == 1


def test_migrations_are_numbered_from_one():
    assert [number for number, _ in migrations()] == list(range(1, SCHEMA_VERSION + 1))


def test_an_older_project_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.imagier"
    conn = apsw.Connection(str(path))
    number, sql = migrations()[0]
    with conn:
        conn.execute(sql)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("INSERT INTO properties(name, type, scope) VALUES ('note', 'text', 'file')")
    conn.close()
    with imagier.open(path) as project:
        assert pragma(project, "user_version") == SCHEMA_VERSION
        assert [p["name"] for p in project.properties() if not p["builtin"]] == ["note"]


def test_undo_log_tracks_only_tables_with_a_primary_key(tmp_path):
    # SQLite's session extension silently ignores tables without one, which would make undo lose changes.
    with imagier.open(tmp_path / "p.imagier") as project:
        for table in TRACKED_TABLES:
            columns = project.db.reader.execute(f"PRAGMA table_info({table})").fetchall()
            assert any(column[5] for column in columns), table


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.imagier"
    path.write_text("my precious notes\n")
    with pytest.raises(ProjectFileError, match="not an imagier project"):
        imagier.open(path)
    assert path.read_text() == "my precious notes\n"


def test_another_applications_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(ProjectFileError, match="not an imagier project"):
        imagier.open(path)


def test_a_project_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "new.imagier"
    imagier.open(path).close()
    conn = apsw.Connection(str(path))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ProjectFileError, match="newer imagier"):
        imagier.open(path)


def test_opening_a_missing_project_without_create_fails(tmp_path):
    with pytest.raises(ProjectFileError, match="no project file"):
        imagier.open(tmp_path / "missing.imagier", create=False)
    assert not (tmp_path / "missing.imagier").exists()


def test_a_closed_project_copied_elsewhere_opens_with_its_annotations(tmp_path):
    with imagier.open(tmp_path / "a.imagier") as project:
        project.create_property("category", "multi-tag")
        project.create_tag("category", "cups")
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(tmp_path / "a.imagier", tmp_path / "elsewhere" / "b.imagier")
    with imagier.open(tmp_path / "elsewhere" / "b.imagier", create=False) as copy:
        assert [t["name"] for t in copy.tags("category")] == ["cups"]
        assert copy.history()[0]["label"] == "create tag cups in category"
