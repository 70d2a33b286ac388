"""The Reports screen at 80x24: the store's figures, bar charts, month and section keys, escape."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from report_workspace import CREATED, NOW, backdate, build_report_workspace
from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, TabbedContent
from textual_plotext import PlotextPlot

from rapport.store.accounts import create_account
from rapport.store.activities import add_activity
from rapport.store.deals import create_deal
from rapport.store.pipeline import Pipeline
from rapport.store.session import OpenWorkspace, open_workspace
from rapport.tui.screens.reports import SECTIONS, ReportsScreen

SIZE = (80, 24)
# Book text is hostile: an OSC title sequence, a bell, CSI colour and Rich markup.
HOSTILE = "Evil\x1b]0;pwned\x07 [b]GmbH[/b]\x1b[31m"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report_workspace(tmp_path_factory.mktemp("tui-report") / "ws")


@pytest.fixture
def opened(book: Path) -> Iterator[OpenWorkspace]:
    workspace = open_workspace(book)
    yield workspace
    workspace.close()


class ReportsHost(App[None]):
    """A bare app that opens the Reports screen on a workspace, as the main App's `R` does."""

    def __init__(self, opened: OpenWorkspace) -> None:
        super().__init__()
        self.opened = opened

    def on_mount(self) -> None:
        # The report is run on 10 April 2026: the screen opens on April; `[` goes to March.
        self.push_screen(ReportsScreen(self.opened.reopen_db, self.opened.config, now=NOW))


async def _settled(app: App[None], pilot: Pilot[None]) -> None:
    """Let the report worker finish and its `Loaded` message be shown."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def _rows(screen: ReportsScreen, table_id: str) -> list[list[str]]:
    table = screen.query_one(f"#{table_id}", DataTable)
    return [
        [cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(i)]
        for i in range(table.row_count)
    ]


def _screen_text(app: App[None]) -> str:
    """What the terminal would be sent for the whole screen, as text (styles dropped)."""
    console = Console(width=SIZE[0], height=SIZE[1], file=io.StringIO(), record=True,
                      force_terminal=True, color_system="truecolor", legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)


def test_hostile_book_text_is_shown_literally(tmp_path: Path) -> None:
    home = build_report_workspace(tmp_path / "ws", with_mail=False)
    workspace = open_workspace(home)
    try:
        evil = create_account(workspace.db, HOSTILE, tier="key").id
        deal = create_deal(workspace.db, evil, HOSTILE, "Closing", pipeline=Pipeline(), value=5,
                           next_action=HOSTILE, next_action_due=date(2026, 3, 2))
        backdate(workspace.db, "deals", deal.id, "created_utc", CREATED)
        add_activity(workspace.db, evil, "objection", subject=HOSTILE,
                     date_utc="2026-03-03T10:00:00Z")
        asyncio.run(_drive_hostile(ReportsHost(workspace)))
    finally:
        workspace.close()


async def _drive_hostile(app: ReportsHost) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await _settled(app, pilot)
        await pilot.press("left_square_bracket")
        await _settled(app, pilot)
        seen = ""
        for _ in SECTIONS:
            shown = _screen_text(app)
            assert "\x1b" not in shown and "\x07" not in shown and "pwned" not in shown
            seen += shown
            await pilot.press("tab")
            await _settled(app, pilot)
        # Markup stays literal text (the screen is narrow, so the cell may be cut after it).
        assert "Evil [b]Gm" in seen
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        key_cells = [row[0] for row in _rows(screen, "key-table")]
        assert "Evil [b]GmbH[/b]" in key_cells


def test_reports_screen_figures_keys_and_fit(opened: OpenWorkspace) -> None:
    # No async pytest plugin in the test extras: drive Pilot through asyncio.run.
    asyncio.run(_drive_reports(ReportsHost(opened)))


async def _drive_reports(app: ReportsHost) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await _settled(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        assert screen.period.label == "2026-04"
        # April: the big Borealis deal (20,000) is won, Echo's migration (1,500) lost.
        summary = str(screen.query_one("#summary", Static).render())
        assert summary.startswith("2026-04 │") and "won 1: 20,000.00" in summary

        await pilot.press("left_square_bracket")
        await _settled(app, pilot)
        assert screen.period.label == "2026-03"
        summary = str(screen.query_one("#summary", Static).render())
        assert "open 21,200.00 (weighted 12,320.00)" in summary
        assert "won 2: 9,000.00" in summary
        assert screen.query_one("#summary", Static).region.height == 1  # one line at 80 columns
        closed = str(screen.query_one("#closed-summary", Static).render())
        assert closed == "Won 2 deals, 9,000.00; lost 1 deals, 5,000.00."
        # The same numbers as tests/test_reports.py derives by hand.
        assert _rows(screen, "stages-table")[0] == ["Prospect", "1", "2,000.00", "500.00"]
        assert _rows(screen, "stages-table")[6] == ["Won / support", "3", "30,000.00", "30,000.00"]
        assert _rows(screen, "forecast-table")[0] == ["2026-04", "2", "18,000.00", "11,400.00"]

        # The pipeline chart is drawn inside the 80x24 screen and holds the bars.
        chart = screen.query_one("#stages-chart", PlotextPlot)
        assert chart.region.height >= 6 and chart.region.right <= SIZE[0]
        assert "Pipeline by stage" in Text.from_ansi(chart.plt.build()).plain

        tabs = screen.query_one("#sections", TabbedContent)
        assert tabs.active == "pipeline"
        for expected in [*SECTIONS[1:], SECTIONS[0]]:
            await pilot.press("tab")
            await _settled(app, pilot)
            assert tabs.active == expected
        await pilot.press("shift+tab")
        await _settled(app, pilot)
        assert tabs.active == "attention"
        # Objection text is shown literally, never read as markup.
        assert _rows(screen, "objections-table")[0][2] == "Price too high <b>&amp; | pipes"
        assert [r[0] for r in _rows(screen, "stale-table")] == ["Dormant", "Echo"]
        await pilot.press("shift+tab")
        await _settled(app, pilot)
        assert tabs.active == "key-accounts"
        assert _rows(screen, "key-table")[0][:3] == ["Acme", "4,000.00", "30.8%"]
        # Everything that matters sits inside 80x24: the tab strip and the footer.
        for widget in (tabs, screen.query_one("Footer")):
            assert widget.region.right <= SIZE[0] and widget.region.bottom <= SIZE[1]

        await pilot.press("right_square_bracket", "right_square_bracket")
        await _settled(app, pilot)
        assert screen.period.label == "2026-05"
        await pilot.press("full_stop")
        await _settled(app, pilot)
        assert screen.period.label == "2026-04"

        await pilot.press("escape")
        await _settled(app, pilot)
        assert not isinstance(app.screen, ReportsScreen)


def test_main_app_opens_reports_with_r(book: Path) -> None:
    try:
        from rapport.tui.app import RapportApp
    except ImportError:
        pytest.skip("rapport.tui.app (the main App, TUI issue) is not there yet")

    async def drive() -> None:
        app = RapportApp(home=str(book))
        async with app.run_test(size=SIZE) as pilot:
            await _settled(app, pilot)
            await pilot.press("R")
            await _settled(app, pilot)
            screen = app.screen
            assert isinstance(screen, ReportsScreen)
            assert screen.report is not None and screen.report.total_deals == 10
            await pilot.press("escape")
            await _settled(app, pilot)
            assert not isinstance(app.screen, ReportsScreen)

    asyncio.run(drive())
