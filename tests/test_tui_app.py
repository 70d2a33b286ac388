"""Pilot tests of the TUI on a demo workspace: every binding of every screen, hostile text, sizes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.notifications import Notify

from rapport.store.book import accounts, activities, contacts, deals
from rapport.store.mailstore.messages import get_message
from rapport.store.session import open_workspace
from rapport.store.views import queries
from rapport.store.views import today as today_view
from rapport.tui.app.application import RapportApp
from rapport.tui.app.screens.account import AccountScreen
from rapport.tui.app.screens.help import HelpScreen
from rapport.tui.app.screens.main import MainScreen
from rapport.tui.app.screens.pick import PickScreen
from rapport.tui.app.screens.prompt import PromptScreen
from rapport.tui.app.screens.reader import ReaderScreen, render_message
from rapport.tui.app.screens.today import TodayScreen
from rapport.tui.app.widgets.inbox_list import render_inbox_row
from tests.tui_workspace import TODAY, build_template, copy_home

HOSTILE = "[bold]Evil[/bold] [@click=app.quit]x\x1b]0;pwned\x07"
# Written straight into the store (no ingest stripping): an OSC title, a CSI colour, markup.
HOSTILE_DB = "[bold]Evil[/bold] [@click=app.quit]x\x1b]0;pwned\x07\x1b[31mRED"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("tui"))


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    return copy_home(template, tmp_path)


Body = Callable[[RapportApp, Any], Awaitable[None]]


def _table_rows(table: Any) -> list[list[Text]]:
    """A rich Table's cells, row by row."""
    columns = [list(column.cells) for column in table.columns]
    return [[Text.from_markup(c) if isinstance(c, str) else c for c in row] for row in zip(*columns, strict=True)]


def drive(home: Path, body: Body, size: tuple[int, int] = (160, 48), seen: list | None = None) -> None:
    async def run() -> None:
        app = RapportApp(str(home), today=TODAY, sync_on_start=False)
        hook = seen.append if seen is not None else None
        async with app.run_test(size=size, message_hook=hook) as pilot:
            await pilot.pause()
            await body(app, pilot)

    asyncio.run(run())


async def to_first_deal(app: RapportApp, pilot: Any) -> Any:
    """Put the pipeline cursor on the first deal row and return that row."""
    pipeline = app.screen.query_one("#pipeline")
    while pipeline.current_row.deal is None:
        await pilot.press("j")
    return pipeline.current_row


async def type_answer(pilot: Any, text: str) -> None:
    await pilot.pause()
    box = pilot.app.screen.query_one("#prompt-input")
    box.value = text
    await pilot.press("enter")
    await pilot.pause()


def test_main_screen_deal_keys(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        assert isinstance(app.screen, MainScreen)
        row = await to_first_deal(app, pilot)
        deal = row.deal
        pipeline = app.opened.config.pipeline
        await pilot.press("greater_than_sign")
        await pilot.pause()
        moved = deals.get_deal(app.opened.db, deal.id)
        assert moved.stage == pipeline.next_stage(deal.stage).name
        kinds = [a.kind for a in activities.list_activities(app.opened.db, deal.account_id)]
        assert "stage_change" in kinds
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert deals.get_deal(app.opened.db, deal.id).stage == deal.stage

        # d: next action, then a due date; a bad date is refused in place, not a crash.
        await pilot.press("d")
        await type_answer(pilot, "Call back about pricing")
        await type_answer(pilot, "someday")
        assert isinstance(app.screen, PromptScreen)
        assert "not a date" in str(app.screen.query_one("#prompt-error").render())
        await type_answer(pilot, "next fri")
        assert not isinstance(app.screen, PromptScreen)
        updated = deals.get_deal(app.opened.db, deal.id)
        assert updated.next_action == "Call back about pricing"
        assert updated.next_action_due.isoformat() == "2026-11-20"  # next fri: the coming Friday

        # E: the quick edit, value; probability; expected close (e opens the deal's form).
        await pilot.press("E")
        await type_answer(pilot, "nonsense")
        assert isinstance(app.screen, PromptScreen)
        await type_answer(pilot, "12500; 40; 3 dec")
        edited = deals.get_deal(app.opened.db, deal.id)
        assert (edited.value, edited.probability, edited.expected_close.isoformat()) == (12500, 40, "2026-12-03")
        await pilot.press("E")
        await type_answer(pilot, " ; ; ")  # blank value keeps it; blank probability: the stage default
        blanked = deals.get_deal(app.opened.db, deal.id)
        assert (blanked.value, blanked.probability, blanked.expected_close) == (12500, None, None)

        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen) and app.screen.account_id == deal.account_id

    drive(home, body)


