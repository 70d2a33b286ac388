"""Provides migration m003: announcement journals, so a rerun never drafts or sends twice."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, set_version


@migrations()
def m003_drafting(db: Database) -> None:
    """Announcement journals: one row per announcement and per contact, so a rerun after a
    crash or Ctrl-C continues where it stopped and never drafts or sends twice to a contact."""
    db.executescript(
        """
        CREATE TABLE announcements (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,               -- template + segment + promotion name
            template TEXT NOT NULL,
            segment TEXT NOT NULL,
            created_utc TEXT NOT NULL
        );
        -- 'started' is written (committed) before the APPEND/SEND, 'done' after: a started row
        -- left by a crash is never retried, so nothing is delivered twice.
        CREATE TABLE announcement_recipients (
            announcement_id INTEGER NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
            contact_id INTEGER NOT NULL,
            email TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('started', 'done')),
            mode TEXT NOT NULL CHECK (mode IN ('drafts', 'send')),
            message_id TEXT NOT NULL,
            done_utc TEXT,
            PRIMARY KEY (announcement_id, contact_id)
        );
        -- The account timeline entry, written once per account with its first recipient.
        CREATE TABLE announcement_accounts (
            announcement_id INTEGER NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
            account_id INTEGER NOT NULL,
            activity_id INTEGER NOT NULL,
            PRIMARY KEY (announcement_id, account_id)
        );
        """
    )
    set_version(db, 3)
