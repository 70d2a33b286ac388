"""Provides migration m011: a skipped message remembers whether the server refused it (retried)."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, schema_version, set_version


@migrations()
def m011_skipped_retry(db: Database) -> None:
    """IMAP sync: `skipped_messages.retry` is 1 for a message the server failed to send (a FETCH
    error, or a UID left out of its answer): such a message may come back, so every later sync
    asks for it again. 0 is a message we received and could not decode (retrying changes
    nothing). `skipped_utc` says since when it is missing, for `rapport status`.
    """
    db.execute("ALTER TABLE skipped_messages ADD COLUMN retry INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE skipped_messages ADD COLUMN skipped_utc TEXT")
    # Issue branches land in any order: never move user_version backwards.
    set_version(db, max(schema_version(db), 11))