async def settle(pilot: Any) -> None:
    """Let prompts close and thread workers (store changes, sync) finish, then repaint."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def pick_account(pilot: Any, text: str) -> list[str]:
    """Type into the open AccountPicker; returns the candidates it lists (enter is left to the caller)."""
    await pilot.pause()
    picker = pilot.app.screen
    picker.query_one("#picker-input").value = text
    await pilot.pause()
    return picker.candidates


def _linked(db: Any, message_id: int) -> set[str]:
    return {link[1] for link in get_message(db, message_id).accounts}


def test_inbox_keys(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        inbox = app.screen.query_one("#inbox")
        pipeline = app.screen.query_one("#pipeline")
        total = inbox.row_count
        assert total == queries.inbox_count(db) > 0
        await pilot.press("tab")
        assert app.focused is inbox
        await pilot.press("shift+tab")
        assert app.focused is pipeline
        await pilot.press("tab", "j", "j", "k")
        assert inbox.cursor == 1
        # Arrows and pages move the cursor the same way; the cursor row stays on screen.
        await pilot.press("down", "down", "up")
        assert inbox.cursor == 2
        page = inbox.scrollable_content_region.height - 1  # a page keeps one line of context
        await pilot.press("pagedown")
        assert inbox.cursor == 2 + page
        assert inbox.scroll_offset.y <= inbox.cursor < inbox.scroll_offset.y + inbox.size.height
        await pilot.press("pageup", "home")
        assert (inbox.cursor, inbox.scroll_offset.y) == (0, 0)
        await pilot.press("end")
        assert inbox.cursor == total - 1
        await pilot.press("home", "j")
        row = inbox.current_row
        await pilot.press("space")
        await pilot.pause()
        assert get_message(db, row.id).seen is (not row.seen)
        assert get_message(db, row.id).flags_dirty

        await pilot.press("u")
        await pilot.pause()
        assert inbox.row_count == queries.inbox_count(db, queries.InboxFilter(unassigned=True)) < total
        unassigned = inbox.current_row
        # a: the picker refuses what matches nothing, lists candidates, assigns the highlighted one.
        await pilot.press("a")
        assert await pick_account(pilot, "no such account at all") == []
        await pilot.press("enter")
        await pilot.pause()
        assert "no account matches" in str(app.screen.query_one("#picker-error").render())
        first, second = [a.name for a in accounts.list_accounts(db)[:2]]
        candidates = await pick_account(pilot, first)
        assert candidates and candidates[0].startswith(first)
        await pilot.press("enter")
        await settle(pilot)
        assert _linked(db, unassigned.id) == {first}
        assert inbox.row_count == queries.inbox_count(db, queries.InboxFilter(unassigned=True))
        # M moves it (off the first account), A unassigns it again.
        await pilot.press("u")
        await pilot.pause()
        inbox.cursor = next(i for i in range(inbox.row_count) if inbox.row(i).id == unassigned.id)
        await pilot.press("M")
        await pick_account(pilot, second)
        await pilot.press("enter")
        await settle(pilot)
        assert _linked(db, unassigned.id) == {second}
        assert inbox.current_row.id == unassigned.id  # the cursor stays on the message
        await pilot.press("A")
        await settle(pilot)
        assert _linked(db, unassigned.id) == set()

        # f: only this message's account, named in the status line; f again shows everything.
        inbox.cursor = next(i for i in range(inbox.row_count) if inbox.row(i).accounts)
        account_id = app.actions.account_ids(inbox.current_row.id)[0]
        await pilot.press("f")
        await pilot.pause()
        assert app.screen.filter.account_id == account_id
        assert inbox.row_count == queries.inbox_count(db, queries.InboxFilter(account_id=account_id)) < total
        status = app.screen.query_one("#inbox")._border_title.plain  # what is drawn, unescaped
        assert f"account {accounts.get_account(db, account_id).name}" in status and "#" not in status
        await pilot.press("f", "U")
        await pilot.pause()
        assert inbox.row_count == queries.inbox_count(db, queries.InboxFilter(unread=True)) < total
        await pilot.press("U")
        await pilot.pause()
        assert inbox.row_count == total

        await pilot.press("slash")
        await pilot.press(*"zzzznothing", "enter")
        await pilot.pause()
        assert inbox.row_count == 0
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.filter.text == "" and inbox.row_count == total

        await pilot.press("home", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen)
        await pilot.press("h", "z", "j", "k")
        assert app.screen.headers and app.screen.unfold
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)

    drive(home, body)


def test_create_account_from_sender_refuses_freemail(home: Path) -> None:
    seen: list = []

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        inbox = app.screen.query_one("#inbox")
        await pilot.press("tab", "u")
        await pilot.pause()
        rows = [inbox.row(i) for i in range(inbox.row_count)]
        free = next(r for r in rows if r.from_addr.endswith(("@gmail.com", "@hotmail.com", "@yahoo.com", "@gmx.de",
                                                            "@outlook.com")))
        before = len(accounts.list_accounts(db))
        inbox.cursor = rows.index(free)
        await pilot.press("c")
        await settle(pilot)
        assert not isinstance(app.screen, PromptScreen) and len(accounts.list_accounts(db)) == before
        assert any("freemail" in n for n in _notes(seen))
        company = next(r for r in rows if not app.actions.sender_domain(r.from_addr)[1])
        domain = company.from_addr.rpartition("@")[2]
        inbox.cursor = rows.index(company)
        await pilot.press("c")
        await type_answer(pilot, "Brand New Customer")
        await settle(pilot)
        created = accounts.find_account(db, "Brand New Customer")
        assert created is not None and created.domains == (domain,)
        assert "Brand New Customer" in _linked(db, company.id)
        assert any("created account Brand New Customer" in n for n in _notes(seen))
        # A sender whose account exists already: refused before the name is asked, nothing created.
        await pilot.press("u")
        await pilot.pause()
        known = next(inbox.row(i) for i in range(inbox.row_count) if inbox.row(i).accounts)
        inbox.cursor = next(i for i in range(inbox.row_count) if inbox.row(i).id == known.id)
        count = len(accounts.list_accounts(db))
        await pilot.press("c")
        await settle(pilot)
        assert not isinstance(app.screen, PromptScreen) and len(accounts.list_accounts(db)) == count
        assert any(f"{known.from_addr} already belongs to account" in n for n in _notes(seen)), _notes(seen)

    drive(home, body, seen=seen)


def test_account_screen_keys(home: Path) -> None:
    seen: list = []

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        account_id = next(iter(db.execute(
            "SELECT account_id FROM message_accounts GROUP BY account_id ORDER BY count(*) DESC LIMIT 1")))[0]
        name = accounts.get_account(db, account_id).name
        app.open_account(account_id)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AccountScreen)
        for key, kind in (("n", "note"), ("c", "call"), ("m", "meeting"), ("o", "objection"), ("C", "complaint")):
            await pilot.press(key)
            await pilot.pause()
            if isinstance(app.screen, PickScreen):  # several deals: which one (tested on its own below)
                await pilot.press("enter")
            await type_answer(pilot, f"the {kind}")
            assert any(a.kind == kind and a.body == f"the {kind}" for a in activities.list_activities(db, account_id))
        timeline = screen.query_one("#timeline")
        for kind in ("objection", "complaint"):
            timeline.cursor = next(i for i in range(timeline.row_count)
                                   if timeline.row(i).kind == kind and not timeline.row(i).resolved)
            await pilot.press("x")
            await pilot.pause()
            assert isinstance(app.screen, PickScreen)  # asked first; enter on the default keeps it open
            await pilot.press("enter")
            await pilot.pause()
            assert not all(a.resolved for a in activities.list_activities(db, account_id, kinds=(kind,)))
            await pilot.press("x")
            await pilot.pause()
            await pilot.press("down", "enter")
            await pilot.pause()
            assert all(a.resolved for a in activities.list_activities(db, account_id, kinds=(kind,)))

        timeline.cursor = next(i for i in range(timeline.row_count)
                               if timeline.row(i).message_id is not None and timeline.row(i).kind != "thread")
        message = timeline.current_row
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen) and app.screen.message.id == message.message_id
        await pilot.press("escape")
        await pilot.pause()
        # w: the matching rules that put the message here; r: the reply flow's template picker.
        await pilot.press("w")
        await pilot.pause()
        reasons = app.actions.why(message.message_id)
        assert reasons and any(all(r in n for r in reasons) for n in _notes(seen))
        await pilot.press("r")
        await pilot.pause()
        assert type(app.screen).__name__ == "TemplatePicker"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen)
        # a: also another account; A: off this one; M: moved to another (off this one).
        other = next(a for a in accounts.list_accounts(db) if a.id != account_id)
        await pilot.press("a")
        await pick_account(pilot, other.name)
        await pilot.press("enter")
        await settle(pilot)
        assert _linked(db, message.message_id) >= {name, other.name}
        assert timeline.current_row.message_id == message.message_id
        await pilot.press("A")
        await settle(pilot)
        assert name not in _linked(db, message.message_id)
        assert message.message_id not in [timeline.row(i).message_id for i in range(timeline.row_count)]
        thread = next(timeline.row(i) for i in range(timeline.row_count) if timeline.row(i).kind == "thread")
        members = [timeline.row(i).message_id for i in range(timeline.row_count)
                   if timeline.row(i).depth and timeline.row(i).thread_id == thread.thread_id]
        timeline.cursor = next(i for i in range(timeline.row_count) if timeline.row(i) == thread)
        await pilot.press("M")
        await pick_account(pilot, other.name)
        await pilot.press("enter")
        await settle(pilot)
        assert all(_linked(db, m) == {other.name} for m in members)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)

    drive(home, body, seen=seen)


def test_pin_offers_the_open_deals(home: Path) -> None:
    """p with several open deals asks which one; with one it pins to it; the pin is in the store."""
    opened = open_workspace(home)
    try:
        pipeline = opened.config.pipeline
        account_id = next(iter(opened.db.execute(
            "SELECT account_id FROM message_accounts GROUP BY account_id ORDER BY count(*) DESC LIMIT 1")))[0]
        opens = [s.name for s in pipeline.stages if s.kind == "open"]
        first = deals.create_deal(opened.db, account_id, "Pump retrofit", stage=opens[0], pipeline=pipeline)
        second = deals.create_deal(opened.db, account_id, "Spare parts 2027", stage=opens[1], pipeline=pipeline)
    finally:
        opened.close()

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        app.open_account(account_id)
        await pilot.pause()
        timeline = app.screen.query_one("#timeline")
        timeline.cursor = next(i for i in range(timeline.row_count) if timeline.row(i).message_id is not None)
        item = timeline.current_row
        await pilot.press("p")
        await pilot.pause()
        choices = [str(o.prompt) for o in app.screen.query_one("#pick-options").options]
        assert any("Pump retrofit" in c for c in choices) and any("Spare parts 2027" in c for c in choices)
        wanted = next(i for i, c in enumerate(choices) if "Spare parts 2027" in c)
        app.screen.query_one("#pick-options").highlighted = wanted
        await pilot.press("enter")
        await settle(pilot)
        pinned = db.execute("SELECT deal_id FROM thread_pins WHERE thread_id = ?", [item.thread_id]).fetchone()
        assert pinned == (second.id,) and first.id != second.id

    drive(home, body)


def _choices(app: RapportApp) -> list[str]:
    return [str(o.prompt) for o in app.screen.query_one("#pick-options").options]


async def _pick(app: RapportApp, pilot: Any, text: str) -> None:
    app.screen.query_one("#pick-options").highlighted = next(i for i, c in enumerate(_choices(app)) if text in c)
    await pilot.press("enter")
    await pilot.pause()


def test_activities_ask_which_deal_and_complaints_are_resolved(home: Path) -> None:
    """n/c/m/o/C with several deals ask which one (or the account only); C offers won deals too;
    an open complaint is on Today until x resolves it."""
    opened = open_workspace(home)
    try:
        pipeline = opened.config.pipeline
        account = accounts.create_account(opened.db, "Two Deals AG", domains=["two-deals.example"])
        opens = [s.name for s in pipeline.stages if s.kind == "open"]
        won = next(s.name for s in pipeline.stages if s.kind == "won")
        lost = next(s.name for s in pipeline.stages if s.kind == "lost")
        first = deals.create_deal(opened.db, account.id, "Pump retrofit", stage=opens[0], pipeline=pipeline)
        second = deals.create_deal(opened.db, account.id, "Spare parts 2027", stage=opens[2], pipeline=pipeline)
        done = deals.create_deal(opened.db, account.id, "Line 3 install", stage=won, pipeline=pipeline)
        deals.create_deal(opened.db, account.id, "Old tender", stage=lost, pipeline=pipeline)
    finally:
        opened.close()

    def latest(db: Any, kind: str) -> Any:
        return activities.list_activities(db, account.id, kinds=(kind,))[0]

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        app.open_account(account.id)
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, PickScreen)
        assert [c.split(" — ")[0] for c in _choices(app)] == ["Pump retrofit", "Spare parts 2027",
                                                              "the account only (no deal)"]
        await _pick(app, pilot, "Spare parts 2027")
        assert "Spare parts 2027" in str(app.screen.query_one("#prompt-question").render())
        await type_answer(pilot, "asked for the spares list")
        assert (latest(db, "note").body, latest(db, "note").deal_id) == ("asked for the spares list", second.id)
        await pilot.press("c")
        await pilot.pause()
        await _pick(app, pilot, "the account only")
        await type_answer(pilot, "general catch-up")
        assert (latest(db, "call").body, latest(db, "call").deal_id) == ("general catch-up", None)
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("escape")  # cancelled before anything was typed: nothing recorded
        await pilot.pause()
        assert not activities.list_activities(db, account.id, kinds=("meeting",))
        await pilot.press("o")
        await pilot.pause()
        await _pick(app, pilot, "Pump retrofit")
        await type_answer(pilot, "price too high")
        assert latest(db, "objection").deal_id == first.id and latest(db, "objection").resolved is False
        # A complaint: support after the sale, so the won deal is offered; the lost one never.
        await pilot.press("C")
        await pilot.pause()
        assert "Line 3 install" in " ".join(_choices(app)) and "Old tender" not in " ".join(_choices(app))
        await _pick(app, pilot, "Line 3 install")
        await type_answer(pilot, "pump seals leaking")
        complaint = latest(db, "complaint")
        assert (complaint.deal_id, complaint.resolved) == (done.id, False)
        timeline = app.screen.query_one("#timeline")
        row = next(i for i in range(timeline.row_count) if timeline.row(i).activity_id == complaint.id)
        assert "complaint !" in timeline.render_line(row - int(timeline.scroll_offset.y)).text
        await pilot.press("escape", "t")
        await pilot.pause()
        today = app.screen.query_one("#today")
        listed = [today.row(i) for i in range(today.row_count)]
        assert any(i.section == "complaint" and i.account_id == account.id and i.text == "pump seals leaking"
                   for i in listed)
        open_complaints = sum(i.section == "complaint" for i in listed)  # the demo's own, plus ours
        assert f"{open_complaints} complaint" in str(app.screen.query_one("#today-title").render())
        today.cursor = next(n for n, i in enumerate(listed) if i.section == "complaint" and i.account_id == account.id)
        await pilot.press("enter")
        await pilot.pause()
        timeline = app.screen.query_one("#timeline")
        timeline.cursor = next(i for i in range(timeline.row_count) if timeline.row(i).activity_id == complaint.id)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("down", "enter")  # yes, resolve it
        await pilot.pause()
        assert activities.get_activity(db, complaint.id).resolved is True
        assert "complaint ✓" in timeline.render_line(timeline.cursor - int(timeline.scroll_offset.y)).text
        await pilot.press("escape")
        await pilot.pause()
        today = app.screen.query_one("#today")
        still = [today.row(i) for i in range(today.row_count) if today.row(i).section == "complaint"]
        assert len(still) == open_complaints - 1 and all(i.account_id != account.id for i in still)

    drive(home, body)


def test_today_goto_palette_help_reports_quit(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TodayScreen)
        today = app.screen.query_one("#today")
        assert today.row_count == len(today_view.today_items(app.opened.db, TODAY, app.opened.config.stale_after_days))
        assert today.row_count > 0
        item = today.current_row
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen) and app.screen.account_id == item.account_id
        await pilot.press("escape", "escape")
        # g lists every candidate (best first); down picks the second.
        names = [a.name for a in accounts.list_accounts(app.opened.db)]
        word = next(w for n in names for w in n.split() if sum(w in m.split() for m in names) >= 2)
        await pilot.press("g")
        candidates = await pick_account(pilot, word)
        assert len(candidates) >= 2 and {n for n in names if word in n.split()} <= {c.split("  (")[0]
                                                                                   for c in candidates}
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen)
        assert accounts.get_account(app.opened.db, app.screen.account_id).name == candidates[1].split("  (")[0]
        await pilot.press("escape")
        # ? shows the focused pane's keys (and the app's); with the inbox focused, the inbox's.
        await pilot.press("question_mark")
        await pilot.pause()
        shown = app.export_screenshot().replace("&#160;", " ")
        assert isinstance(app.screen, HelpScreen)
        assert all(label in shown for label in ("Next stage", "value, probability", "Next action"))
        await pilot.press("question_mark", "tab", "question_mark")
        await pilot.pause()
        lines = [" ".join(cell.plain for cell in row).strip() for row in _table_rows(app.screen.table)]
        # The focused pane (the inbox) first; the pipeline's keys after; Textual's scroll keys never.
        assert lines.index("Inbox") < lines.index("Deal") and "u Unassigned" in lines
        assert not any("Scroll" in line or "Page Right" in line for line in lines)
        await pilot.press("question_mark", "shift+tab")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Today")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TodayScreen)
        await pilot.press("escape", "R")
        await pilot.pause()
        assert type(app.screen).__name__ == "ReportsScreen"
        await pilot.press("escape", "S")
        await pilot.pause()
        for _ in range(100):  # the worker thread posts its result back to the app
            await pilot.pause(0.05)
            if not app.sync_status.startswith("syncing"):
                break
        assert app.sync_status.startswith("synced"), app.sync_status
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running

    drive(home, body)


def test_hostile_text_is_literal(home: Path) -> None:
    """A message whose subject/name/body carry markup and escapes arrives by sync and shows literally."""
    raw = (
        f"From: {HOSTILE} <evil@example.org>\r\nTo: me@example.com\r\nSubject: {HOSTILE}\r\n"
        "Date: Tue, 17 Nov 2026 09:00:00 +0000\r\nMessage-ID: <hostile@example.org>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\nBody {HOSTILE}\r\n> quoted [red]x[/red]\r\n"
    ).encode()
    (home / "Maildir" / "new" / "1763370000.hostile.host").write_bytes(raw)
    opened = open_workspace(home)
    try:
        account_id = deals.list_deals(opened.db)[0].account_id
        accounts.update_account(opened.db, account_id, name=HOSTILE)
    finally:
        opened.close()

    async def body(app: RapportApp, pilot: Any) -> None:
        await pilot.press("S")
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.sync_status.startswith("syncing"):
                break
        inbox = app.screen.query_one("#inbox")
        rows = [inbox.row(i) for i in range(inbox.row_count)]
        hostile = next(row for row in rows if row.subject.startswith("[bold]"))
        shown = render_inbox_row(hostile, 200).plain
        assert "[bold]Evil[/bold] [@click=app.quit]x" in shown and "\x1b" not in shown and "\x07" not in shown
        assert not render_inbox_row(hostile, 200).spans or all(
            str(span.style).startswith("rowlist--") for span in render_inbox_row(hostile, 200).spans)
        svg = app.export_screenshot()
        assert "pwned" not in svg
        inbox.cursor = rows.index(hostile)
        app.screen.query_one("#inbox").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen)
        text = render_message(app.screen.message, headers=True, unfold=True).plain
        assert "Body [bold]Evil[/bold] [@click=app.quit]x" in text and "\x1b" not in text
        await pilot.click("#reader-body")  # a [@click] in the text must not be a live link
        await pilot.press("escape")
        assert app.is_running
        # Search with markup typed in: literal in the status line, one hit ("1 message").
        await pilot.press("slash")
        app.screen.query_one("#search").value = "[bold]Evil"
        await pilot.press("enter")
        await pilot.pause()
        status = app.screen.query_one("#inbox")._border_title.plain  # what is drawn, unescaped
        assert "Inbox: 1 message  [search '[bold]Evil']" in status, status
        assert app.screen.query_one("#inbox").current_row.id == hostile.id

    drive(home, body)


def test_narrow_terminal_stacks_panes(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        pipeline, inbox = app.screen.query_one("#pipeline"), app.screen.query_one("#inbox")
        assert pipeline.region.x == inbox.region.x and pipeline.region.y < inbox.region.y
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        assert pipeline.region.y == inbox.region.y and pipeline.region.x < inbox.region.x

    drive(home, body, size=(80, 24))


def _notes(seen: list) -> list[str]:
    return [m.notification.title + "\n" + m.notification.message for m in seen if isinstance(m, Notify)]


def _assert_literal(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "pwned" not in text, repr(text)


def test_hostile_store_text_never_reaches_the_terminal(home: Path) -> None:
    """Names typed or imported with escapes and markup (not stripped by ingest) stay literal everywhere."""
    opened = open_workspace(home)
    try:
        pipeline = opened.config.pipeline
        deal = next(d for d in deals.list_deals(opened.db)
                    if pipeline.previous_stage(d.stage) and pipeline.get(d.stage).kind == "open")
        accounts.update_account(opened.db, deal.account_id, name="ACCT" + HOSTILE_DB)
        deals.update_deal(opened.db, deal.id, title="DEAL" + HOSTILE_DB)
        deals.set_next_action(opened.db, deal.id, "NEXT" + HOSTILE_DB, TODAY)
        person = contacts.list_contacts(opened.db, deal.account_id)[0]
        contacts.update_contact(opened.db, person.id, name="CONT" + HOSTILE_DB, role="ROLE" + HOSTILE_DB)
        activities.add_activity(opened.db, deal.account_id, "objection", body="OBJ" + HOSTILE_DB, deal_id=deal.id)
    finally:
        opened.close()
    seen: list = []

    async def body(app: RapportApp, pilot: Any) -> None:
        pipeline = app.screen.query_one("#pipeline")
        pipeline.cursor = next(i for i in range(pipeline.row_count)
                               if pipeline.row(i).deal is not None and pipeline.row(i).deal.id == deal.id)
        await pilot.press("less_than_sign")
        await pilot.pause()
        await pilot.press("greater_than_sign")
        await pilot.pause()
        _assert_literal(app.export_screenshot())
        moved = [n for n in _notes(seen) if "ACCT" in n]
        assert len(moved) == 2 and all("ACCT[bold]Evil[/bold] [@click=app.quit]xRED" in n for n in moved), moved
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen)
        timeline = app.screen.query_one("#timeline")
        objection = next(i for i in range(timeline.row_count) if timeline.row(i).kind == "objection")
        shown = timeline.render_line(objection - int(timeline.scroll_offset.y)).text
        assert "OBJ[bold]Evil[/bold] [@click=app.quit]xRED" in shown
        timeline.cursor = next(i for i in range(timeline.row_count) if timeline.row(i).message_id is not None)
        await pilot.press("w")
        await pilot.press("p")
        await pilot.pause()
        _assert_literal(app.export_screenshot())
        assert any("DEAL[bold]Evil[/bold]" in n for n in _notes(seen)), _notes(seen)
        assert any("ACCT[bold]Evil[/bold]" in n for n in _notes(seen) if "contact" in n or "domain" in n)
        await pilot.press("escape", "t")
        await pilot.pause()
        assert isinstance(app.screen, TodayScreen)
        _assert_literal(app.export_screenshot())
        for text in _notes(seen):
            _assert_literal(text)

    drive(home, body, seen=seen)


def _cursor_visible(rowlist: Any) -> bool:
    top = int(rowlist.scroll_offset.y)
    return top <= rowlist.cursor < top + rowlist.scrollable_content_region.height


def test_cursor_row_stays_visible_at_80x24(home: Path) -> None:
    """No horizontal scrollbar steals a row: after > the moved deal's row is on screen."""
    async def body(app: RapportApp, pilot: Any) -> None:
        pipeline = app.screen.query_one("#pipeline")
        await to_first_deal(app, pilot)
        deal = pipeline.current_row.deal
        assert not pipeline.show_horizontal_scrollbar
        for key in ("greater_than_sign", "greater_than_sign", "less_than_sign", "end", "home", "pagedown"):
            await pilot.press(key)
            await pilot.pause()
            assert not pipeline.show_horizontal_scrollbar
            assert _cursor_visible(pipeline), (key, pipeline.cursor, pipeline.scroll_offset.y)
            if key != "pagedown" and key not in ("end", "home"):
                assert pipeline.current_row.deal.id == deal.id
        await pilot.press("tab", "end")
        await pilot.pause()
        inbox = app.screen.query_one("#inbox")
        assert not inbox.show_horizontal_scrollbar and _cursor_visible(inbox)
        # The bottom bar: whole keys only, none under the sync state or the palette key.
        from textual.widgets._footer import FooterKey

        from rapport.tui.app.widgets.status_bar import SyncStatus

        status = app.screen.query_one(SyncStatus).region
        keys = [k for k in app.screen.query(FooterKey) if not k.has_class("-command-palette")]
        palette = next(k for k in app.screen.query(FooterKey) if k.has_class("-command-palette")).region
        assert keys and status.right <= 80 and status.width >= len("sync idle")
        assert all(k.region.right <= palette.x and k.region.width == k.get_content_width(k.size, k.size)
                   for k in keys)

    drive(home, body, size=(80, 24))


