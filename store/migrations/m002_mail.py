"""Provides migration m002: `my_addresses`, the user's own addresses as of the last sync."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, set_version


@migrations()
def m002_mail(db: Database) -> None:
    """Mail (shared by the IMAP sync and the parse/match helpers: append, never reorder).

    `my_addresses`: the user's own addresses as of the last sync, so re-matching after a contact
    or domain change (which has no config at hand) still ignores them.
    """
    db.executescript(
        """
        CREATE TABLE my_addresses (
            address TEXT PRIMARY KEY                -- lower-case
        );
        """
    )
    set_version(db, 2)
