"""Provides `UndoJournal`: step-by-step undo of the book changes made in one session (the TUI).

How: while a step is recorded, temporary triggers on the connection that makes the change write
the SQL that reverses each row change (the classic SQLite undo recipe, sqlite.org/undoredo.html)
into a temporary log; the step's statements are then kept in memory, so a change made on a worker
thread's own connection is undone on any other. Undo replays one step's statements newest first,
in one transaction, with recording off. Only the book and mail-link tables are journalled: mail
itself (sync) is never rolled back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlite_utils import Database


# Book tables and the links between mail and the book: what the TUI's changes write.
JOURNALLED = ("accounts", "account_domains", "contacts", "contact_emails", "deals", "activities",
              "message_accounts", "message_assignments", "address_overrides", "thread_pins")
_LOG = "rapport_undo_log"
_STATE = "rapport_undo_state"
T = TypeVar("T")


@dataclass(frozen=True)
class UndoStep:
    """One user action: what it was called and the statements that reverse it (oldest first)."""

    label: str
    statements: tuple[str, ...]


def _quote_list(columns: list[str], prefix: str) -> str:
    return "||','||".join(f"quote({prefix}.\"{c}\")" for c in columns)


def _triggers(db: Database, table: str) -> list[str]:
    columns = [row[1] for row in db.execute(f'PRAGMA main.table_info("{table}")')]
    names = ", ".join(f'"{c}"' for c in columns)
    sets = "||','||".join(f"'\"{c}\"='||quote(old.\"{c}\")" for c in columns)
    when = f"WHEN (SELECT recording FROM {_STATE})"
    log = f"INSERT INTO {_LOG} (statement) VALUES"
    return [
        f"CREATE TEMP TRIGGER IF NOT EXISTS rapport_undo_{table}_i AFTER INSERT ON main.\"{table}\" {when}"
        f" BEGIN {log} ('DELETE FROM \"{table}\" WHERE rowid='||new.rowid); END",
        f"CREATE TEMP TRIGGER IF NOT EXISTS rapport_undo_{table}_u AFTER UPDATE ON main.\"{table}\" {when}"
        f" BEGIN {log} ('UPDATE \"{table}\" SET '||{sets}||' WHERE rowid='||old.rowid); END",
        f"CREATE TEMP TRIGGER IF NOT EXISTS rapport_undo_{table}_d BEFORE DELETE ON main.\"{table}\" {when}"
        f" BEGIN {log} ('INSERT INTO \"{table}\" (rowid, {names.replace(chr(39), chr(39) * 2)}) VALUES ('"
        f"||old.rowid||','||{_quote_list(columns, 'old')}||')'); END",
    ]


def _install(db: Database) -> None:
    """The log, the switch and the triggers on this connection (once; temp objects are per connection)."""
    if db.execute("SELECT 1 FROM sqlite_temp_master WHERE name = 'rapport_undo_state'").fetchone():
        return
    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_LOG} (seq INTEGER PRIMARY KEY, statement TEXT NOT NULL)")
    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STATE} (recording INTEGER NOT NULL)")
    db.execute(f"INSERT INTO {_STATE} VALUES (0)")
    existing = set(db.table_names())
    for table in JOURNALLED:
        if table in existing:
            for sql in _triggers(db, table):
                db.execute(sql)


class UndoJournal:
    """The session's undo history: `record` a change under a label, `undo` the newest step."""

    def __init__(self) -> None:
        self._steps: list[UndoStep] = []
        self._lock = threading.Lock()  # changes may be recorded from a worker thread

    @property
    def labels(self) -> list[str]:
        """The steps that can be undone, oldest first."""
        with self._lock:
            return [step.label for step in self._steps]

    def record(self, db: Database, label: str, change: Callable[[], T]) -> T:
        """Run `change` on `db`, keeping what reverses it as one step named `label`."""
        _install(db)
        db.execute(f"DELETE FROM {_LOG}")
        db.execute(f"UPDATE {_STATE} SET recording = 1")
        try:
            result = change()
        finally:
            db.execute(f"UPDATE {_STATE} SET recording = 0")
            statements = tuple(row[0] for row in db.execute(f"SELECT statement FROM {_LOG} ORDER BY seq"))
            db.execute(f"DELETE FROM {_LOG}")
        if statements:
            with self._lock:
                self._steps.append(UndoStep(label, statements))
        return result

    def undo(self, db: Database) -> str | None:
        """Reverse the newest step in one transaction; its label, or None when there is none."""
        with self._lock:
            if not self._steps:
                return None
            step = self._steps.pop()
        _install(db)
        with db.atomic():
            for statement in reversed(step.statements):
                db.execute(statement)
        return step.label