def _bottom_bar(app: RapportApp) -> tuple[list[str], bool]:
    """The keys the bottom bar shows (whole, clear of the palette key) and whether every one fits."""
    from textual.widgets._footer import FooterKey

    keys = [k for k in app.screen.query(FooterKey) if not k.has_class("-command-palette") and k.display]
    palette = next(k for k in app.screen.query(FooterKey) if k.has_class("-command-palette")).region
    fits = all(k.region.right <= palette.x and k.region.width == k.get_content_width(k.size, k.size)
               for k in keys)
    return [k.key_display for k in keys], fits


def test_bottom_bar_keeps_the_main_keys_and_help_at_80_columns(home: Path) -> None:
    """At 80x24 every screen's bar shows its most used keys whole, and always ? (which lists the rest)."""
    wanted = {"pipeline": {"⏎", "<", ">", "e", "d", "/", "?"}, "inbox": {"⏎", "r", "a", "u", "/", "?"},
              "account": {"n", "c", "m", "o", "C", "x", "r", "esc", "?"}, "today": {"⏎", "esc", "?"},
              "reader": {"h", "z", "r", "esc", "?"}}

    async def body(app: RapportApp, pilot: Any) -> None:
        async def check(where: str) -> None:
            await pilot.pause()
            await pilot.pause()
            shown, fits = _bottom_bar(app)
            assert fits and wanted[where] <= set(shown), (where, shown)

        await check("pipeline")
        await pilot.press("tab")
        await check("inbox")
        await pilot.press("enter")
        await check("reader")
        await pilot.press("escape", "shift+tab")
        await to_first_deal(app, pilot)
        await pilot.press("enter")
        await check("account")
        await pilot.press("q", "t")
        await check("today")
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.is_running  # q went back, it did not quit
        await pilot.resize_terminal(50, 24)  # very narrow: ? still there
        await pilot.pause()
        await pilot.pause()
        shown, fits = _bottom_bar(app)
        assert fits and "?" in shown, shown

    drive(home, body, size=(80, 24))


