"""One message however many folders hold it (issue 11), at the store level: the m010 upgrade
of a workspace that stored copies twice, and the flags and removal rules of store/mailstore."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from rapport.store.db import open_database
from rapport.store.mailstore import messages as store
from rapport.store.mailstore.messages import NewMessage
from rapport.store.migrations import migrations

MINE = frozenset({"me@rapport.example"})


def _old_row(db: Database, folder_id: int, uid: int, message_id: str, subject: str,
             seen: int) -> None:
    db.execute(
        "INSERT INTO messages (folder_id, uid, message_id, thread_id, date_utc, from_addr,"
        " subject, seen) VALUES (?, ?, ?, ?, '2026-11-02T10:00:00Z', 'alice@acme.example', ?, ?)",
        [folder_id, uid, message_id, message_id, subject, seen])


def test_m010_merges_copies_stored_twice_and_keeps_different_messages_apart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m010_message_copies")
    db.execute("INSERT INTO folders (id, mailbox, name, role) VALUES (1, 'gm', 'INBOX', 'inbox'),"
               " (2, 'gm', '[Gmail]/All Mail', '')")
    _old_row(db, 1, 10, "a@x", "Offer", seen=0)
    _old_row(db, 2, 20, "a@x", "Offer", seen=1)  # the same message, read in All Mail
    _old_row(db, 2, 21, "a@x", "Invoice", seen=0)  # a different message, same Message-ID
    first = db.execute("SELECT id FROM messages WHERE uid = 10").fetchone()[0]
    db.conn.commit()
    db.close()

    db = open_database(path)
    try:
        rows = db.execute("SELECT id, subject, seen FROM messages ORDER BY id").fetchall()
        assert [(r[1], r[2]) for r in rows] == [("Offer", 1), ("Invoice", 0)]
        assert rows[0][0] == first  # the oldest row keeps its id
        assert store.local_uids(db, 1) == {10} and store.local_uids(db, 2) == {20, 21}
        assert store.known_count(db, 2) == 2
    finally:
        db.close()


def _message(uid: int, *, seen: bool = False, subject: str = "Offer") -> NewMessage:
    return NewMessage(uid=uid, message_id="offer@acme.example", date_utc="2026-11-02T10:00:00Z",
                      from_addr="alice@acme.example", subject=subject, seen=seen)


def _save(db: Database, folder_id: int, *messages: NewMessage) -> None:
    store.save_batch(db, folder_id, list(messages), last_uid=max(m.uid for m in messages),
                     uidvalidity=1, highestmodseq=None, my_addresses=MINE)


def test_flags_are_one_and_a_message_leaves_with_its_last_copy(tmp_path: Path) -> None:
    db = open_database(tmp_path / "r.db")
    try:
        inbox = store.get_or_create_folder(db, "gm", "INBOX", "inbox").id
        everything = store.get_or_create_folder(db, "gm", "All", "all").id
        _save(db, inbox, _message(5))
        _save(db, everything, _message(9))
        [(row_id, seen)] = db.execute("SELECT id, seen FROM messages").fetchall()
        assert seen == 0

        # Read on one copy: read. The other copy, unchanged, does not undo it.
        assert store.apply_flag_changes(db, inbox, {5: (True, False, False, False)},
                                        highestmodseq=None) == 1
        assert store.apply_flag_changes(db, everything, {9: (False, False, False, False)},
                                        highestmodseq=None) == 0
        assert store.get_message(db, row_id).seen

        # Flagged in Rapport: written to every copy, clean once every copy has it.
        store.set_flags(db, row_id, flagged=True)
        assert store.dirty_flags(db, inbox) == {5: (True, False, True, False)}
        assert store.dirty_flags(db, everything) == {9: (True, False, True, False)}
        store.clear_dirty(db, inbox, {5: (True, False, True, False)})
        assert store.get_message(db, row_id).flags_dirty
        store.clear_dirty(db, everything, {9: (True, False, False, False)})  # stale push
        assert store.dirty_flags(db, everything)  # the message changed since: still to write
        store.clear_dirty(db, everything, [9])
        assert not store.get_message(db, row_id).flags_dirty

        # Out of INBOX (archived): the message stays, its home moves to the other copy.
        assert store.remove_uids(db, inbox, [5]) == 1
        kept = store.get_message(db, row_id)
        assert (kept.folder, kept.uid) == ("All", 9)
        # Out of the last folder: gone.
        store.remove_uids(db, everything, [9])
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    finally:
        db.close()


def test_mail_without_a_message_id_is_told_apart_by_its_size_too(tmp_path: Path) -> None:
    """Its Message-ID is made up from its few headers: two header-alike messages with
    different contents stay two; the same one in two folders is one."""
    db = open_database(tmp_path / "r.db")
    try:
        inbox = store.get_or_create_folder(db, "m", "INBOX", "inbox").id
        archive = store.get_or_create_folder(db, "m", "Archive").id
        made_up = "0123abcd@rapport.invalid"
        alike = [NewMessage(uid=uid, message_id=made_up, size=size) for uid, size in
                 ((1, 100), (2, 250))]
        _save(db, inbox, *alike)
        _save(db, archive, NewMessage(uid=7, message_id=made_up, size=250))
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
        assert store.known_count(db, archive) == 1
    finally:
        db.close()
