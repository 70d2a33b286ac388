"""Provides migration m005: an announcement is what it announces, not the segment text."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, set_version


def _old_announcement_rows(db: Database) -> tuple[list[Any], list[Any], list[Any]]:
    return (db.execute("SELECT id, key, template, segment, created_utc FROM announcements"
                       " ORDER BY id").fetchall(),
            db.execute("SELECT announcement_id, contact_id, email, status, mode, message_id,"
                       " done_utc FROM announcement_recipients").fetchall(),
            db.execute("SELECT announcement_id, account_id, activity_id"
                       " FROM announcement_accounts").fetchall())


@migrations()
def m005_announcement_identity(db: Database) -> None:
    """An announcement is what it announces (template + promotion + optional campaign name), not
    the segment text: `stage=Won` and `stage=won tier=key` are the same announcement, so a contact
    reached once is never reached again. Recipients may now be 'failed' (retried next run).

    Old journals keyed `template|segment|promotion` are merged per (template, promotion); a
    contact done in any of them stays done. Plain execute() calls, not executescript(), which
    would COMMIT the migration's transaction half-way.
    """
    announcements, recipients, accounts = _old_announcement_rows(db)
    for table in ("announcement_accounts", "announcement_recipients", "announcements"):
        db.execute(f"DROP TABLE {table}")
    db.execute("""
        CREATE TABLE announcements (
            id INTEGER PRIMARY KEY,
            template TEXT NOT NULL,
            promotion TEXT NOT NULL DEFAULT '',     -- promotion name, case-folded ('' = none)
            campaign TEXT NOT NULL DEFAULT '',      -- --campaign NAME: a fresh one on purpose
            segment TEXT NOT NULL DEFAULT '',       -- the segment last used (information only)
            created_utc TEXT NOT NULL,
            UNIQUE (template, promotion, campaign)
        )""")
    # 'started' is committed before the APPEND/SEND and 'done' after: a started row left by a
    # crash is uncertain (drafts: looked up in Drafts by Message-ID; SMTP: only retried on
    # request). 'failed' means the server refused: the next run tries again.
    db.execute("""
        CREATE TABLE announcement_recipients (
            announcement_id INTEGER NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
            contact_id INTEGER NOT NULL,
            email TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('started', 'done', 'failed')),
            mode TEXT NOT NULL CHECK (mode IN ('drafts', 'send')),
            message_id TEXT NOT NULL,
            done_utc TEXT,
            error TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (announcement_id, contact_id)
        )""")
    db.execute("""
        CREATE TABLE announcement_accounts (
            announcement_id INTEGER NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
            account_id INTEGER NOT NULL,
            activity_id INTEGER NOT NULL,
            PRIMARY KEY (announcement_id, account_id)
        )""")
    new_id: dict[int, int] = {}
    for old_id, key, template, segment, created in announcements:
        promotion = " ".join(key.rpartition("|")[2].split()).casefold()
        db.execute("INSERT OR IGNORE INTO announcements (template, promotion, segment, created_utc)"
                   " VALUES (?, ?, ?, ?)", [template, promotion, segment, created])
        new_id[old_id] = db.execute("SELECT id FROM announcements WHERE template = ? AND"
                                    " promotion = ? AND campaign = ''",
                                    [template, promotion]).fetchone()[0]
    # 'done' wins over 'started' when two old journals reached the same contact.
    for row in sorted(recipients, key=lambda r: r[3] == "done"):
        db.execute("INSERT OR REPLACE INTO announcement_recipients (announcement_id, contact_id,"
                   " email, status, mode, message_id, done_utc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [new_id[row[0]], *row[1:]])
    for old_id, account_id, activity_id in accounts:
        db.execute("INSERT OR IGNORE INTO announcement_accounts VALUES (?, ?, ?)",
                   [new_id[old_id], account_id, activity_id])
    set_version(db, max(5, int(db.execute("PRAGMA user_version").fetchone()[0])))