def test_account_timeline_is_threaded(home: Path) -> None:
    """Thread lines with their messages under them (oldest first), interleaved by date with activities."""
    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        account_id = next(iter(db.execute(
            """SELECT ma.account_id FROM message_accounts ma JOIN messages m ON m.id = ma.message_id
               GROUP BY ma.account_id, m.thread_id HAVING count(*) > 2 ORDER BY count(*) DESC LIMIT 1""")))[0]
        activities.add_activity(db, account_id, "note", body="a fresh note", date_utc="2030-01-01T00:00:00Z")
        app.open_account(account_id)
        await pilot.pause()
        timeline = app.screen.query_one("#timeline")
        rows = [timeline.row(i) for i in range(timeline.row_count)]
        heads = [r for r in rows if r.kind == "thread"]
        assert heads and rows[0].kind == "note"  # the newest entry
        linked = {r[0] for r in db.execute("SELECT message_id FROM message_accounts WHERE account_id = ?",
                                           [account_id])}
        assert {r.message_id for r in rows if r.depth or (r.message_id and r.kind != "thread")} == linked
        for head in heads:
            start = rows.index(head)
            children = rows[start + 1:start + 1 + head.count]
            assert all(c.depth == 1 and c.thread_id == head.thread_id for c in children)
            assert [c.date_utc for c in children] == sorted(c.date_utc for c in children)
            assert head.date_utc == children[-1].date_utc and head.message_id == children[-1].message_id
        top = [r for r in rows if r.depth == 0]
        assert [r.date_utc for r in top] == sorted((r.date_utc for r in top), reverse=True)
        assert {r.kind for r in top} >= {"thread", "note"}
        shown = app.screen.query_one("#timeline").render_line(rows.index(heads[0])).text
        assert f"thread {heads[0].count}" in shown
        timeline.cursor = rows.index(heads[0]) + 1
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen) and app.screen.message.id == rows[timeline.cursor].message_id

    drive(home, body)


