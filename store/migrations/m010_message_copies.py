"""Provides migration m010: one message however many synced folders hold it (message_copies)."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.mailstore.copies import message_identity
from rapport.store.migrations.registry import migrations, schema_version, set_version


@migrations()
def m010_message_copies(db: Database) -> None:
    """Mail: a message held by several synced folders (Gmail's All Mail holds a copy of
    everything) is one message: `messages` keeps one row per message, with its `identity`
    (Message-ID, Date, From and Subject, or the server's own id), and `message_copies` one row
    per (folder, UID) holding it, with that copy's server flags as last seen.

    Every stored row becomes a copy of itself; rows with the same identity (copies synced
    before this) are merged into the oldest, which keeps its id and takes flags set in any of
    them. `messages.folder_id`/`uid` stay, naming one copy (see store/mailstore/copies.py).
    Folders count the syncs in a row that found their UIDVALIDITY changed.
    """
    db.execute("ALTER TABLE messages ADD COLUMN identity TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT id, message_id, date_utc, from_addr, subject, size FROM messages")
    db.conn.executemany("UPDATE messages SET identity = ? WHERE id = ?", [
        (message_identity(mid, date, addr, subject, size=size), row_id)
        for row_id, mid, date, addr, subject, size in rows.fetchall()])
    db.execute("CREATE INDEX messages_identity ON messages(identity)")
    db.execute("""
        CREATE TABLE message_copies (
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            uid INTEGER NOT NULL,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            seen INTEGER NOT NULL DEFAULT 0,        -- this copy's flags on the server, last seen
            answered INTEGER NOT NULL DEFAULT 0,
            flagged INTEGER NOT NULL DEFAULT 0,
            draft INTEGER NOT NULL DEFAULT 0,
            flags_dirty INTEGER NOT NULL DEFAULT 0, -- the message's flags still to write here
            PRIMARY KEY (folder_id, uid)
        )""")
    db.execute("CREATE INDEX message_copies_message ON message_copies(message_id)")
    db.execute("CREATE INDEX message_copies_dirty ON message_copies(folder_id, uid)"
               " WHERE flags_dirty = 1")
    db.execute("INSERT INTO message_copies SELECT folder_id, uid, id, seen, answered, flagged,"
               " draft, flags_dirty FROM messages")
    groups = db.execute("SELECT identity, min(id) FROM messages GROUP BY identity"
                        " HAVING count(*) > 1").fetchall()
    for identity, keep in groups:
        db.execute(
            "UPDATE messages SET (seen, answered, flagged, draft, flags_dirty) = (SELECT"
            " max(seen), max(answered), max(flagged), max(draft), max(flags_dirty) FROM messages"
            " WHERE identity = ?) WHERE id = ?", [identity, keep])
        db.execute("UPDATE message_copies SET message_id = ? WHERE message_id IN"
                   " (SELECT id FROM messages WHERE identity = ? AND id != ?)",
                   [keep, identity, keep])
        db.execute("DELETE FROM messages WHERE identity = ? AND id != ?", [identity, keep])
    # Consecutive syncs that found a new UIDVALIDITY (Courier hands one out on every read-only
    # open of a folder never opened read-write): at the second, the folder is opened read-write.
    db.execute("ALTER TABLE folders ADD COLUMN uidvalidity_changes INTEGER NOT NULL DEFAULT 0")
    set_version(db, max(10, schema_version(db)))
