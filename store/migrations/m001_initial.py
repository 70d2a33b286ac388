"""Provides migration m001: the account book, the pipeline, activities, synced mail and its matching."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, set_version


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
    db.table("messages").enable_fts(
        ["subject", "body_text", "from_name", "from_addr", "to_addrs", "cc_addrs"],
        create_triggers=True,
        tokenize="unicode61 remove_diacritics 2",
    )
    db.table("activities").enable_fts(
        ["subject", "body"], create_triggers=True, tokenize="unicode61 remove_diacritics 2"
    )
    set_version(db, 1)
