"""The SQLite connection of a project file: pragmas, migrations, one writer and many readers.

Like Datasette, a project has one write connection, used under a lock, and one read connection per
thread; WAL mode lets readers run while a write is in progress. Other processes (the CLI, a notebook, a
plugin's worker) write to the same file: a write takes the file's lock when it begins, so writers queue
rather than fail. A file imagier may not write is opened read-only.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Iterator

import apsw

from ..checks import number_between
from ..errors import Conflict, Forbidden, ProjectFileError

APPLICATION_ID = 0x696D6167  # "imag": tells an imagier project from any other SQLite file
# A server has a read connection per worker thread (dozens), so each keeps a small page cache of its own.
WRITER_CACHE_MB = 64
READER_CACHE_MB = 16
# How long a write waits for another process's write to end before giving up, unless the environment
# says otherwise (in seconds): a script may rather fail fast, a test of a locked file need not wait 30 s.
BUSY_TIMEOUT_MS = 30_000
BUSY_TIMEOUT_ENV = "IMAGIER_BUSY_TIMEOUT"


def busy_timeout_ms() -> int:
    """The busy timeout: $IMAGIER_BUSY_TIMEOUT seconds when set, else BUSY_TIMEOUT_MS."""
    text = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    if not text:
        return BUSY_TIMEOUT_MS
    try:
        seconds = float(text)
    except ValueError:
        seconds = text
    return round(number_between(BUSY_TIMEOUT_ENV, seconds, 0, 3600, "a number of seconds") * 1000)


def storable(id) -> bool:
    """Whether `id` is an integer SQLite can hold (64 bits): a larger one names no row, and binding it would
    be an OverflowError. Every integer id a user passes is checked with it before it is bound."""
    return isinstance(id, int) and -2 ** 63 <= id < 2 ** 63


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


def _read_only_reason(path: Path) -> str | None:
    """Why the project file at `path` cannot be written, or None when it can."""
    if not os.access(path.parent, os.W_OK):
        return f"its folder {path.parent} is read-only (SQLite writes its journal next to the file)"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    return None


def _read_only_uri(path: Path) -> str:
    """The URI that opens a project SQLite cannot write. A WAL file needs its -shm index, which SQLite creates
    next to it; in a read-only folder it cannot, so the file is opened as immutable (nobody can change it
    there) unless a write-ahead log holds changes that are not in the file yet."""
    wal = path.with_name(path.name + "-wal")
    unchanging = not os.access(path.parent, os.W_OK) and not (wal.exists() and wal.stat().st_size)
    return f"{path.as_uri()}?{'immutable=1' if unchanging else 'mode=ro'}"


def _connect(path: Path, cache_mb: int, read_only: bool = False) -> apsw.Connection:
    if read_only:
        conn = apsw.Connection(_read_only_uri(path), flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    else:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE)
    conn.set_busy_timeout(busy_timeout_ms())
    # apsw runs the statements of one execute() lazily, so each pragma gets its own call.
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA cache_size = -{cache_mb * 1024}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA mmap_size = 268435456")  # reads of the first 256 MB share the OS's page cache
    return conn


def _migrate(conn: apsw.Connection, path: Path, read_only: str | None) -> None:
    with conn:  # one read transaction, so the three agree even while another process is migrating the file
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
    if read_only:
        if version < SCHEMA_VERSION:
            raise ProjectFileError(
                f"{path} cannot be opened: it needs an upgrade to this version of imagier (schema {version} to "
                f"{SCHEMA_VERSION}), which means writing to it, and {read_only}", path=str(path))
        return
    conn.execute("PRAGMA journal_mode = WAL").fetchall()
    if version == SCHEMA_VERSION:
        return
    # Another process may be creating or upgrading the same file at this moment: the first to take the
    # write lock migrates, and the others then find nothing left to do.
    with immediate_transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchall()[0][0]
        for number, sql in migrations()[version:]:
            conn.execute(sql)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {number}")


@contextmanager
def immediate_transaction(conn: apsw.Connection) -> Iterator[None]:
    """A transaction that takes the file's write lock first, waiting for other processes' writes up to the
    busy timeout. A deferred transaction that reads, then writes, fails at once with SQLITE_BUSY when
    another process committed in between, and no timeout helps it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite ends the transaction itself after some errors
            conn.execute("ROLLBACK")
        raise


