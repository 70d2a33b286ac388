"""The TUI and issue 17: bounced / opted-out marks beside contacts, B clears a bounce, and
unsubscribe requests in Today until `a` acknowledges them (driven through Textual's Pilot)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from rapport.store.book import accounts, contacts
from rapport.store.mailstore.bounces import BounceNotice, record_bounces, record_optout_request
from rapport.store.session import open_workspace
from rapport.tui.app.application import RapportApp
from rapport.tui.app.screens.today import TodayScreen
from tests.tui_workspace import TODAY, build_template, copy_home


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("tui-reach"))


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    return copy_home(template, tmp_path)


def _prepare(home: Path) -> tuple[int, contacts.Contact, contacts.Contact]:
    """An account with one bounced contact and one who asked to stop (plus a stranger's request)."""
    opened = open_workspace(home)
    db = opened.db
    account = next(a for a in accounts.list_accounts(db)
                   if len([c for c in contacts.list_contacts(db, a.id) if c.emails]) >= 2)
    dead, leaving = [c for c in contacts.list_contacts(db, account.id) if c.emails][:2]
    with db.atomic():
        record_bounces(db, "dsn-1@mx.example", "2026-11-10T09:00:00Z",
                       [BounceNotice(dead.email, True, "5.1.1", "user unknown")])
        record_optout_request(db, leaving.email, "stop-1@example", "Re: Winter offer",
                              "2026-11-12T09:00:00Z")
        record_optout_request(db, "stranger@else.example", "stop-2@example", "unsubscribe",
                              "2026-11-13T09:00:00Z")
    opened.close()
    return account.id, dead, leaving


def _drive(home: Path, body: Any) -> None:
    async def run() -> None:
        app = RapportApp(str(home), today=TODAY, sync_on_start=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            await body(app, pilot)

    asyncio.run(run())


def test_marks_beside_contacts_and_b_clears_the_bounce(home: Path) -> None:
    account_id, dead, leaving = _prepare(home)

    async def body(app: RapportApp, pilot: Any) -> None:
        app.open_account(account_id)
        await pilot.pause()
        shown = str(app.screen.query_one("#account-contacts").render())
        assert f"<{dead.email}> ✗bounced" in shown or f"({dead.role}) ✗bounced" in shown
        assert "✗opted out" in shown
        await pilot.press("B")  # the only bounced contact: cleared at once
        await pilot.pause()
        after = contacts.find_contact_by_email(app.opened.db, dead.email)
        assert after is not None and after.bounced_utc is None
        assert "✗bounced" not in str(app.screen.query_one("#account-contacts").render())
        await pilot.press("B")  # nothing left to clear: a warning, nothing else
        await pilot.pause()
        assert "✗opted out" in str(app.screen.query_one("#account-contacts").render())

    _drive(home, body)


def test_unsubscribe_requests_wait_in_today_until_acknowledged(home: Path) -> None:
    _account_id, _dead, leaving = _prepare(home)

    async def body(app: RapportApp, pilot: Any) -> None:
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TodayScreen)
        today = app.screen.query_one("#today")
        rows = [today.row(i) for i in range(today.row_count)]
        optouts = [r for r in rows if r.section == "opt-out"]
        assert [r.account_id != 0 for r in optouts] == [True, False]
        assert leaving.email in optouts[0].text and optouts[1].account_name == "(not in the book)"
        assert "2 opt-outs" in str(app.screen.query_one("#today-title").render())
        today.cursor = rows.index(optouts[1])
        await pilot.press("enter")  # no account to open, its mail not stored: stays on Today
        await pilot.pause()
        assert isinstance(app.screen, TodayScreen)
        await pilot.press("a")
        await pilot.pause()
        today = app.screen.query_one("#today")
        left = [today.row(i) for i in range(today.row_count) if today.row(i).section == "opt-out"]
        assert [r.text for r in left] == [optouts[0].text]
        today.cursor = next(i for i in range(today.row_count) if today.row(i).section == "due")
        await pilot.press("a")  # not an opt-out line: a warning, nothing acknowledged
        await pilot.pause()
        assert "1 opt-out " in str(app.screen.query_one("#today-title").render()) + " "
        contact = contacts.find_contact_by_email(app.opened.db, leaving.email)
        assert contact is not None and contact.opted_out  # acknowledging never undoes it

    _drive(home, body)
