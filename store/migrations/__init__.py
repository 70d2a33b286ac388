"""Provides the numbered schema migrations, applied in order at every open.

One module per migration, `mNNN_what.py`, registered on import in the order below (that order
is the order they apply in). Each also sets `PRAGMA user_version` to its number. Never edit a
released migration: add a module and its import line.
"""

from __future__ import annotations

from sqlite_utils import Database

# Registration order is application order.
from rapport.store.migrations import (  # noqa: F401
    m001_initial,
    m002_mail,
    m003_drafting,
    m004_messages_dirty_index,
    m005_announcement_identity,
    m006_skipped_messages,
    m007_complaints,
    m008_message_ids_never_reused,
    m009_maildir_mtimes,
    m010_message_copies,
    m011_skipped_retry,
    m012_book_decisions,
    m013_bounces_and_optouts,
    m013b_bounce_review,
    m014_deal_value_minor_units,
)
from rapport.store.migrations.registry import migrations, schema_version

__all__ = ["apply_migrations", "migrations", "schema_version"]


def apply_migrations(db: Database) -> None:
    """Bring `db` up to the newest schema; each migration commits on its own."""
    migrations.apply(db)
