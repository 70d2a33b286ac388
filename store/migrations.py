"""Provides the numbered schema migrations, applied in order at every open.

Each migration also sets `PRAGMA user_version` to its number so `sqlite3 rapport.db` users and
older Rapports can tell which schema a file has. Never edit a released migration: add one.
Numbers are reserved per concern: m001 foundation, m002 mail, m003 drafting, m004 foundation,
m005 drafting, m006 mail, m007 TUI (complaints), m008 mail.
"""

from __future__ import annotations

import re

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("rapport")


def _set_version(db: Database, version: int) -> None:
    db.execute(f"PRAGMA user_version = {int(version)}")


@migrations()
def m001_initial(db: Database) -> None:
    """The account book, the pipeline, activities, synced mail and its matching to accounts."""
    db.executescript(
        """
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            tier TEXT NOT NULL DEFAULT 'standard' CHECK (tier IN ('key', 'standard')),
            owner TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '',          -- comma-separated, as typed
            notes TEXT NOT NULL DEFAULT '',
            created_utc TEXT NOT NULL,
            updated_utc TEXT NOT NULL
        );
        CREATE UNIQUE INDEX accounts_name ON accounts(name COLLATE NOCASE);

        -- One account may own several domains; a domain belongs to one account.
        CREATE TABLE account_domains (
            domain TEXT PRIMARY KEY,                -- lower-case, no leading '@'
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE
        );
        CREATE INDEX account_domains_account ON account_domains(account_id);

        CREATE TABLE contacts (
            id INTEGER PRIMARY KEY,
            account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
            name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT '',
            phone TEXT NOT NULL DEFAULT '',
            opted_out INTEGER NOT NULL DEFAULT 0,
            created_utc TEXT NOT NULL,
            updated_utc TEXT NOT NULL
        );
        CREATE INDEX contacts_account ON contacts(account_id);

        -- Contacts are keyed by address: one address, one contact.
        CREATE TABLE contact_emails (
            email TEXT PRIMARY KEY,                 -- lower-case
            contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
            position INTEGER NOT NULL DEFAULT 0     -- 0 is the primary address
        );
        CREATE INDEX contact_emails_contact ON contact_emails(contact_id);

        CREATE TABLE deals (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            stage TEXT NOT NULL,
            value REAL NOT NULL DEFAULT 0,
            currency TEXT NOT NULL DEFAULT 'EUR',
            probability REAL,                       -- percent; NULL means the stage default
            expected_close TEXT,                    -- YYYY-MM-DD
            next_action TEXT NOT NULL DEFAULT '',
            next_action_due TEXT,                   -- YYYY-MM-DD
            created_utc TEXT NOT NULL,
            updated_utc TEXT NOT NULL,
            stage_changed_utc TEXT NOT NULL,
            last_activity_utc TEXT NOT NULL         -- drives the "rotting" flag
        );
        CREATE INDEX deals_account ON deals(account_id);
        CREATE INDEX deals_stage ON deals(stage);
        CREATE INDEX deals_due ON deals(next_action_due);

        CREATE TABLE activities (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            deal_id INTEGER REFERENCES deals(id) ON DELETE SET NULL,
            contact_id INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
            kind TEXT NOT NULL CHECK (kind IN ('note', 'call', 'meeting', 'objection',
                'stage_change', 'draft', 'sent', 'announcement')),
            date_utc TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL DEFAULT '',
            resolved INTEGER,                       -- objections only: 0 open, 1 resolved
            resolved_utc TEXT,
            from_stage TEXT,
            to_stage TEXT,
            message_id TEXT                         -- Message-ID of a draft or sent mail
        );
        CREATE INDEX activities_account ON activities(account_id, date_utc);
        CREATE INDEX activities_deal ON activities(deal_id);

        -- Per-folder sync state, committed with each batch (mbsync's journal, in SQL).
        CREATE TABLE folders (
            id INTEGER PRIMARY KEY,
            mailbox TEXT NOT NULL,
            name TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT '',          -- 'inbox' | 'sent' | 'drafts' | ''
            uidvalidity INTEGER,
            last_uid INTEGER NOT NULL DEFAULT 0,
            highestmodseq INTEGER,
            last_sync_utc TEXT,
            UNIQUE (mailbox, name)
        );

        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            uid INTEGER NOT NULL,
            message_id TEXT NOT NULL,               -- Message-ID without <>, made up when absent
            thread_id TEXT NOT NULL,                -- Message-ID of the thread's root
            in_reply_to TEXT NOT NULL DEFAULT '',
            refs TEXT NOT NULL DEFAULT '',          -- References, space-separated, without <>
            date_utc TEXT NOT NULL,
            from_name TEXT NOT NULL DEFAULT '',
            from_addr TEXT NOT NULL DEFAULT '',
            to_addrs TEXT NOT NULL DEFAULT '',      -- display form "Name <a@b>, ..."
            cc_addrs TEXT NOT NULL DEFAULT '',
            reply_to TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            snippet TEXT NOT NULL DEFAULT '',       -- first lines without quoted reply text
            body_text TEXT NOT NULL DEFAULT '',
            attachments TEXT NOT NULL DEFAULT '[]', -- JSON list of {name, type, size}
            size INTEGER NOT NULL DEFAULT 0,
            seen INTEGER NOT NULL DEFAULT 0,
            answered INTEGER NOT NULL DEFAULT 0,
            flagged INTEGER NOT NULL DEFAULT 0,
            draft INTEGER NOT NULL DEFAULT 0,
            flags_dirty INTEGER NOT NULL DEFAULT 0, -- changed here, written to IMAP next sync
            direction TEXT NOT NULL DEFAULT 'in' CHECK (direction IN ('in', 'out')),
            modseq INTEGER,
            UNIQUE (folder_id, uid)
        );
        CREATE INDEX messages_date ON messages(date_utc);
        CREATE INDEX messages_message_id ON messages(message_id);
        CREATE INDEX messages_thread ON messages(thread_id);

        -- Every address of a message, for matching and re-linking without reparsing.
        CREATE TABLE message_addresses (
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('from', 'to', 'cc', 'reply_to')),
            address TEXT NOT NULL,                  -- lower-case
            name TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (message_id, role, address)
        );
        CREATE INDEX message_addresses_address ON message_addresses(address);

        -- Which accounts a message belongs to, and the rule that said so (`rapport why`).
        CREATE TABLE message_accounts (
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            rule TEXT NOT NULL,                     -- 'contact' | 'domain' | 'override' | 'assigned'
            detail TEXT NOT NULL DEFAULT '',        -- the address or domain that matched
            PRIMARY KEY (message_id, account_id)
        );
        CREATE INDEX message_accounts_account ON message_accounts(account_id, message_id);

        -- Per-address corrections: always / never link this address to this account.
        CREATE TABLE address_overrides (
            address TEXT NOT NULL,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            mode TEXT NOT NULL CHECK (mode IN ('always', 'never')),
            PRIMARY KEY (address, account_id)
        );

        -- Manual assign/unassign, keyed by Message-ID so it survives a UIDVALIDITY refetch.
        CREATE TABLE message_assignments (
            message_id TEXT NOT NULL,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            mode TEXT NOT NULL CHECK (mode IN ('assign', 'unassign')),
            created_utc TEXT NOT NULL,
            PRIMARY KEY (message_id, account_id)
        );

        -- A thread pinned to a deal; later replies in the thread follow the pin.
        CREATE TABLE thread_pins (
            thread_id TEXT PRIMARY KEY,
            deal_id INTEGER NOT NULL REFERENCES deals(id) ON DELETE CASCADE,
            created_utc TEXT NOT NULL
        );
        """
    )
    db["messages"].enable_fts(
        ["subject", "body_text", "from_name", "from_addr", "to_addrs", "cc_addrs"],
        create_triggers=True,
        tokenize="unicode61 remove_diacritics 2",
    )
    db["activities"].enable_fts(
        ["subject", "body"], create_triggers=True, tokenize="unicode61 remove_diacritics 2"
    )
    _set_version(db, 1)


