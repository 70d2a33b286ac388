"""Provides migration m013: bounced addresses and unsubscribe requests (issue 17)."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, schema_version, set_version

_KINDS = ("'note', 'call', 'meeting', 'objection', 'complaint', 'stage_change', 'draft', 'sent',"
          " 'announcement', 'bounce', 'opt_out'")


@migrations()
def m013_bounces_and_optouts(db: Database) -> None:
    """Announcements skip dead addresses and people who asked to stop.

    - contact_emails: `bounced_utc` (NULL: delivers) and `bounce_reason` (status + the server's
      diagnostic) per address; `bounce_cleared_utc`, so temporary failures before a clear do
      not count towards the next mark.
    - bounces: every failed recipient of every bounce read, once per (bounce, address); the
      4.x.x ones are counted from here, and matching links a bounce to its contact's account.
    - optout_requests: unsubscribe requests, shown in Today until acknowledged; contact_id NULL
      when the sender is not in the book (review).
    - activities: kinds 'bounce' and 'opt_out' on the timeline. SQLite cannot change a CHECK
      constraint in place: the table is rebuilt as m007 did (same columns, rowids, indexes and
      FTS triggers).
    """
    for column in ("bounced_utc TEXT", "bounce_reason TEXT NOT NULL DEFAULT ''",
                   "bounce_cleared_utc TEXT"):
        db.execute(f"ALTER TABLE contact_emails ADD COLUMN {column}")
    db.execute("""
        CREATE TABLE bounces (
            id INTEGER PRIMARY KEY,
            address TEXT NOT NULL,                  -- lower-case: the failed recipient
            report_id TEXT NOT NULL,                -- Message-ID of the bounce message
            permanent INTEGER NOT NULL,             -- 1: 5.x.x, 0: 4.x.x
            status TEXT NOT NULL DEFAULT '',        -- '5.1.1'; '' when the bounce gives none
            diagnostic TEXT NOT NULL DEFAULT '',
            date_utc TEXT NOT NULL,
            UNIQUE (report_id, address)
        )""")
    db.execute("CREATE INDEX bounces_address ON bounces(address, date_utc)")
    db.execute("""
        CREATE TABLE optout_requests (
            id INTEGER PRIMARY KEY,
            address TEXT NOT NULL,                  -- lower-case sender
            contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
            message_id TEXT NOT NULL UNIQUE,        -- Message-ID of the request
            subject TEXT NOT NULL DEFAULT '',
            date_utc TEXT NOT NULL,
            acknowledged_utc TEXT                   -- NULL: still shown in Today
        )""")
    kept = [sql for (sql,) in db.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'activities' AND type IN ('index', 'trigger')"
        " AND sql IS NOT NULL ORDER BY type, name")]
    db.execute(f"""
        CREATE TABLE activities_new (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            deal_id INTEGER REFERENCES deals(id) ON DELETE SET NULL,
            contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
            kind TEXT NOT NULL CHECK (kind IN ({_KINDS})),
            date_utc TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL DEFAULT '',
            resolved INTEGER,                       -- objections and complaints: 0 open, 1 resolved
            resolved_utc TEXT,
            from_stage TEXT,
            to_stage TEXT,
            message_id TEXT                         -- Message-ID of a draft, sent mail or bounce
        )""")
    db.execute("INSERT INTO activities_new SELECT * FROM activities")
    db.execute("DROP TABLE activities")
    db.execute("ALTER TABLE activities_new RENAME TO activities")
    for sql in kept:
        db.execute(sql)
    set_version(db, max(13, schema_version(db)))