def _binding_actions(*classes: type) -> set[tuple[type, str]]:
    from textual.binding import Binding

    from rapport.tui.app.palette import NAVIGATION

    return {(cls, b.action) for cls in classes for c in cls.__mro__ if "BINDINGS" in c.__dict__
            and c.__module__.startswith("rapport.") for b in Binding.make_bindings(c.__dict__["BINDINGS"])
            if b.action not in NAVIGATION}


def test_palette_lists_every_binding_of_every_screen(home: Path) -> None:
    from rapport.tui.app.palette import palette_commands
    from rapport.tui.app.screens import account, main
    from rapport.tui.app.widgets import inbox_list, pipeline_list
    from rapport.tui.app.widgets import timeline as timeline_widget

    def covered(app: RapportApp, classes: tuple[type, ...]) -> None:
        commands = palette_commands(app.screen)
        have = {(type(c.node), c.action) for c in commands}
        want = _binding_actions(*classes, RapportApp)
        assert want <= have, want - have
        assert len({c.label for c in commands}) == len(commands)  # no two entries look alike
        assert ("Sync: cancel" in {c.label for c in commands})

    async def body(app: RapportApp, pilot: Any) -> None:
        covered(app, (main.MainScreen, pipeline_list.PipelineList, inbox_list.InboxList))
        await to_first_deal(app, pilot)
        deal = app.screen.query_one("#pipeline").current_row.deal
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Next stage")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert deals.get_deal(app.opened.db, deal.id).stage == app.opened.config.pipeline.next_stage(deal.stage).name
        await pilot.press("enter")
        await pilot.pause()
        covered(app, (account.AccountScreen, timeline_widget.Timeline))
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Account: Objection")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await type_answer(pilot, "too expensive")
        assert any(a.body == "too expensive" for a in activities.list_activities(app.opened.db, deal.account_id))
        timeline = app.screen.query_one("#timeline")
        timeline.cursor = next(i for i in range(timeline.row_count) if timeline.row(i).message_id)
        await pilot.press("enter")
        await pilot.pause()
        covered(app, (ReaderScreen,))
        await pilot.press("escape", "escape", "t")
        await pilot.pause()
        covered(app, (TodayScreen,))

    drive(home, body)


def _new_mail(home: Path, name: str, subject: str, sender: str = "Ines Vidal <ines@example.net>") -> None:
    raw = (f"From: {sender}\r\nTo: me@example.com\r\nSubject: {subject}\r\n"
           f"Date: Wed, 18 Nov 2026 08:00:00 +0000\r\nMessage-ID: <{name}@example.net>\r\n\r\nHello.\r\n").encode()
    (home / "Maildir" / "new" / f"1763452800.{name}.host").write_bytes(raw)


