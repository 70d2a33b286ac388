"""Provides migration m013b: bounces of addresses not in the book wait in Today (issue 17)."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, schema_version, set_version


@migrations()
def m013b_bounce_review(db: Database) -> None:
    """bounces: `reviewed_utc`, NULL while a bounce of an address no contact has waits in
    Today for review (acknowledging sets it). A bounce of a contact's address is settled by its
    mark, so it is stored reviewed; the ones already stored are set the same way here, and those
    of unknown addresses, never shown before, wait for review."""
    db.execute("ALTER TABLE bounces ADD COLUMN reviewed_utc TEXT")
    db.execute("UPDATE bounces SET reviewed_utc = date_utc"
               " WHERE address IN (SELECT email FROM contact_emails)")
    set_version(db, max(schema_version(db), 13))
