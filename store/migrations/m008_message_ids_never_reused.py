"""Provides migration m008: message ids are never reused (AUTOINCREMENT)."""

from __future__ import annotations

import re

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, set_version

# The tables that point at messages(id), rebuilt with it by m008.
_MESSAGE_CHILDREN = ("message_addresses", "message_accounts")


def _schema_sql(db: Database, kind: str, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, sql) of the tables, indexes or triggers of `tables`, SQLite's own indexes left out."""
    marks = ",".join("?" * len(tables))
    return [(name, sql) for name, sql in db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name IN ({marks})"
        " AND sql IS NOT NULL ORDER BY name", [kind, *tables])]


@migrations()
def m008_message_ids_never_reused(db: Database) -> None:
    """Mail: message ids are never reused (AUTOINCREMENT), so an id that `rapport search --json`
    printed names that message or none, never a newer one stored after it was expunged.

    SQLite cannot add AUTOINCREMENT in place: `messages` is rebuilt with its rows, ids, indexes
    and FTS triggers (the FTS index is keyed by those ids and stays valid). Foreign keys cannot be
    switched off inside the migration's transaction and dropping `messages` would cascade into
    the tables that point at it, so those are saved to temporary tables, dropped first and
    recreated from their own SQL afterwards.
    """
    family = ("messages", *_MESSAGE_CHILDREN)
    [(_name, table_sql)] = _schema_sql(db, "table", ("messages",))
    children = _schema_sql(db, "table", _MESSAGE_CHILDREN)
    indexes = _schema_sql(db, "index", family)
    triggers = _schema_sql(db, "trigger", family)
    columns = ", ".join(f'"{row[1]}"' for row in db.execute("PRAGMA table_info(messages)"))
    new_sql, found = re.subn(r"\bid INTEGER PRIMARY KEY\b(?! AUTOINCREMENT)",
                             "id INTEGER PRIMARY KEY AUTOINCREMENT", table_sql, count=1)
    if not found:
        raise RuntimeError("m008: messages.id is not the INTEGER PRIMARY KEY it expects")
    for child, _sql in children:
        db.execute(f"CREATE TEMP TABLE m008_{child} AS SELECT * FROM {child}")
        db.execute(f"DROP TABLE {child}")
    for name, _sql in triggers:
        db.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    for name, _sql in indexes:
        db.execute(f'DROP INDEX IF EXISTS "{name}"')
    db.execute("ALTER TABLE messages RENAME TO m008_messages_old")
    db.execute(new_sql)
    # No trigger exists yet: the FTS index is not written twice.
    db.execute(f"INSERT INTO messages ({columns}) SELECT {columns} FROM m008_messages_old")
    db.execute("DROP TABLE m008_messages_old")
    for child, sql in children:
        db.execute(sql)
        db.execute(f"INSERT INTO {child} SELECT * FROM temp.m008_{child}")
        db.execute(f"DROP TABLE temp.m008_{child}")
    for _name, sql in indexes + triggers:
        db.execute(sql)
    broken = db.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"m008: foreign keys broken by the rebuild: {broken[:3]}")
    set_version(db, 8)
