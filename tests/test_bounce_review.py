"""Bounces of an address not in the book wait in Today for review (issue 17): in the store
through save_batch as a sync writes them, the migration that adds the review, and end to end:
a real Postfix bounce of a one-off address synced from a real Dovecot, reviewed in the TUI."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from dovecot_server import DovecotUser
from postfix_server import DEAD_DOMAIN, MANAGER, PostfixServer, postfix  # noqa: F401
from test_bounces_store import _bounce, _mail, _save

from rapport.store.book import accounts, contacts
from rapport.store.errors import NotFoundError
from rapport.store.mailstore import bounces, lookup, why
from rapport.store.session import OpenWorkspace, open_workspace
from rapport.store.views import today as today_view
from rapport.tui.app.application import RapportApp
from rapport.tui.app.screens.reader import ReaderScreen
from rapport.tui.app.screens.today import TodayScreen
from tests.tui_workspace import TODAY

STRANGER = "zoe@else.example"


@pytest.fixture
def book(ws: OpenWorkspace) -> OpenWorkspace:
    acme = accounts.create_account(ws.db, "Acme", domains=["acme.example"])
    contacts.create_contact(ws.db, account_id=acme.id, name="Anna Berg",
                            emails=["anna@acme.example"])
    return ws


def _review(ws: OpenWorkspace) -> list[tuple[str, int, bool, str]]:
    return [(r.address, r.count, r.permanent, r.reason) for r in bounces.bounces_to_review(ws.db)]


def test_a_permanent_bounce_of_an_unknown_address_waits_for_review(book: OpenWorkspace) -> None:
    _save(book, _bounce(1, "2026-11-02", STRANGER, True, "5.1.1"),
          _bounce(2, "2026-11-02", "anna@acme.example", True, "5.1.1"))
    # Anna's is settled by her mark; Zoe's failed delivery would show nowhere else.
    assert _review(book) == [(STRANGER, 1, True, "5.1.1 unknown user")]
    [line] = [i for i in today_view.today_items(book.db, TODAY, 30) if i.section == "bounce"]
    assert (line.account_id, line.bounce_address, line.day) == (0, STRANGER, "2026-11-02")
    assert line.text == f"{STRANGER} bounced: 5.1.1 unknown user"
    assert line.account_name == "(not in the book)"
    assert line.message_id == lookup.find_message(book.db, "dsn-1@mx.example").id

    bounces.acknowledge_bounces(book.db, STRANGER.upper())
    assert _review(book) == []
    with pytest.raises(NotFoundError, match="no bounce of 'zoe@else.example' waits"):
        bounces.acknowledge_bounces(book.db, STRANGER)
    # A later bounce of the same address comes back; the bounce mail itself stays stored.
    _save(book, _bounce(3, "2026-11-09", STRANGER, True, "5.1.1"))
    assert _review(book) == [(STRANGER, 1, True, "5.1.1 unknown user")]


def test_temporary_failures_of_an_unknown_address_wait_until_the_third(
        book: OpenWorkspace) -> None:
    """What would mark a contact puts it up for review: not every delay warning."""
    _save(book, _bounce(1, "2026-10-01", STRANGER, False, "4.4.1"))
    _save(book, _bounce(2, "2026-11-02", STRANGER, False, "4.4.1"))
    _save(book, _bounce(3, "2026-11-03", STRANGER, False, "4.4.1"))
    assert _review(book) == []  # the first is older than 30 days: two in the window
    _save(book, _bounce(4, "2026-11-04", STRANGER, False, "4.4.1"))
    assert _review(book) == [(STRANGER, 4, False, "4.4.1 unknown user")]
    [line] = [i for i in today_view.today_items(book.db, TODAY, 30) if i.section == "bounce"]
    assert line.text == f"{STRANGER} delayed 4 times: 4.4.1 unknown user"


def test_an_address_added_to_the_book_leaves_the_review(book: OpenWorkspace) -> None:
    _save(book, _bounce(1, "2026-11-02", STRANGER, True, "5.1.1"))
    acme = accounts.find_account(book.db, "Acme")
    assert acme is not None
    contacts.create_contact(book.db, account_id=acme.id, name="Zoe", emails=[STRANGER])
    assert _review(book) == []


def test_the_migration_puts_bounces_already_stored_up_for_review(home: Path) -> None:
    """A workspace from before m013b: its known addresses' bounces are settled, the others
    (never shown before) wait for review."""
    opened = open_workspace(home)
    acme = accounts.create_account(opened.db, "Acme")
    contacts.create_contact(opened.db, account_id=acme.id, name="Anna",
                            emails=["anna@acme.example"])
    opened.db.execute("ALTER TABLE bounces DROP COLUMN reviewed_utc")
    opened.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm013b_bounce_review'")
    for n, address in enumerate(("anna@acme.example", STRANGER)):
        opened.db.execute("INSERT INTO bounces (address, report_id, permanent, status,"
                          " diagnostic, date_utc) VALUES (?, ?, 1, '5.1.1', 'gone', ?)",
                          [address, f"dsn-{n}@mx.example", "2026-11-02T10:00:00Z"])
    opened.db.conn.commit()
    opened.close()

    opened = open_workspace(home)
    try:
        assert _review(opened) == [(STRANGER, 1, True, "5.1.1 gone")]
    finally:
        opened.close()


def test_an_unsubscribe_request_from_an_unknown_address_opens_the_request(
        book: OpenWorkspace, home: Path) -> None:
    """Like a bounce line, it has no account to open: enter shows the request itself."""
    rules = bounces.UnsubscribeRules(address="stop@rapport.example", address_needs_word=False)
    _save(book, _mail(1, "2026-11-05", STRANGER, "take me off", "", to="stop@rapport.example"),
          rules=rules)
    [line] = [i for i in today_view.today_items(book.db, TODAY, 30) if i.section == "opt-out"]
    assert (line.account_id, line.account_name) == (0, "(not in the book)")
    assert line.text == f"{STRANGER} asked to unsubscribe: take me off"
    assert line.message_id == lookup.find_message(book.db, "mail-1@example").id
    book.db.conn.commit()

    async def run() -> None:
        app = RapportApp(str(home), today=TODAY, sync_on_start=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("t")
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, ReaderScreen)
            assert app.screen.message.subject == "take me off"
            await pilot.press("escape", "a")
            await pilot.pause()
            assert bounces.pending_optouts(app.opened.db) == []

    asyncio.run(run())



def test_status_counts_what_waits_for_review_without_loading_sqlite_utils(
        book: OpenWorkspace, home: Path) -> None:
    """`rapport status` (text and --json) says how many unsubscribe requests and bounces wait
    in Today, read through the plain-SQLite reader as the rest of status is."""
    from test_cli_read_only import loaded_by

    rules = bounces.UnsubscribeRules(address="stop@rapport.example", address_needs_word=False)
    _save(book, _bounce(1, "2026-11-02", STRANGER, True, "5.1.1"),
          _bounce(2, "2026-11-02", "anna@acme.example", True, "5.1.1"),  # settled by her mark
          _bounce(3, "2026-11-03", "temp@else.example", False, "4.4.1"),  # one delay: not yet
          _mail(4, "2026-11-05", "anna@acme.example", "stop", "", to="stop@rapport.example"),
          _mail(5, "2026-11-05", "max@else.example", "stop", "", to="stop@rapport.example"),
          rules=rules)
    book.db.conn.commit()
    out, loaded = loaded_by(home, "status", "--json")
    assert loaded == []
    assert json.loads(out)["to_review"] == {"unsubscribe_requests": 2, "bounces": 1}
    text, loaded = loaded_by(home, "status")
    assert loaded == []
    assert "To review 2 unsubscribe requests, 1 bounce (press t in Rapport for Today)" in text

    bounces.acknowledge_bounces(book.db, STRANGER)
    for request in bounces.pending_optouts(book.db):
        bounces.acknowledge_optout(book.db, request.id)
    out, _loaded = loaded_by(home, "status", "--json")
    assert json.loads(out)["to_review"] == {"unsubscribe_requests": 0, "bounces": 0}
    assert "To review" not in loaded_by(home, "status")[0]  # nothing waits: no line


# -- end to end ---------------------------------------------------------------------------------

def _one_to_one(recipient: str) -> bytes:
    return (f"From: Manager <{MANAGER}>\r\nTo: <{recipient}>\r\nSubject: Our call\r\n"
            f"Date: {format_datetime(datetime.now(UTC))}\r\nMessage-ID: {make_msgid()}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Thanks for the call.\r\n").encode()


def test_a_real_bounce_of_an_address_not_in_the_book_is_reviewed_in_today(
        tmp_path: Path, imap_user: DovecotUser, postfix: PostfixServer) -> None:  # noqa: F811
    home = tmp_path / "ws"
    home.mkdir()
    box = imap_user.mailbox_config("work", folders=["INBOX"])
    (home / "config.toml").write_text(
        f'[me]\nname = "Manager"\nemail = "{MANAGER}"\n[[mailbox]]\n'
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in box.items()))
    gone = f"nobody-here@{DEAD_DOMAIN}"  # a one-off address, no contact's
    imap_user.append([postfix.bounce_for(_one_to_one(gone), gone)])

    async def run() -> None:
        app = RapportApp(str(home), today=TODAY, sync_on_start=True, sync_interval=0)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(600):  # up to 30 s: a first IMAP sync on a loaded machine
                await pilot.pause(0.05)
                if app.sync_status.startswith(("synced", "sync failed")):
                    break
            assert app.sync_status.startswith("synced"), app.sync_status
            await pilot.press("t")
            await pilot.pause()
            assert isinstance(app.screen, TodayScreen)
            today = app.screen.query_one("#today")
            assert "1 bounce ·" in str(app.screen.query_one("#today-title").render())
            line = today.current_row
            assert (line.section, line.bounce_address) == ("bounce", gone)
            assert line.text == f'{gone} bounced: 5.1.1 unknown user: "nobody-here"'
            await pilot.press("enter")  # the bounce itself, to see what failed
            await pilot.pause()
            assert isinstance(app.screen, ReaderScreen)
            assert app.screen.message.subject.startswith("Undelivered Mail")
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("a")
            await pilot.pause()
            assert [i.section for i in today_view.today_items(app.opened.db, TODAY, 30)
                    if i.section in ("bounce", "opt-out")] == []
            assert "bounce" not in str(app.screen.query_one("#today-title").render())

    asyncio.run(run())
    opened = open_workspace(home)
    try:
        assert bounces.bounces_to_review(opened.db) == []
        [stored] = lookup.list_messages(opened.db)
        assert [r for r in why.explain(opened.db, stored.id) if r.linked] == []
    finally:
        opened.close()
