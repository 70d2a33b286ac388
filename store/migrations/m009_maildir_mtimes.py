"""Provides migration m009: a Maildir folder's directory stamp gets its own column."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, schema_version, set_version


@migrations()
def m009_maildir_mtimes(db: Database) -> None:
    """Folders: `maildir_mtime_ns`, the newest mtime (ns) of a Maildir folder's new/ and cur/
    at its last sync, which lets a rerun skip an unchanged folder unlisted.

    It was kept in `highestmodseq`, IMAP's column. Moved for the folders that can only be
    Maildir ones: a synced IMAP folder always has a UIDVALIDITY, a Maildir folder never.
    """
    db.execute("ALTER TABLE folders ADD COLUMN maildir_mtime_ns INTEGER")
    db.execute(
        "UPDATE folders SET maildir_mtime_ns = highestmodseq, highestmodseq = NULL "
        "WHERE uidvalidity IS NULL AND highestmodseq IS NOT NULL"
    )
    # Branches land in any order: never lower a version a later migration already set.
    set_version(db, max(schema_version(db), 9))