async def _sync(app: RapportApp, pilot: Any) -> None:
    await pilot.press("S")
    for _ in range(600):  # the worker thread posts its messages back to the app (up to 30 s)
        await pilot.pause(0.05)
        if not app.sync_status.startswith("sync") or app.sync_status.startswith(("synced", "sync failed")):
            break
    await settle(pilot)


def _status(app: RapportApp) -> str:
    from rapport.tui.app.widgets.status_bar import SyncStatus

    return str(app.screen.query_one(SyncStatus).render())


def test_new_mail_keeps_the_cursor_and_sync_state_shows_everywhere(home: Path) -> None:
    seen: list = []

    async def body(app: RapportApp, pilot: Any) -> None:
        from rapport.tui.app.messages import FolderSynced, SyncFinished, SyncProgress, SyncStarted

        inbox = app.screen.query_one("#inbox")
        await pilot.press("tab", "j", "j", "j")
        before, count = inbox.current_row, inbox.row_count
        _new_mail(home, "arrives-1", "Fresh order")
        _new_mail(home, "arrives-2", "Another order")
        await _sync(app, pilot)
        assert inbox.row_count == count + 2
        assert inbox.current_row.id == before.id and inbox.cursor == 5  # same message, pushed down by two
        assert app.sync_status.startswith("synced") and _status(app).startswith("synced")
        kinds = [type(m) for m in seen]
        assert SyncStarted in kinds and SyncProgress in kinds and SyncFinished in kinds
        assert any(isinstance(m, FolderSynced) and m.added == 2 for m in seen)
        await pilot.press("t")
        await pilot.pause()
        assert _status(app) == app.sync_status
        await pilot.press("escape", "home", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen) and _status(app) == app.sync_status
        await pilot.press("escape", "shift+tab")
        await to_first_deal(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen) and _status(app) == app.sync_status

    drive(home, body, seen=seen)


def test_sync_failure_reason_is_notified_once(home: Path) -> None:
    missing = home / ("a-folder-with-a-long-name-" * 3) / "Maildir"
    config = home / "config.toml"
    config.write_text(config.read_text() + f'\n[[maildir]]\nname = "gone"\npath = "{missing}"\n')
    seen: list = []

    async def body(app: RapportApp, pilot: Any) -> None:
        await pilot.resize_terminal(80, 24)
        await _sync(app, pilot)
        assert app.sync_status.startswith("sync failed") and _status(app).startswith("sync failed")
        failures = [n for n in _notes(seen) if n.startswith("sync failed")]
        assert len(failures) == 1 and str(missing) in failures[0]  # the whole reason, not cut at 80 columns
        await _sync(app, pilot)
        assert len([n for n in _notes(seen) if n.startswith("sync failed")]) == 1
        assert app.screen.query_one("#inbox").row_count == queries.inbox_count(app.opened.db)  # the good one ran

    drive(home, body, seen=seen)


def test_sync_interval_comes_from_config(home: Path) -> None:
    config = home / "config.toml"
    config.write_text(config.read_text().replace("sync_interval_minutes = 5", "sync_interval_minutes = 7"))
    assert "sync_interval_minutes = 7" in config.read_text()
    app = RapportApp(str(home), today=TODAY, sync_on_start=False)
    try:
        assert app.sync_interval == 7 * 60
    finally:
        app.opened.close()
    assert RapportApp(str(home), sync_interval=0).sync_interval == 0


def test_sync_progress_messages_coalesce() -> None:
    from rapport.tui.app.messages import FolderSynced, SyncProgress

    assert SyncProgress("m", "INBOX", 2, 9).can_replace(SyncProgress("m", "INBOX", 1, 9))
    assert not FolderSynced("m", "INBOX").can_replace(FolderSynced("m", "INBOX"))


