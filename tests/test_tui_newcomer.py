"""The TUI as a newcomer meets it at 80x24: pane titles and focus, keys that say where they work,
q and the footer on Reports, a scrollable help, Today's overdue apart, deal titles, an empty workspace."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rapport.store.views import today as today_view
from rapport.tui.app.application import RapportApp
from rapport.tui.app.screens.help import HelpScreen
from rapport.tui.app.screens.main import MainScreen
from rapport.tui.app.screens.today import render_today_row, today_title
from rapport.tui.app.widgets.pipeline_list import render_pipeline_row
from tests.test_tui_app import _bottom_bar, _notes, drive, template  # noqa: F401 (fixture)
from tests.tui_workspace import TODAY, copy_home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:  # noqa: F811
    return copy_home(template, tmp_path)


def _screen_text(app: RapportApp) -> str:
    return app.export_screenshot().replace("&#160;", " ")


def test_panes_have_titles_and_a_focus_mark_at_80x24(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        for _ in range(2):
            pipeline, inbox = screen.pipeline, screen.inbox
            assert pipeline.border_title.startswith("▶ Pipeline") and inbox.border_title.startswith("Inbox: ")
            assert pipeline.styles.border_top[0] == "heavy" and inbox.styles.border_top[0] == "round"
            await pilot.press("tab")
            await pilot.pause()
            assert inbox.border_title.startswith("▶ Inbox: ") and pipeline.border_title == "Pipeline"
            assert inbox.styles.border_top[0] == "heavy"
            await pilot.press("shift+tab")
            await pilot.pause()
            await pilot.resize_terminal(160, 48)
            await pilot.pause()

    drive(home, body, size=(80, 24))


def test_a_key_of_the_other_pane_says_where_it_works(home: Path) -> None:
    seen: list = []

    async def body(app: RapportApp, pilot: Any) -> None:
        unassigned = app.screen.filter.unassigned
        await pilot.press("u")  # the pipeline has the focus
        await pilot.pause()
        assert app.screen.filter.unassigned == unassigned
        await pilot.press("tab", "e")  # a deal key in the inbox
        await pilot.pause()

    drive(home, body, size=(80, 24), seen=seen)
    notes = _notes(seen)
    assert "\nu works in the Inbox pane: tab to it" in notes, notes
    assert "\ne works in the Pipeline pane: tab to it" in notes, notes


def test_q_goes_back_from_reports_and_every_footer_key_has_its_label(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        await pilot.press("R")
        await pilot.pause()
        await pilot.pause()
        assert type(app.screen).__name__ == "ReportsScreen"
        shown, fits = _bottom_bar(app)
        assert fits and "?" in shown and "esc" in shown, shown
        from textual.widgets._footer import FooterKey

        for key in app.screen.query(FooterKey):
            if key.display and not key.has_class("-command-palette"):
                assert key.description, key.key_display
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.is_running

    drive(home, body, size=(80, 24))


def test_help_lists_rapports_keys_and_scrolls_at_80x24(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        scroll = app.screen.query_one("#help-scroll")
        assert scroll.max_scroll_y > 0  # more keys than fit at 24 lines
        text = _screen_text(app)
        assert "Deal" in text and "Next stage" in text and "Scroll Left" not in text
        await pilot.press("pagedown", "j")
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)

    drive(home, body, size=(80, 24))


def test_today_tells_overdue_from_due_today_without_colour() -> None:
    due = [today_view.TodayItem("due", 1, "Acme", "Gaskets: call", (TODAY - timedelta(days=2)).isoformat()),
           today_view.TodayItem("due", 2, "Globex", "Seals: send offer", TODAY.isoformat())]
    overdue, today = (render_today_row(item, 80, TODAY).plain for item in due)
    assert overdue.startswith("! overdue") and today.startswith("  due today")
    assert "1 overdue · 1 due today" in today_title(TODAY, due).plain


def test_pipeline_rows_show_the_deal_title(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        rows = [row for row in app.actions.pipeline_rows() if row.deal is not None]
        by_account: dict[int, list[Any]] = {}
        for row in rows:
            by_account.setdefault(row.deal.account_id, []).append(row)
        two = next(group for group in by_account.values() if len(group) > 1)
        shown = {render_pipeline_row(row, 78, TODAY).plain for row in two}
        assert len(shown) == len(two)  # an account's deals no longer look the same
        assert all(row.deal.title[:10] in render_pipeline_row(row, 78, TODAY).plain for row in two)

    drive(home, body, size=(80, 24))


def test_an_empty_workspace_shows_the_next_steps(tmp_path: Path) -> None:
    import asyncio

    from rapport.tui.cli.main import main

    home = tmp_path / "ws"
    assert main(["init", "--home", str(home)]) == 0

    async def run() -> None:
        app = RapportApp(str(home), today=TODAY, sync_on_start=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            text = _screen_text(app)
            assert "This workspace is empty. Next steps:" in text
            assert "1. Edit" in text and "rapport import accounts" in text
            assert not app.screen.query_one("#panes").display

    asyncio.run(run())


def test_reading_from_the_timeline_marks_the_message_read(home: Path) -> None:
    from rapport.store.mailstore.messages import get_message

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        unread = db.execute("SELECT m.id, ma.account_id FROM messages m JOIN message_accounts ma "
                            "ON ma.message_id = m.id WHERE m.seen = 0 ORDER BY m.date_utc DESC").fetchone()
        app.open_account(unread[1])
        await pilot.pause()
        timeline = app.screen.query_one("#timeline")
        timeline.cursor = next(i for i in range(timeline.row_count)
                               if timeline.row(i).message_id == unread[0] and timeline.row(i).kind != "thread")
        await pilot.press("enter")
        await pilot.pause()
        assert get_message(db, unread[0]).seen

    drive(home, body, size=(80, 24))


def test_a_stage_change_names_its_deal_and_no_bare_next(home: Path) -> None:
    from rapport.store.book import deals
    from rapport.tui.app.widgets.timeline import render_timeline_row

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        deal = next(d for d in deals.list_deals(db) if d.stage == "Prospect")
        deals.set_next_action(db, deal.id, "", None)
        app.actions.move_deal(deal.id, "Appointment")
        app.open_account(deal.account_id)
        await pilot.pause()
        timeline = app.screen.query_one("#timeline")
        stage = next(timeline.row(i) for i in range(timeline.row_count) if timeline.row(i).kind == "stage_change")
        shown = render_timeline_row(stage, 78, TODAY).plain
        assert f"stage        {deal.title}: Prospect → Appointment" in shown, shown
        header = str(app.screen.query_one("#account-header").render())
        assert f"{deal.title}" in header and "no next action" in header
        assert "next: \n" not in header + "\n" and not header.rstrip().endswith("next:")

    drive(home, body, size=(80, 24))
