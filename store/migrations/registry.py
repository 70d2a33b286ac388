"""Provides the one `Migrations` registry of Rapport's schema and the schema version helpers."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("rapport")


def set_version(db: Database, version: int) -> None:
    """`PRAGMA user_version`, so `sqlite3 rapport.db` users and older Rapports see the schema."""
    db.execute(f"PRAGMA user_version = {int(version)}")


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])
