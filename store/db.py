"""Provides `open_database`: one SQLite file, WAL, foreign keys, busy timeout, migrated.

Each thread opens its own `Database` (sqlite-utils keeps `check_same_thread`); WAL plus the busy
timeout let the TUI and a `rapport sync` in another terminal write the same file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

# Re-exported (`as`): the app's screens name the type from here, as they may not import
# sqlite_utils (the "app writes no SQL" contract).
from sqlite_utils import Database as Database

from rapport.store.errors import WorkspaceError
from rapport.store.migrations import apply_migrations, migrations
from rapport.store.reader import BUSY_TIMEOUT_MS as BUSY_TIMEOUT_MS
from rapport.store.reader import busy_timeout_ms
from rapport.store.reader import database_file as database_file  # re-exported: its old home
from rapport.store.workspace import (
    FILE_MODE,
    check_writable,
    make_private_dir,
    touch_private_file,
)


class RapportDatabase(Database):
    """A sqlite-utils Database whose outermost `atomic()` is BEGIN IMMEDIATE.

    A deferred BEGIN that reads first and writes later cannot wait for another process's
    write lock: in WAL mode SQLite answers SQLITE_BUSY at once (its snapshot is stale), ignoring
    the busy timeout. Taking the write lock up front makes such blocks wait their turn instead.
    """

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:
            with super().atomic() as db:  # a SAVEPOINT inside the open transaction
                yield db
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise


@contextlib.contextmanager
def setup_lock(path: Path) -> Iterator[None]:
    """Hold `rapport.db.lock` exclusively: one process (or thread) at a time sets a file up.

    sqlite-utils decides which migrations are pending before it takes any lock, so four first
    opens at once all ran m001 ("table accounts already exists"). A separate lock file, because
    closing a descriptor of rapport.db itself would drop SQLite's POSIX locks on it; flock, not
    fcntl, so two threads of one process exclude each other too.
    """
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise WorkspaceError(f"cannot create {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def _set_up(db: Database, *, migrate: bool) -> None:
    """WAL and migrations, re-checked now that the lock is ours (another may have done them)."""
    if db.journal_mode != "wal":
        db.enable_wal()
    if migrate:
        apply_migrations(db)


def open_database(path: Path | str, *, migrate: bool = True) -> Database:
    """Open (creating 0600 if needed) and migrate the workspace database at `path`."""
    path = Path(path)
    make_private_dir(path.parent) if not path.parent.exists() else None
    check_writable(path)
    touch_private_file(path)
    try:
        timeout = busy_timeout_ms()
        conn = sqlite3.connect(str(path), timeout=timeout / 1000)
        conn.execute(f"PRAGMA busy_timeout = {timeout}")
        db = RapportDatabase(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        if db.journal_mode != "wal" or (migrate and migrations.pending(db)):
            with setup_lock(path):
                _set_up(db, migrate=migrate)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise WorkspaceError(
                f"database {path} is locked by another Rapport; try again in a moment"
            ) from exc
        raise WorkspaceError(f"cannot open database {path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(f"{path} is not a Rapport database: {exc}") from exc
    return db
