"""Provides `open_lazily`: the workspace database for writing, sqlite-utils loaded only if used.

`rapport sync` with nothing new on the server reads each folder's state, writes its last-sync
time and stops: sqlite-utils (about 40 ms to import, with its plugins and parsers) would be a
quarter of that run. `LazyDatabase` answers `execute`, `query` (SELECTs), `atomic` and `close` on a
plain connection set up as `open_database` sets its own up, and becomes a full `RapportDatabase`
on the same connection the first time anything else is asked of it (a sync that finds new mail).
`DeferredDatabase`, the TUI's, answers only SELECTs plainly: its first screen only reads.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapport.store.reader import connect_if_current

if TYPE_CHECKING:
    from rapport.store.db import RapportDatabase

# sqlite-utils' own list: a statement starting with one of these is not committed after it.
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})


def _first_keyword(sql: str) -> str:
    text = sql.lstrip()
    end = 0
    while end < len(text) and (text[end].isalpha() or text[end] == "_"):
        end += 1
    return text[:end].upper()


class LazyDatabase:
    """A sqlite-utils `Database` in waiting: its commonest calls on a plain connection, with the
    same meaning (a write outside a transaction is committed at once, as sqlite-utils 4 does; the
    outermost `atomic()` is BEGIN IMMEDIATE, as RapportDatabase's), the rest by a full one."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._full: RapportDatabase | None = None

    @property
    def full(self) -> RapportDatabase:
        """The sqlite-utils Database on this connection, made (and sqlite-utils imported) once."""
        if self._full is None:
            from rapport.store.db import RapportDatabase

            self._full = RapportDatabase(self.conn)
        return self._full

    @property
    def is_full(self) -> bool:
        """Whether sqlite-utils' Database has taken over (tests check a launch leaves it unloaded)."""
        return self._full is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)  # never our own, half-made (copy, pickle probe them)
        return getattr(self.full, name)  # anything not answered here: sqlite-utils answers it

    def __getitem__(self, table: str) -> Any:
        return self.full[table]

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor:
        if self._full is not None:
            return self._full.execute(sql, parameters)
        was_in_transaction = self.conn.in_transaction
        try:
            cursor = self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)
        except Exception:
            if not was_in_transaction and self.conn.in_transaction:
                self.conn.execute("ROLLBACK")  # the implicit transaction the failed write opened
            raise
        if (not was_in_transaction and self.conn.in_transaction and cursor.description is None
                and _first_keyword(sql) not in _TRANSACTION_CONTROL):
            self.conn.execute("COMMIT")
        return cursor

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
              ) -> Iterator[dict[str, Any]]:
        """Rows as dicts by column name; anything but a plain SELECT goes to sqlite-utils (which
        guards a write that returns no rows, and renames repeated column names)."""
        if self._full is not None or _first_keyword(sql) != "SELECT":
            return self.full.query(sql, params)
        cursor = self.execute(sql, params)
        keys = [column[0] for column in cursor.description]
        if len(set(keys)) != len(keys):
            return self.full.query(sql, params)
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Any]:
        if self._full is not None or self.conn.in_transaction:
            with self.full.atomic() as db:  # a SAVEPOINT: sqlite-utils' way
                yield db
            return
        self.conn.execute("BEGIN IMMEDIATE")  # RapportDatabase.atomic says why IMMEDIATE
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self.conn.close()


class DeferredDatabase(LazyDatabase):
    """The TUI's: SELECTs on the plain connection, and anything else (a write, a transaction, a
    table) as sqlite-utils runs it, which then answers from on. Its first screen only reads, and
    importing sqlite-utils (~45 ms) waits until after that paint."""

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor:
        if self._full is None and _first_keyword(sql) == "SELECT":
            return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)
        return self.full.execute(sql, parameters)

    def atomic(self) -> Any:
        return self.full.atomic()


def open_lazily(path: Path, busy_timeout_ms: int,
                kind: type[LazyDatabase] = LazyDatabase) -> LazyDatabase | None:
    """The database at `path` as a `kind`, set up as `open_database` sets it up; None when it needs
    setting up or migrating (see `connect_if_current`): then `open_database` must do that."""
    conn = connect_if_current(path, busy_timeout_ms)
    if conn is None:
        return None
    # open_database's settings, and the one sqlite-utils' Database sets when it wraps a connection.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA recursive_triggers = on")
    return kind(conn)
