"""Provides migration m007: client complaints, open or resolved, on the timeline."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, set_version


@migrations()
def m007_complaints(db: Database) -> None:
    """Activities: kind 'complaint', a client's post-contract support issue (late delivery, a wrong
    invoice), open until resolved like an objection but not a sales objection.

    SQLite cannot change a CHECK constraint in place, so the table is rebuilt: same columns, same
    rowids (activities_fts indexes the table by rowid, so it stays valid), then its indexes and
    FTS triggers are recreated from their stored SQL. No table references activities.
    """
    kept = [sql for (sql,) in db.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'activities' AND type IN ('index', 'trigger')"
        " AND sql IS NOT NULL ORDER BY type, name")]
    db.execute("""
        CREATE TABLE activities_new (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            deal_id INTEGER REFERENCES deals(id) ON DELETE SET NULL,
            contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
            kind TEXT NOT NULL CHECK (kind IN ('note', 'call', 'meeting', 'objection', 'complaint',
                'stage_change', 'draft', 'sent', 'announcement')),
            date_utc TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL DEFAULT '',
            resolved INTEGER,                       -- objections and complaints: 0 open, 1 resolved
            resolved_utc TEXT,
            from_stage TEXT,
            to_stage TEXT,
            message_id TEXT                         -- Message-ID of a draft or sent mail
        )""")
    db.execute("INSERT INTO activities_new SELECT * FROM activities")
    db.execute("DROP TABLE activities")
    db.execute("ALTER TABLE activities_new RENAME TO activities")
    for sql in kept:
        db.execute(sql)
    set_version(db, 7)
