"""Provides migration m006: messages a sync could not store, remembered so the no-change path stays one STATUS."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, set_version


@migrations()
def m006_skipped_messages(db: Database) -> None:
    """IMAP sync: the messages a sync could not read and skipped (reported with a reason).

    The server still counts them, so the one-round-trip "nothing changed" check compares its
    MESSAGES with stored + skipped; without them a folder holding one unreadable message never
    took that path again. Rows go with the folder, a UIDVALIDITY reset and the server's expunge.
    """
    db.execute("""
        CREATE TABLE skipped_messages (
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            uid INTEGER NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (folder_id, uid)
        )""")
    set_version(db, 6)