def test_today_lists_every_unanswered_mail_oldest_first(home: Path) -> None:
    opened = open_workspace(home)
    try:
        domain = next(a.domains[0] for a in accounts.list_accounts(opened.db) if a.domains)
    finally:
        opened.close()
    for n in range(260):  # more than the old LIMIT 200, through the real Maildir ingest
        raw = (f"From: Client {n} <client{n}@{domain}>\r\nTo: me@example.com\r\nSubject: Question {n:03d}\r\n"
               f"Date: {1 + n % 28:02d} Oct 2026 09:{n % 60:02d}:00 +0000\r\nMessage-ID: <q{n}@{domain}>\r\n\r\n"
               "Can you help?\r\n").encode()
        (home / "Maildir" / "new" / f"1760000000.q{n}.host").write_bytes(raw)

    async def body(app: RapportApp, pilot: Any) -> None:
        await _sync(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        today = app.screen.query_one("#today")
        rows = [today.row(i) for i in range(today.row_count)]
        unanswered = [r for r in rows if r.section == "unanswered"]
        waiting = app.opened.db.execute(
            """SELECT count(*) FROM messages m JOIN message_accounts ma ON ma.message_id = m.id
               WHERE m.direction = 'in' AND m.answered = 0 AND m.date_utc < '2026-11-17'
                 AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.thread_id = m.thread_id
                                 AND r.direction = 'out' AND r.date_utc > m.date_utc)""").fetchone()[0]
        assert len(unanswered) == waiting > 260
        assert [r.day for r in unanswered] == sorted(r.day for r in unanswered)  # longest waiting first
        title = str(app.screen.query_one("#today-title").render())
        assert f"{waiting:,} unanswered" in title
        assert f"{sum(r.section == 'stale' for r in rows):,} stale" in title
        await pilot.press("end")
        await pilot.pause()
        assert today.current_row == rows[-1]

    drive(home, body)


ENRON_STYLE = (
    "Message-ID: <25388650.1075858642312.JavaMail.evans@thyme>\n"
    "Date: Tue, 14 Nov 2026 11:01:52 -0700 (PDT)\nFrom: Michelle Simpkins <msimpkins@winstead.example>\n"
    "To: me@example.com\nSubject: RE: Special Warranty Deed\nContent-Type: text/plain; charset=us-ascii\n\n"
    "Phillip,\n\nI have executed the Warranty Deed.  Once you email me that document, I will execute it.\n\n"
    "Michelle\n -----Original Message-----\n"
    "From: \t\"Allen, Phillip K.\" <pallen@enron.example>@ENRON [mailto:IMCEANOTES-pallen@ENRON.com]\n"
    "Sent:\tTuesday, August 14, 2001 7:01 AM\nTo:\t'msimpkins@winstead.example'\nSubject:\tDeed\n\n"
    "Michelle,\n\nPlease send the deed.\n\n-----Original Message-----\nFrom: Wendy\nSent: Monday\n\nOlder text.\n"
)


def test_reader_folds_outlook_history_and_attributions(home: Path) -> None:
    (home / "Maildir" / "new" / "1763000000.enron.host").write_text(ENRON_STYLE)
    (home / "Maildir" / "new" / "1763000001.bottom.host").write_text(
        "From: Ann <ann@example.net>\nTo: me@example.com\nSubject: Re: lunch\nMessage-ID: <bottom@example.net>\n"
        "Date: Tue, 14 Nov 2026 12:00:00 +0000\n\nOn Mon, 13 Nov 2026, Me <me@example.com> wrote:\n"
        "> shall we meet?\n> at noon?\n\nYes, noon is fine.\n")

    async def body(app: RapportApp, pilot: Any) -> None:
        await _sync(app, pilot)
        inbox = app.screen.query_one("#inbox")
        await pilot.press("tab")
        for subject, own, hidden in (("RE: Special Warranty Deed", "I have executed the Warranty Deed",
                                      ("Please send the deed", "Sent:", "Older text")),
                                     ("Re: lunch", "Yes, noon is fine.", ("shall we meet", "wrote:"))):
            inbox.cursor = next(i for i in range(inbox.row_count) if inbox.row(i).subject == subject)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, ReaderScreen)
            shown = str(app.screen.query_one("#reader-body").render())
            assert own in shown and "folded — z to unfold" in shown
            assert not any(text in shown for text in hidden), shown
            await pilot.press("z")
            await pilot.pause()
            unfolded = str(app.screen.query_one("#reader-body").render())
            assert all(text in unfolded for text in hidden) and "folded" not in unfolded
            await pilot.press("escape")
            await pilot.pause()

    drive(home, body)


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(style: Any) -> float:
    fg, bg = style.color.get_truecolor(), style.bgcolor.get_truecolor()
    light, dark = sorted((_luminance(tuple(fg)), _luminance(tuple(bg))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _segment(strip: Any, text: str) -> Any:
    return next(seg for seg in strip if text in seg.text)


@pytest.mark.parametrize("mode", ["textual-dark", "textual-light", "ansi-dark", "NO_COLOR"])
def test_overdue_rotting_unread_readable_in_every_theme(home: Path, mode: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Overdue stands out by attributes too (bold; reverse without colour) and stays legible."""
    from rich.color import ColorType
    from textual.filter import Monochrome

    from rapport.tui.app.widgets.when import short_day

    if mode == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")

    async def body(app: RapportApp, pilot: Any) -> None:
        if mode != "NO_COLOR":
            app.theme = mode
            await pilot.pause()
        pipeline, inbox = app.screen.query_one("#pipeline"), app.screen.query_one("#inbox")
        rows = [pipeline.row(i) for i in range(pipeline.row_count)]
        index = next(i for i, r in enumerate(rows) if r.overdue and i > 0)
        pipeline.cursor = 0  # the overdue row is not under the cursor
        await pilot.pause()
        strip = list(pipeline.render_line(index))
        unread = next(i for i in range(inbox.row_count) if not inbox.row(i).seen and i > inbox.cursor)
        unread_strip = list(inbox.render_line(unread))
        if mode == "NO_COLOR":
            assert app.no_color
            background = app.screen.styles.background
            strip = Monochrome().apply(strip, background)
            unread_strip = Monochrome().apply(unread_strip, background)
        due = _segment(strip, short_day(rows[index].deal.next_action_due, TODAY))
        mark = _segment(strip, "!")
        assert due.style.bold and mark.style.bold
        assert _segment(unread_strip, "●").style.bold
        if mode == "NO_COLOR":
            assert due.style.reverse and mark.style.reverse
            assert _contrast(due.style) >= 7
        elif mode == "ansi-dark":
            assert due.style.color.type in (ColorType.STANDARD, ColorType.DEFAULT)  # the terminal's own red
        else:
            assert _contrast(due.style) >= 3, _contrast(due.style)
        plain = next(i for i, r in enumerate(rows) if r.deal is not None and not r.overdue and i > 0
                     and r.deal.next_action_due is not None)
        plain_strip = list(pipeline.render_line(plain))
        name = _segment(plain_strip, rows[plain].deal.account_name[:10])
        if mode == "NO_COLOR":
            plain_strip = Monochrome().apply(plain_strip, app.screen.styles.background)
        muted = _segment(plain_strip, short_day(rows[plain].deal.next_action_due, TODAY))  # a date not yet due
        if mode != "ansi-dark":
            assert _contrast(name.style) >= 4.5
            assert _contrast(muted.style) >= 3, (mode, _contrast(muted.style))

    drive(home, body)


def test_contacts_line_fits_and_counts_the_rest() -> None:
    from rapport.tui.app.screens.account import contacts_line

    people = [contacts.Contact(i, 1, f"Person Number {i}", (f"person{i}@example.com",), "Buyer", "", False)
              for i in range(12)]
    text = contacts_line(people, 78).plain
    assert text.startswith("Contacts (12): Person Number 0 <person0@example.com> (Buyer)")
    assert len(text) <= 78 * 2 and text.endswith("more")
    shown = text.count("<")
    assert f"+{12 - shown} more" in text
    assert "more" not in contacts_line(people[:1], 78).plain


@pytest.mark.parametrize("how", ["quit", "cancel"])
def test_quit_or_cancel_during_a_long_maildir_ingest_stops_between_batches(
        home: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """q (or the palette's Sync: cancel) while the Maildir ingest runs: the sync thread stops at its
    next batch; the batches saved are whole, and the next sync stores the rest once."""
    import threading

    from textual.worker import get_current_worker

    from rapport.mail.sync import maildir
    from rapport.mail.sync.run import sync_all

    batch, new_mail = 20, 200
    for n in range(new_mail):
        _new_mail(home, f"bulk-{n:04d}", f"Bulk order {n}")
    monkeypatch.setattr(maildir, "BATCH_SIZE", batch)
    real_parse, parsed = maildir.decode_message, []
    pause = threading.Event()  # never set: waited on in 10 ms steps

    def parse_then_wait_for_quit(*args: Any, **kwargs: Any) -> Any:
        # The second batch waits for the stop (up to 10 s): the ingest cannot finish first, no race.
        parsed.append(1)
        if len(parsed) == batch + 1:
            for _ in range(1000):
                if get_current_worker().is_cancelled:
                    break
                pause.wait(0.01)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(maildir, "decode_message", parse_then_wait_for_quit)
    before = _count_messages(home)

    async def run() -> None:
        app = RapportApp(str(home), today=TODAY, sync_on_start=True, sync_interval=0)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(400):
                await pilot.pause(0.02)
                if parsed:
                    break
            assert parsed, "the sync never started"
            if how == "quit":
                await pilot.press("q")
                return
            await pilot.press("ctrl+p")
            await pilot.press(*"Sync: cancel")
            await pilot.pause(0.3)
            await pilot.press("enter")
            for _ in range(500):
                await pilot.pause(0.02)
                if not app._sync_running():
                    break
            await pilot.pause()
            assert app.sync_status.startswith("sync stopped") and app.is_running, app.sync_status
        # asyncio.run waits for the sync thread: it returns once the thread has stopped.

    asyncio.run(run())
    stored = _count_messages(home) - before
    assert 0 < stored < new_mail and stored % batch == 0, stored  # whole batches, the rest not read
    assert len(parsed) < new_mail
    # The next sync picks up where the stopped one ended: every message once. It runs outside any
    # worker, so the waiting parser (which asks for the current worker) is put back first.
    monkeypatch.setattr(maildir, "decode_message", real_parse)
    opened = open_workspace(home)
    try:
        sync_all(opened)
    finally:
        opened.close()
    assert _count_messages(home) - before == new_mail


def _count_messages(home: Path) -> int:
    opened = open_workspace(home)
    try:
        return opened.db.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        opened.close()


def test_a_key_account_timeline_is_paged_over_the_store(home: Path) -> None:
    """2,100 messages in 300 threads: every one is on the timeline (no cut at 2,000), read a page at a time."""
    threads, per_thread = 300, 7
    opened = open_workspace(home)
    try:
        big = accounts.create_account(opened.db, "Bulk Buyer GmbH", domains=["bulk.example"])
        for n in range(40):
            activities.add_activity(opened.db, big.id, "note", body=f"note {n}",
                                    date_utc=f"2026-0{1 + n % 9}-1{n % 10}T12:00:00Z")
    finally:
        opened.close()
    maildir = home / "Maildir" / "new"
    for t in range(threads):
        for k in range(per_thread):
            refs = f"References: <t{t}-0@bulk.example>\r\n" if k else ""
            day = f"2026-{1 + t % 10:02d}-{1 + t % 27:02d}"
            (maildir / f"1763452800.bulk-{t}-{k}.host").write_bytes(
                (f"From: Buyer {k} <b{k}@bulk.example>\r\nTo: me@example.com\r\nSubject: Order {t}\r\n"
                 f"Date: {day} 0{k}:00:00 +0000\r\nMessage-ID: <t{t}-{k}@bulk.example>\r\n{refs}\r\n"
                 "Hello.\r\n").encode())
    opened = open_workspace(home)
    try:
        from rapport.mail.sync.run import sync_all

        sync_all(opened)
        full = queries.account_timeline(opened.db, big.id)
        index = queries.timeline_index(opened.db, big.id)
        # Any page, cut anywhere (inside a thread too), is that slice of the whole timeline.
        for offset, limit in ((0, 1), (1, 7), (5, 200), (1999, 200), (index.total - 3, 200), (7, 8)):
            assert queries.timeline_page(opened.db, index, offset, limit) == full[offset:offset + limit]
    finally:
        opened.close()
    assert len(full) == index.total == threads * (per_thread + 1) + 40
    assert sum(1 for item in full if item.message_id is not None and item.kind != "thread") == threads * per_thread

    async def body(app: RapportApp, pilot: Any) -> None:
        app.open_account(big.id)
        await pilot.pause()
        timeline = app.screen.query_one("#timeline")
        assert timeline.row_count == len(full)
        assert len(timeline._pages) <= 2  # what was painted, not the whole timeline
        await pilot.press("end")
        await pilot.pause()
        oldest = timeline.current_row
        assert oldest == full[-1]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen) and app.screen.message.id == oldest.message_id

    drive(home, body, size=(80, 24))


def test_dates_read_like_a_mail_client() -> None:
    """09:30 today (local time), 18 Nov this year, 2025-11-18 before; due dates 'today' / 27 Nov."""
    from datetime import date

    from rapport.store.timeutil import parse_utc_text
    from rapport.tui.app.widgets.when import long_moment, short_day, short_moment

    local = parse_utc_text("2026-11-18T09:30:00Z").astimezone()
    assert short_moment("2026-11-18T09:30:00Z", local.date()) == local.strftime("%H:%M")
    assert short_moment("2026-03-04T09:30:00Z", date(2026, 11, 18)) == "4 Mar"
    assert short_moment("2025-11-18T09:30:00Z", date(2026, 11, 18)) == "2025-11-18"
    assert short_moment("not a time", date(2026, 11, 18)) == "not a time"
    assert short_day(date(2026, 11, 18), date(2026, 11, 18)) == "today"
    assert short_day("2026-11-27", date(2026, 11, 18)) == "27 Nov"
    assert short_day(date(2027, 1, 5), date(2026, 11, 18)) == "2027-01-05"
    assert short_day(None, date(2026, 11, 18)) == ""
    assert long_moment("2026-11-18T09:30:00Z").startswith(f"Wed 18 Nov 2026 {local:%H:%M}")


def test_every_list_shows_short_dates(home: Path) -> None:
    """The inbox, the pipeline, the timeline and Today list dates as 09:30 / 18 Nov / 2025-11-18."""
    from rapport.tui.app.widgets.when import short_day, short_moment

    _new_mail(home, "today-1", "Arrived this morning")  # 08:00 UTC on TODAY

    async def body(app: RapportApp, pilot: Any) -> None:
        await _sync(app, pilot)
        inbox, pipeline = app.screen.query_one("#inbox"), app.screen.query_one("#pipeline")
        rows = [inbox.row(i) for i in range(inbox.row_count)]
        years = {r.date_utc[:4] for r in rows}
        assert {"2025", "2026"} <= years  # the demo spans both
        for row in (rows[0], next(r for r in rows if r.date_utc.startswith("2026-0")),
                    next(r for r in rows if r.date_utc.startswith("2025"))):
            shown = inbox._render_row(row, 200).plain
            assert f" {short_moment(row.date_utc, TODAY)} " in shown and f" {row.date_utc[2:10]} " not in shown, shown
        assert any(":" in inbox._render_row(r, 200).plain[:8] for r in rows[:3])  # today's: HH:MM
        assert "2025-" in inbox._render_row(rows[-1], 200).plain
        deal_rows = [pipeline.row(i) for i in range(pipeline.row_count) if pipeline.row(i).deal is not None]
        due = next(r for r in deal_rows if r.deal.next_action_due is not None)
        assert short_day(due.deal.next_action_due, TODAY) in pipeline._render_row(due, 200).plain
        assert due.deal.next_action_due.isoformat() not in pipeline._render_row(due, 200).plain
        await to_first_deal(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        timeline = app.screen.query_one("#timeline")
        item = timeline.row(0)
        assert timeline._render_row(item, 200).plain.startswith(short_moment(item.date_utc, TODAY))
        await pilot.press("escape", "t")
        await pilot.pause()
        today = app.screen.query_one("#today")
        item = next(today.row(i) for i in range(today.row_count) if today.row(i).day)
        assert short_day(item.day, TODAY) in today._render_row(item, 200).plain

    drive(home, body)


def test_read_flags_set_in_the_tui_reach_the_imap_server(tmp_path: Path, imap_user: Any) -> None:
    """On a real Dovecot: the TUI syncs the mailbox, space marks a message read/unread, and the next
    sync (S) writes \\Seen back to the server."""
    from tests.sync_helpers import server_state, write_config

    home = tmp_path / "imap-home"
    write_config(home, [imap_user.mailbox_config()])
    raw = [(f"From: Client {n} <c{n}@client.example>\r\nTo: me@rapport.example\r\nSubject: Order {n}\r\n"
            f"Date: Tue, 17 Nov 2026 0{n}:00:00 +0000\r\nMessage-ID: <order-{n}@client.example>\r\n\r\nHi.\r\n").encode()
           for n in range(1, 4)]
    uids = imap_user.append(raw)

    async def run() -> None:
        app = RapportApp(str(home), today=TODAY, sync_on_start=True, sync_interval=0)
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(600):  # up to 30 s: a first IMAP sync on a loaded CI machine
                await pilot.pause(0.05)
                if app.sync_status.startswith(("synced", "sync failed")):
                    break
            assert app.sync_status.startswith("synced"), (
                app.sync_status, [n.message for n in app._notifications])  # the reason, if it failed
            inbox = app.screen.query_one("#inbox")
            assert inbox.row_count == 3
            await pilot.press("tab")
            target = inbox.current_row
            assert not target.seen
            await pilot.press("space")  # read
            await _sync(app, pilot)
            wanted = f"order-{target.subject.split()[-1]}@client.example"
            uid = next(u for u, (mid, *_flags) in server_state(imap_user).items() if mid == wanted)
            assert server_state(imap_user)[uid][1] == 1
            await pilot.press("space")  # unread again
            await _sync(app, pilot)
            assert server_state(imap_user)[uid][1] == 0
            assert sorted(server_state(imap_user)) == sorted(uids)

    asyncio.run(run())