@migrations()
def m002_mail(db: Database) -> None:
    """Mail (shared by the IMAP sync and the parse/match helpers: append, never reorder).

    `my_addresses`: the user's own addresses as of the last sync, so re-matching after a contact
    or domain change (which has no config at hand) still ignores them.
    """
    db.executescript(
        """
        CREATE TABLE my_addresses (
            address TEXT PRIMARY KEY                -- lower-case
        );
        """
    )
    _set_version(db, 2)


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
    _set_version(db, 3)


@migrations()
def m004_messages_dirty_index(db: Database) -> None:
    """IMAP sync: flags changed in Rapport, found without reading every message row (each sync
    asks before its one-round-trip "nothing changed" answer; 25 ms per 20k without).

    This index was once added to the released m002 in place; files made by that m002 have it
    already, hence IF NOT EXISTS (same text, so both schemas read the same).
    """
    db.execute(
        "CREATE INDEX IF NOT EXISTS messages_dirty ON messages(folder_id, uid) WHERE flags_dirty = 1"
    )
    _set_version(db, max(4, schema_version(db)))


def _old_announcement_rows(db: Database) -> tuple[list, list, list]:
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
    _set_version(db, max(5, int(db.execute("PRAGMA user_version").fetchone()[0])))


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
    _set_version(db, 6)


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
    _set_version(db, 7)


