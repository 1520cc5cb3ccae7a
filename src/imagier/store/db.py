"""The SQLite connection of a project file: pragmas, migrations, one writer and many readers.

Like Datasette, a project has one write connection, used under a lock, and one read connection per
thread; WAL mode lets readers run while a write is in progress.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Iterator

import apsw

from ..errors import ProjectFileError

APPLICATION_ID = 0x696D6167  # "imag": tells an imagier project from any other SQLite file
# A server has a read connection per worker thread (dozens), so each keeps a small page cache of its own.
WRITER_CACHE_MB = 64
READER_CACHE_MB = 16


def migrations() -> list[tuple[int, str]]:
    """The numbered migrations shipped with the package, in order: [(1, sql), (2, sql), ...]."""
    folder = resources.files(__package__) / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    found.sort()
    assert [n for n, _ in found] == list(range(1, len(found) + 1)), "migrations must be numbered 1..n"
    return found


SCHEMA_VERSION = len(migrations())


def _connect(path: Path, cache_mb: int) -> apsw.Connection:
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE)
    conn.set_busy_timeout(30_000)
    # apsw runs the statements of one execute() lazily, so each pragma gets its own call.
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA cache_size = -{cache_mb * 1024}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA mmap_size = 268435456")  # reads of the first 256 MB share the OS's page cache
    return conn


def _migrate(conn: apsw.Connection, path: Path) -> None:
    application_id = conn.execute("PRAGMA application_id").fetchall()[0][0]
    version = conn.execute("PRAGMA user_version").fetchall()[0][0]
    tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchall()[0][0]
    if application_id != APPLICATION_ID and (tables or version):
        raise ProjectFileError(f"{path} is an SQLite file but not an imagier project", path=str(path))
    if version > SCHEMA_VERSION:
        raise ProjectFileError(
            f"{path} was made by a newer imagier (schema {version}, this version knows {SCHEMA_VERSION}); "
            "upgrade imagier to open it",
            path=str(path),
        )
    conn.execute("PRAGMA journal_mode = WAL").fetchall()
    for number, sql in migrations()[version:]:
        with conn:
            conn.execute(sql)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {number}")


class Database:
    """The connections to one project file."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path).resolve()
        if not self.path.exists() and not create:
            raise ProjectFileError(f"no project file at {self.path}", path=str(self.path))
        if self.path.exists():
            with open(self.path, "rb") as f:
                head = f.read(16)
            if head and head != b"SQLite format 3\x00":
                raise ProjectFileError(f"{self.path} is not an imagier project (not an SQLite file)",
                                       path=str(self.path))
        try:
            self.writer = _connect(self.path, WRITER_CACHE_MB)
            _migrate(self.writer, self.path)
        except apsw.Error as e:
            raise ProjectFileError(f"cannot open {self.path} as a project: {e}", path=str(self.path)) from e
        self.write_lock = threading.RLock()
        # A connection that never writes: its PRAGMA data_version moves on every commit of any other
        # connection to the file, this process's writer and other processes alike.
        self._watcher: apsw.Connection | None = None
        self._watcher_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[apsw.Connection] = []
        self._readers_lock = threading.Lock()

    @property
    def reader(self) -> apsw.Connection:
        """This thread's read connection. Inside a write, reads go to the writer so they see its changes."""
        if getattr(self._local, "writing", 0):
            return self.writer
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, READER_CACHE_MB)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[apsw.Connection]:
        """One transaction on the write connection: all of it is committed, or none of it on error."""
        with self.write_lock:
            self._local.writing = getattr(self._local, "writing", 0) + 1
            try:
                with self.writer:  # a savepoint when nested, so an inner failure rolls back only itself
                    yield self.writer
            finally:
                self._local.writing -= 1

    def data_version(self) -> int:
        """A number that changes whenever anything is committed to the file, by any connection or process."""
        with self._watcher_lock:
            if self._watcher is None:
                self._watcher = _connect(self.path, 1)
            return self._watcher.execute("PRAGMA data_version").fetchall()[0][0]

    def backup(self, destination: str | Path) -> None:
        """Write a consistent copy of the whole project to `destination` with SQLite's backup API: copying
        the file itself could miss the pages still in its write-ahead log."""
        target = apsw.Connection(str(destination))
        try:
            # Under the write lock, so no write of this process restarts the copy midway.
            with self.write_lock, target.backup("main", self.writer, "main") as copy:
                copy.step(-1)
            # The copy is one self-contained file: no -wal beside it once closed.
            target.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            target.close()

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._watcher_lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
        self.writer.close()
