"""LazyDatabase (store/lazydb.py): what it answers on its plain connection means what sqlite-utils'
Database (as RapportDatabase) means; anything else is answered by a real one on the same
connection, loaded then and only then."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rapport.store.book import accounts
from rapport.store.lazydb import LazyDatabase, open_lazily
from rapport.store.mailstore import messages as store
from rapport.store.session import open_for_sync, open_workspace


@pytest.fixture
def lazy(tmp_path: Path) -> LazyDatabase:
    home = tmp_path / "ws"
    open_workspace(home).close()
    db = open_lazily(home / "rapport.db", 1000)
    assert db is not None
    return db


def other(db: LazyDatabase) -> sqlite3.Connection:
    """A second connection to the same file: it sees only what is committed."""
    return sqlite3.connect(db.conn.execute("PRAGMA database_list").fetchone()[2])


def test_a_write_outside_a_transaction_is_committed_at_once(lazy: LazyDatabase) -> None:
    lazy.execute("INSERT INTO my_addresses (address) VALUES (?)", ["me@x.example"])
    assert not lazy.conn.in_transaction
    assert other(lazy).execute("SELECT address FROM my_addresses").fetchall() == [("me@x.example",)]
    assert lazy._full is None  # answered without sqlite-utils


def test_a_failed_write_leaves_no_transaction_open(lazy: LazyDatabase) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        lazy.execute("INSERT INTO folders (mailbox, name) VALUES (NULL, NULL)")
    assert not lazy.conn.in_transaction


def test_atomic_commits_or_rolls_back_the_whole_block(lazy: LazyDatabase) -> None:
    with lazy.atomic():
        lazy.execute("INSERT INTO my_addresses (address) VALUES ('a@x.example')")
        lazy.execute("INSERT INTO my_addresses (address) VALUES ('b@x.example')")
        assert other(lazy).execute("SELECT count(*) FROM my_addresses").fetchone() == (0,)
    with pytest.raises(RuntimeError), lazy.atomic():
        lazy.execute("INSERT INTO my_addresses (address) VALUES ('c@x.example')")
        raise RuntimeError("boom")
    assert [r["address"] for r in lazy.query("SELECT address FROM my_addresses ORDER BY address")] == [
        "a@x.example", "b@x.example"]
    assert lazy._full is None


def test_a_nested_block_is_a_savepoint_of_sqlite_utils(lazy: LazyDatabase) -> None:
    with lazy.atomic():
        lazy.execute("INSERT INTO my_addresses (address) VALUES ('a@x.example')")
        with pytest.raises(RuntimeError), lazy.atomic():
            lazy.execute("INSERT INTO my_addresses (address) VALUES ('b@x.example')")
            raise RuntimeError("inner")
    assert lazy._full is not None
    assert [r["address"] for r in lazy.query("SELECT address FROM my_addresses")] == ["a@x.example"]


def test_the_rest_is_sqlite_utils_on_the_same_connection(lazy: LazyDatabase) -> None:
    lazy.conn.execute("BEGIN")
    lazy.execute("INSERT INTO my_addresses (address) VALUES ('a@x.example')")
    assert lazy["my_addresses"].count == 1  # sees the open transaction: the same connection
    assert "accounts" in lazy.table_names()
    lazy.conn.execute("COMMIT")
    with pytest.raises(ValueError, match="returns rows"):  # sqlite-utils' guard, for a non-SELECT
        list(lazy.query("DELETE FROM my_addresses"))
    assert lazy.execute("SELECT count(*) FROM my_addresses").fetchone() == (1,)


def test_the_store_writes_through_it(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    open_workspace(home).close()
    opened = open_for_sync(home)
    try:
        assert isinstance(opened.db, LazyDatabase)
        folder = store.get_or_create_folder(opened.db, "work", "INBOX", "inbox")
        store.mark_folder_synced(opened.db, folder.id)
        assert opened.db._full is None  # the no-change sync's writes
        accounts.create_account(opened.db, "Acme", domains=["acme.example"])
    finally:
        opened.close()
    check = open_workspace(home)
    try:
        assert [a.name for a in accounts.list_accounts(check.db)] == ["Acme"]
        assert store.get_folder(check.db, folder.id).last_sync_utc
    finally:
        check.close()


def test_a_database_to_set_up_is_opened_the_full_way(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    open_workspace(home).close()
    (home / "rapport.db").unlink()
    assert open_lazily(home / "rapport.db", 1000) is None
    opened = open_for_sync(home)
    try:
        assert not isinstance(opened.db, LazyDatabase)
        assert "folders" in opened.db.table_names()
    finally:
        opened.close()