# The tables that point at messages(id), rebuilt with it by m008.
_MESSAGE_CHILDREN = ("message_addresses", "message_accounts")


def _schema_sql(db: Database, kind: str, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, sql) of the tables, indexes or triggers of `tables`, SQLite's own indexes left out."""
    marks = ",".join("?" * len(tables))
    return [(name, sql) for name, sql in db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name IN ({marks})"
        " AND sql IS NOT NULL ORDER BY name", [kind, *tables])]


@migrations()
def m008_message_ids_never_reused(db: Database) -> None:
    """Mail: message ids are never reused (AUTOINCREMENT), so an id that `rapport search --json`
    printed names that message or none, never a newer one stored after it was expunged.

    SQLite cannot add AUTOINCREMENT in place: `messages` is rebuilt with its rows, ids, indexes
    and FTS triggers (the FTS index is keyed by those ids and stays valid). Foreign keys cannot be
    switched off inside the migration's transaction and dropping `messages` would cascade into
    the tables that point at it, so those are saved to temporary tables, dropped first and
    recreated from their own SQL afterwards.
    """
    family = ("messages", *_MESSAGE_CHILDREN)
    [(_name, table_sql)] = _schema_sql(db, "table", ("messages",))
    children = _schema_sql(db, "table", _MESSAGE_CHILDREN)
    indexes = _schema_sql(db, "index", family)
    triggers = _schema_sql(db, "trigger", family)
    columns = ", ".join(f'"{row[1]}"' for row in db.execute("PRAGMA table_info(messages)"))
    new_sql, found = re.subn(r"\bid INTEGER PRIMARY KEY\b(?! AUTOINCREMENT)",
                             "id INTEGER PRIMARY KEY AUTOINCREMENT", table_sql, count=1)
    if not found:
        raise RuntimeError("m008: messages.id is not the INTEGER PRIMARY KEY it expects")
    for child, _sql in children:
        db.execute(f"CREATE TEMP TABLE m008_{child} AS SELECT * FROM {child}")
        db.execute(f"DROP TABLE {child}")
    for name, _sql in triggers:
        db.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    for name, _sql in indexes:
        db.execute(f'DROP INDEX IF EXISTS "{name}"')
    db.execute("ALTER TABLE messages RENAME TO m008_messages_old")
    db.execute(new_sql)
    # No trigger exists yet: the FTS index is not written twice.
    db.execute(f"INSERT INTO messages ({columns}) SELECT {columns} FROM m008_messages_old")
    db.execute("DROP TABLE m008_messages_old")
    for child, sql in children:
        db.execute(sql)
        db.execute(f"INSERT INTO {child} SELECT * FROM temp.m008_{child}")
        db.execute(f"DROP TABLE temp.m008_{child}")
    for _name, sql in indexes + triggers:
        db.execute(sql)
    broken = db.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"m008: foreign keys broken by the rebuild: {broken[:3]}")
    _set_version(db, 8)


def apply_migrations(db: Database) -> None:
    """Bring `db` up to the newest schema; each migration commits on its own."""
    migrations.apply(db)


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])
