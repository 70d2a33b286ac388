"""Provides `open_reader`: the workspace database for a command that only reads, opened without
loading sqlite-utils (with its plugins and parsers, about 40 ms: twice what `rapport search` takes
to answer). It is used only when the database is set up and fully migrated; otherwise the caller
opens it as for writing (store/db.py), which sets it up.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

_MIGRATION_FILE = re.compile(r"(m\d{3}\w*)\.py")
BUSY_TIMEOUT_MS = 15_000


def busy_timeout_ms() -> int:
    """15 s, or $RAPPORT_BUSY_TIMEOUT_MS (tests of the "locked" message use a short one)."""
    try:
        return max(int(os.environ.get("RAPPORT_BUSY_TIMEOUT_MS", BUSY_TIMEOUT_MS)), 0)
    except ValueError:
        return BUSY_TIMEOUT_MS


class ReadDatabase:
    """What the read-only commands use of sqlite-utils' `Database`: `execute`, `query`, `conn`, `close`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
              ) -> Iterator[dict[str, Any]]:
        """Rows as dicts by column name, as sqlite-utils' `query` gives them."""
        cursor = self.execute(sql, params)
        keys = [column[0] for column in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row, strict=True))

    def close(self) -> None:
        self.conn.close()


def migration_names() -> set[str]:
    """The migrations this Rapport ships, by module name (each module's one migration has its
    name), read from the folder: importing them would load sqlite-utils."""
    spec = find_spec("rapport.store.migrations")
    folders = spec.submodule_search_locations if spec is not None else None
    if not folders:
        return set()
    return {found.group(1) for folder in folders for name in os.listdir(folder)
            if (found := _MIGRATION_FILE.fullmatch(name))}


def connect_if_current(path: Path, busy_timeout_ms: int) -> sqlite3.Connection | None:
    """A plain connection to the database at `path`; None when it is missing, not yet in WAL mode,
    or has a migration this Rapport ships and it lacks (then it must be opened as for writing)."""
    if not path.is_file():
        return None
    wanted = migration_names()
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000)
    except sqlite3.Error:
        return None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        applied = {name for (name,) in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'rapport'")}
    except sqlite3.Error:
        conn.close()
        return None  # no migrations table yet, or not a database: the full open says which
    if journal != "wal" or not wanted or not wanted <= applied:
        conn.close()
        return None
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def open_reader(path: Path, busy_timeout_ms: int) -> ReadDatabase | None:
    """The database at `path` for reading, or None (see `connect_if_current`)."""
    conn = connect_if_current(path, busy_timeout_ms)
    return None if conn is None else ReadDatabase(conn)


def database_file(db: Any) -> Path | None:
    """The file `db` (a sqlite-utils Database or one of ours) is stored in; None in memory."""
    row = db.execute("PRAGMA database_list").fetchone()
    return Path(row[2]) if row and row[2] else None