def _check_header(path: Path, create: bool) -> None:
    """Refuse an existing file that is not an SQLite file. An empty one becomes a project only where one is
    to be created (an import, `imagier.open`: SQLite's file is empty until another process creating the same
    project writes its first page), never where one is only read (`imagier info`)."""
    with open(path, "rb") as f:
        head = f.read(16)
    if not head and not create:
        raise ProjectFileError(f"{path} is not an imagier project: the file is empty (0 bytes)", path=str(path))
    if head and head != b"SQLite format 3\x00":
        raise ProjectFileError(f"{path} is not an imagier project (not an SQLite file)", path=str(path))


def _busy_reason(error: apsw.BusyError) -> str:
    if error.extendedresult == apsw.SQLITE_BUSY_SNAPSHOT:
        return "another program changed it while this operation was reading it"
    return "another program kept writing to it for longer than this write could wait"


class Database:
    """The connections to one project file. A file imagier may not write (read-only, or in a read-only
    folder) is opened read-only: it can be read and copied, and every write is refused with the reason."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path).resolve()
        if self.path.exists():
            _check_header(self.path, create)
        elif not create:
            raise ProjectFileError(f"no project file at {self.path}", path=str(self.path))
        self.read_only = _read_only_reason(self.path)
        if self.read_only and not self.path.exists():
            raise ProjectFileError(f"cannot create a project at {self.path}: {self.read_only}", path=str(self.path))
        try:
            self.writer = self._connect(WRITER_CACHE_MB)
            _migrate(self.writer, self.path, self.read_only)
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

    def _connect(self, cache_mb: int) -> apsw.Connection:
        return _connect(self.path, cache_mb, read_only=self.read_only is not None)

    @property
    def reader(self) -> apsw.Connection:
        """This thread's read connection. Inside a write, reads go to the writer so they see its changes."""
        if getattr(self._local, "writing", 0):
            return self.writer
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(READER_CACHE_MB)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def write(self, immediate: bool = True, wait: float | None = None) -> Iterator[apsw.Connection]:
        """One transaction on the write connection: all of it is committed, or none of it on error. Nested
        calls are savepoints of the outer transaction, so an inner failure rolls back only itself.

        The outermost one takes the file's write lock at once (other processes' writers queue behind it)
        unless `immediate` is False: then it takes it at its first write, which fails at once if another
        process committed since the transaction began. `wait`: seconds to wait for another process's lock
        instead of the busy timeout, for a write that has something better to do than wait."""
        if self.read_only:
            raise self._refusal(self.read_only)
        with self.write_lock:
            depth = getattr(self._local, "writing", 0)
            self._local.writing = depth + 1
            if wait is not None and not depth:
                self.writer.set_busy_timeout(round(wait * 1000))
            try:
                with (self.writer if depth or not immediate else immediate_transaction(self.writer)):
                    yield self.writer
            except apsw.ReadOnlyError as e:  # what os.access could not tell, on some network file systems
                raise self._refusal(f"SQLite may not write to it ({e})") from None
            except apsw.BusyError as e:
                raise Conflict(f"{self.path} is busy: {_busy_reason(e)}; nothing was written, try again",
                               path=str(self.path)) from None
            finally:
                self._local.writing -= 1
                if wait is not None and not depth:
                    self.writer.set_busy_timeout(busy_timeout_ms())

    def _refusal(self, reason: str) -> Forbidden:
        return Forbidden(f"{self.path} cannot be changed: {reason}; nothing was written", path=str(self.path),
                         reason=reason)

    def data_version(self) -> int:
        """A number that changes whenever anything is committed to the file, by any connection or process."""
        with self._watcher_lock:
            if self._watcher is None:
                self._watcher = self._connect(1)
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
