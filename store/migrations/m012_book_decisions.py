"""Provides migration m012: won/lost decisions (lost reason, the open stage left) and archiving."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, schema_version, set_version


@migrations()
def m012_book_decisions(db: Database) -> None:
    """Deals remember the open stage they left when won or lost (reopen goes back there) and why
    they were lost; accounts, contacts and deals can be archived (hidden, never deleted).

    Added columns only (NULL/'' for existing rows), so every released schema upgrades in place.
    """
    db.executescript(
        """
        ALTER TABLE deals ADD COLUMN open_stage TEXT;           -- the open stage a closed deal left
        ALTER TABLE deals ADD COLUMN lost_reason TEXT NOT NULL DEFAULT '';
        ALTER TABLE deals ADD COLUMN lost_note TEXT NOT NULL DEFAULT '';
        ALTER TABLE deals ADD COLUMN archived_utc TEXT;         -- NULL: in the book
        ALTER TABLE accounts ADD COLUMN archived_utc TEXT;
        ALTER TABLE contacts ADD COLUMN archived_utc TEXT;
        CREATE INDEX deals_lost_reason ON deals(lost_reason) WHERE lost_reason != '';
        """
    )
    # Branches land in any order: never lower a number set by a later migration.
    set_version(db, max(schema_version(db), 12))
