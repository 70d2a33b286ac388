"""Pilot tests of the TUI on a demo workspace: every binding of every screen, hostile text, sizes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.notifications import Notify

from rapport.store import accounts, activities, contacts, deals, queries
from rapport.store.messages import get_message
from rapport.store.session import open_workspace
from rapport.tui.app import RapportApp
from rapport.tui.screens.account import AccountScreen, render_timeline_row
from rapport.tui.screens.main import MainScreen, render_inbox_row
from rapport.tui.screens.prompt import PromptScreen
from rapport.tui.screens.reader import ReaderScreen, render_message
from rapport.tui.screens.today import TodayScreen
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
        assert updated.next_action_due.isoformat() == "2026-11-27"

        # e: value; probability; expected close.
        await pilot.press("e")
        await type_answer(pilot, "nonsense")
        assert isinstance(app.screen, PromptScreen)
        await type_answer(pilot, "12500; 40; 3 dec")
        edited = deals.get_deal(app.opened.db, deal.id)
        assert (edited.value, edited.probability, edited.expected_close.isoformat()) == (12500, 40, "2026-12-03")

        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen) and app.screen.account_id == deal.account_id

    drive(home, body)


def test_inbox_keys(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        inbox = app.screen.query_one("#inbox")
        total = inbox.row_count
        assert total == queries.inbox_count(app.opened.db) > 0
        await pilot.press("tab")
        assert app.focused is inbox
        await pilot.press("j", "j", "k")
        assert inbox.cursor == 1
        row = inbox.current_row
        await pilot.press("space")
        await pilot.pause()
        assert get_message(app.opened.db, row.id).seen is (not row.seen)
        assert get_message(app.opened.db, row.id).flags_dirty

        await pilot.press("u")
        await pilot.pause()
        assert inbox.row_count == queries.inbox_count(app.opened.db, queries.InboxFilter(unassigned=True)) < total
        unassigned = inbox.current_row
        await pilot.press("a")
        await type_answer(pilot, "no such account at all")
        assert isinstance(app.screen, PromptScreen)
        name = next(iter(app.opened.db.execute("SELECT name FROM accounts ORDER BY id LIMIT 1")))[0]
        await type_answer(pilot, name)
        assert name in [link[1] for link in get_message(app.opened.db, unassigned.id).accounts]
        await pilot.press("u", "U")
        await pilot.pause()
        assert inbox.row_count == queries.inbox_count(app.opened.db, queries.InboxFilter(unread=True))
        await pilot.press("U", "f")
        await pilot.pause()
        assert app.screen.filter.account_id is not None or inbox.row_count == total

        await pilot.press("slash")
        await pilot.press(*"zzzznothing", "enter")
        await pilot.pause()
        assert inbox.row_count == 0
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.filter.text == ""

        await pilot.press("home", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen)
        await pilot.press("h", "z", "j", "k")
        assert app.screen.headers and app.screen.unfold
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)

    drive(home, body)


def test_account_screen_keys(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        account_id = next(iter(db.execute(
            "SELECT account_id FROM message_accounts GROUP BY account_id ORDER BY count(*) DESC LIMIT 1")))[0]
        app.open_account(account_id)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AccountScreen)
        for key, kind in (("n", "note"), ("c", "call"), ("m", "meeting"), ("o", "objection")):
            await pilot.press(key)
            await type_answer(pilot, f"the {kind}")
            assert any(a.kind == kind and a.body == f"the {kind}" for a in activities.list_activities(db, account_id))
        timeline = screen.query_one("#timeline")
        for index in range(timeline.row_count):
            if timeline.row(index).kind == "objection" and not timeline.row(index).resolved:
                timeline.cursor = index
                break
        await pilot.press("x")
        await pilot.pause()
        assert all(a.resolved for a in activities.list_activities(db, account_id, kinds=("objection",)))

        await pilot.press("r")
        await pilot.pause()
        for index in range(timeline.row_count):
            if timeline.row(index).message_id is not None:
                timeline.cursor = index
                break
        message = timeline.current_row
        await pilot.press("w")
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReaderScreen) and app.screen.message.id == message.message_id
        await pilot.press("escape")
        await pilot.press("a")
        await pilot.pause()
        assert account_id not in [link[0] for link in get_message(db, message.message_id).accounts]
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)

    drive(home, body)


def test_today_goto_palette_help_reports_quit(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TodayScreen)
        today = app.screen.query_one("#today")
        assert today.row_count == len(queries.today_items(app.opened.db, TODAY, app.opened.config.stale_after_days))
        assert today.row_count > 0
        item = today.current_row
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen) and app.screen.account_id == item.account_id
        await pilot.press("escape", "escape")
        name = next(iter(app.opened.db.execute("SELECT name FROM accounts ORDER BY id DESC LIMIT 1")))[0]
        await pilot.press("g")
        await type_answer(pilot, name[:-1])
        assert isinstance(app.screen, AccountScreen)
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
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
            if not app.sync_state.startswith("syncing"):
                break
        assert app.sync_state.startswith("synced"), app.sync_state
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
            if not app.sync_state.startswith("syncing"):
                break
        inbox = app.screen.query_one("#inbox")
        rows = [inbox.row(i) for i in range(inbox.row_count)]
        hostile = next(row for row in rows if row.subject.startswith("[bold]"))
        shown = render_inbox_row(hostile, 200).plain
        assert "[bold]Evil[/bold] [@click=app.quit]x" in shown and "\x1b" not in shown and "\x07" not in shown
        assert not render_inbox_row(hostile, 200).spans or all(
            str(span.style) in {"bold", "dim", "", "cyan", "italic dim"} for span in render_inbox_row(hostile, 200).spans)
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
        timeline_text = render_timeline_row(queries.TimelineItem("2026-01-01", "note", HOSTILE), 80).plain
        assert "[@click=app.quit]" in timeline_text and "\x1b" not in timeline_text

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

    from rapport.tui.palette import NAVIGATION

    return {(cls, b.action) for cls in classes for c in cls.__mro__ if "BINDINGS" in c.__dict__
            and c.__module__.startswith("rapport.") for b in Binding.make_bindings(c.__dict__["BINDINGS"])
            if b.action not in NAVIGATION}


def test_palette_lists_every_binding_of_every_screen(home: Path) -> None:
    from rapport.tui.palette import palette_commands
    from rapport.tui.screens import account, main

    def covered(app: RapportApp, classes: tuple[type, ...]) -> None:
        commands = palette_commands(app.screen)
        have = {(type(c.node), c.action) for c in commands}
        want = _binding_actions(*classes, RapportApp)
        assert want <= have, want - have
        assert len({c.label for c in commands}) == len(commands)  # no two entries look alike
        assert ("Sync: cancel" in {c.label for c in commands})

    async def body(app: RapportApp, pilot: Any) -> None:
        covered(app, (main.MainScreen, main.PipelineList, main.InboxList))
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
        covered(app, (account.AccountScreen, account.Timeline))
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
