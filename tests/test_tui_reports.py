"""The Reports screen at 80x24: the store's figures, bar charts, month and section keys, escape."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from report_workspace import CREATED, NOW, backdate, build_report_workspace, set_raw
from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, TabbedContent

from rapport.store.book.accounts import create_account
from rapport.store.book.activities import add_activity
from rapport.store.book.deals import create_deal
from rapport.store.book.stages import Pipeline
from rapport.store.session import OpenWorkspace, open_workspace
from rapport.tui.app.application import RapportApp
from rapport.tui.app.screens.report_detail import ReportDetailScreen
from rapport.tui.app.screens.reports import SECTIONS, ReportsScreen
from rapport.tui.app.widgets.bar_chart import BarChart, short_labels
from rapport.tui.app.widgets.fit_table import FitTable

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
        # Through the store API, then raw: the store cleans text it is given, but a workspace
        # written before it did (or another writer) holds it as it came.
        db = workspace.db
        evil = create_account(db, "Evil", tier="key").id
        deal = create_deal(db, evil, "Evil deal", "Closing", pipeline=Pipeline(), value=5,
                           next_action="act", next_action_due=date(2026, 3, 2))
        objection = add_activity(db, evil, "objection", subject="x", date_utc="2026-03-03T10:00:00Z")
        backdate(db, "deals", deal.id, "created_utc", CREATED)
        set_raw(db, "accounts", evil, "name", HOSTILE)
        for column in ("title", "next_action"):
            set_raw(db, "deals", deal.id, column, HOSTILE)
        set_raw(db, "activities", objection.id, "subject", HOSTILE)
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


def _assert_tables_fit(screen: ReportsScreen) -> None:
    """Every table of the shown section is whole across: no column beyond the right edge."""
    tabs = screen.query_one("#sections", TabbedContent)
    for table in tabs.get_pane(tabs.active).query(FitTable):
        assert table.virtual_size.width <= table.size.width, table.id
        assert table.region.right <= SIZE[0]


def _assert_section_fits(screen: ReportsScreen) -> None:
    """The shown section, its charts and tables lie inside the screen, without a frame."""
    tabs = screen.query_one("#sections", TabbedContent)
    pane = tabs.get_pane(tabs.active)
    assert pane.region.right <= SIZE[0] and pane.styles.border_top[0] == "", tabs.active
    for chart in pane.query(BarChart):
        assert chart.region.right <= SIZE[0], chart.id
    _assert_tables_fit(screen)


def test_reports_screen_figures_keys_and_fit(opened: OpenWorkspace) -> None:
    # No async pytest plugin in the test extras: drive Pilot through asyncio.run.
    asyncio.run(_drive_reports(ReportsHost(opened)))


async def _drive_reports(app: ReportsHost) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await _settled(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        assert screen.period.label == "2026-04"
        # April: the big Borealis deal (20,000) is won, Echo's migration (1,500) and Cobalt's
        # expansion (2,500, won in March) lost.
        summary = str(screen.query_one("#summary", Static).render())
        assert summary.startswith("2026-04 │") and "won 1: 20,000.00" in summary

        await pilot.press("left_square_bracket")
        await _settled(app, pilot)
        assert screen.period.label == "2026-03"
        summary = str(screen.query_one("#summary", Static).render())
        assert "open 21,200.00 (weighted 12,320.00)" in summary
        assert "won 4: 18,500.00" in summary
        assert screen.query_one("#summary", Static).region.height == 1  # one line at 80 columns
        closed = str(screen.query_one("#closed-summary", Static).render())
        assert closed == "Won 4 deals, 18,500.00; lost 1 deal, 5,000.00."
        # The same numbers as tests/test_reports.py derives by hand.
        assert _rows(screen, "stages-table")[0] == ["Prospect", "1", "2,000.00", "500.00"]
        assert _rows(screen, "stages-table")[6] == ["Won / support", "3", "30,000.00", "30,000.00"]
        assert _rows(screen, "forecast-table")[0] == ["2026-04", "2", "18,000.00", "11,400.00"]

        # The pipeline chart holds one value/weighted bar pair per stage, the report's figures,
        # and every stage's label is drawn, shortened but unique.
        chart = screen.query_one("#stages-chart", BarChart)
        assert [(b.label, b.value, b.weighted) for b in chart.bars] == [
            ("Prospect", 2000.0, 500.0),
            ("Appointment", 0.0, 0.0),
            ("Needs identified", 1200.0, 420.0),
            ("Proposal presented", 10000.0, 5000.0),
            ("Objections", 0.0, 0.0),
            ("Closing", 8000.0, 6400.0),
            ("Won / support", 30000.0, 30000.0),
            ("Referral", 10000.0, 10000.0),
            ("Lost", 9000.0, 0.0),
        ]
        drawn = _screen_text(app)
        assert chart.labels == [
            "Prosp…", "Appoi…", "Needs", "Propo…", "Objec…", "Closi…", "Won", "Refer…", "Lost",
        ]  # fmt: skip
        axis = drawn.splitlines()[chart.region.bottom - 1]
        assert axis.split() == chart.labels
        assert "30k┤" in drawn  # the top of the value axis: Won / support, 30,000
        # All nine stages are in the table under it, none scrolled away.
        stages = screen.query_one("#stages-table", FitTable)
        assert stages.region.height >= stages.row_count + 1 and "│ Lost" not in drawn
        assert " Lost " in drawn.splitlines()[stages.region.bottom - 1]
        _assert_tables_fit(screen)

        tabs = screen.query_one("#sections", TabbedContent)
        assert tabs.active == "pipeline-section"
        for expected in [*SECTIONS[1:], SECTIONS[0]]:
            await pilot.press("tab")
            await _settled(app, pilot)
            assert tabs.active == expected
            _assert_tables_fit(screen)
        await pilot.press("shift+tab")
        await _settled(app, pilot)
        assert tabs.active == "attention-section"
        # Objection text is shown literally, never read as markup; Days stays on screen.
        assert _rows(screen, "objections-table")[0][2] == "Price too high <b>&amp; | pipes"
        assert screen.query_one("#objections-table", FitTable).shown_headers == [
            "Account", "Raised", "Objection", "Days",
        ]  # fmt: skip
        assert [r[0] for r in _rows(screen, "stale-table")] == ["Dormant", "Echo"]
        # Complaints open on 31 March, oldest first (Cobalt's was resolved on 15 March).
        assert [(r[0], r[2], r[3]) for r in _rows(screen, "complaints-table")] == [
            ("Acme", "Invoice sent twice", "22"), ("Borealis", "Pallets damaged", "12"),
        ]  # fmt: skip
        await pilot.press("shift+tab")
        await _settled(app, pilot)
        assert tabs.active == "key-accounts-section"
        # At 80 columns the key table drops Won, In period and Next action (enter shows them).
        key_table = screen.query_one("#key-table", FitTable)
        assert key_table.shown_headers == [
            "Account", "Share", "Last contact", "Deals", "Open value", "Obj.", "Compl.", "Late",
        ]  # fmt: skip
        assert _rows(screen, "key-table")[0] == [
            "Acme", "48.9%", "2026-03-10", "2", "12,000.00", "1", "1", "1",
        ]  # fmt: skip
        await pilot.press("down", "enter")
        await _settled(app, pilot)
        detail = app.screen
        assert isinstance(detail, ReportDetailScreen)
        shown = _screen_text(app)
        # The value column carries each deal's currency, so at 80 columns the title wraps.
        assert "Borealis" in shown and "Revenue share 13.3%" in shown and "Borealis big" in shown
        assert "call CFO" in shown
        await pilot.press("escape")
        await _settled(app, pilot)
        assert app.screen is screen

        await pilot.press("right_square_bracket", "right_square_bracket")
        await _settled(app, pilot)
        assert screen.period.label == "2026-05"
        await pilot.press("full_stop")
        await _settled(app, pilot)
        assert screen.period.label == "2026-04"

        await pilot.press("escape")
        await _settled(app, pilot)
        assert not isinstance(app.screen, ReportsScreen)


def test_enter_opens_the_line_of_each_table_that_cuts_it(opened: OpenWorkspace) -> None:
    asyncio.run(_drive_details(ReportsHost(opened)))


async def _open_line(app: ReportsHost, pilot: Pilot[None], section: str, table_id: str,
                     row: int) -> str:
    """Show `section`, put the cursor on `row` of `table_id` and press enter: the detail's title
    and text, or "" when nothing opened."""
    screen = app.screen
    assert isinstance(screen, ReportsScreen)
    screen.query_one("#sections", TabbedContent).active = section
    await _settled(app, pilot)
    table = screen.query_one(f"#{table_id}", FitTable)
    table.focus()
    table.move_cursor(row=row)
    await pilot.press("enter")
    await _settled(app, pilot)
    if not isinstance(app.screen, ReportDetailScreen):
        assert app.screen is screen
        return ""
    box = app.screen.query_one("#detail", VerticalScroll)
    console = Console(width=SIZE[0], file=io.StringIO(), record=True)
    console.print(app.screen.query_one("#detail-body", Static).content)
    shown = f"{box.border_title}\n{console.export_text()}"
    await pilot.press("escape")
    await _settled(app, pilot)
    assert app.screen is screen
    return shown


async def _drive_details(app: ReportsHost) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await _settled(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        # April's won deal is first on Won/Lost; the lost ones follow.
        won = await _open_line(app, pilot, "closed-section", "closed-table", 0)
        assert won.startswith("Borealis\n") and "Borealis big deal" in won
        lost = await _open_line(app, pilot, "closed-section", "closed-table", 1)
        assert lost.startswith("Echo\n") and "Echo migration" in lost
        complaint = await _open_line(app, pilot, "attention-section", "complaints-table", 1)
        assert complaint.startswith("Borealis\n") and "Pallets damaged" in complaint
        objection = await _open_line(app, pilot, "attention-section", "objections-table", 0)
        assert "Price too high" in objection and "Pallets damaged" not in objection
        # The stage table cuts nothing: enter there opens nothing.
        assert await _open_line(app, pilot, "pipeline-section", "stages-table", 0) == ""


def test_main_app_opens_reports_with_r(book: Path) -> None:
    async def drive() -> None:
        app = RapportApp(home=str(book))
        async with app.run_test(size=SIZE) as pilot:
            await _settled(app, pilot)
            await pilot.press("R")
            await _settled(app, pilot)
            screen = app.screen
            assert isinstance(screen, ReportsScreen)
            assert screen.report is not None and screen.report.total_deals == 12
            # The app's own styles (other screens' ids) must not reach the report's sections:
            # each one fits the screen, and the pipeline chart's labels are all drawn.
            for _ in SECTIONS:
                _assert_section_fits(screen)
                await pilot.press("tab")
                await _settled(app, pilot)
            chart = screen.query_one("#stages-chart", BarChart)
            axis = _screen_text(app).splitlines()[chart.region.bottom - 1]
            assert axis.split() == chart.labels
            await pilot.press("escape")
            await _settled(app, pilot)
            assert not isinstance(app.screen, ReportsScreen)

    asyncio.run(drive())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("section", ["pipeline", "forecast", "key-accounts", "attention", "detail"])
def test_reports_snapshot(
    snap_compare: Any, opened: OpenWorkspace, section: str, size: tuple[int, int]
) -> None:
    """March 2026 on the report book, section by section, at 80x24 and 160x48."""

    async def run_before(pilot: Pilot[None]) -> None:
        await _settled(pilot.app, pilot)
        await pilot.press("left_square_bracket")
        await _settled(pilot.app, pilot)
        target = ("key-accounts" if section == "detail" else section) + "-section"
        while pilot.app.screen.query_one("#sections", TabbedContent).active != target:
            await pilot.press("tab")
            await _settled(pilot.app, pilot)
        if section == "detail":
            await pilot.press("enter")
            await _settled(pilot.app, pilot)

    assert snap_compare(ReportsHost(opened), terminal_size=size, run_before=run_before)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_hostile_key_account_in_a_real_terminal(tmp_path: Path) -> None:
    """The audit's case in tmux at 80x24: R, then Key accounts; the pane title stays ours."""
    home = build_report_workspace(tmp_path / "ws", with_mail=False)
    workspace = open_workspace(home)
    try:
        evil = create_account(workspace.db, "Evil", tier="key").id
        set_raw(workspace.db, "accounts", evil, "name", HOSTILE)  # as an older workspace holds it
    finally:
        workspace.close()
    rapport = Path(sys.executable).parent / "rapport"
    session = f"rapport-reports-{tmp_path.name}"
    # A private tmux server, and the pane's own size (not COLUMNS/LINES inherited from pytest).
    server = ["tmux", "-L", f"rapport-reports-{os.getpid()}"]
    subprocess.run([*server, "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    f"env -u COLUMNS -u LINES {rapport} --home {home}; sleep 30"], check=True)

    def tmux(*args: str) -> str:
        return subprocess.run([*server, *args], capture_output=True, text=True, check=True).stdout

    def wait_for(text: str) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pane = tmux("capture-pane", "-p", "-t", session)
            if text in pane:
                return pane
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; pane was:\n{pane}")

    try:
        wait_for("Prospect")
        tmux("send-keys", "-t", session, "R")
        # The whole chart is on screen, its frame closed at the right edge.
        pane = wait_for("Pipeline by stage (EUR, value / weighted)")
        assert any(line.rstrip().endswith("┐") and len(line.rstrip()) == 80
                   for line in pane.splitlines())
        tmux("send-keys", "-t", session, "Tab", "Tab", "Tab", "Tab")
        pane = wait_for("Late")
        assert "Evil [b]GmbH[/b]" in pane
        assert "pwned" not in tmux("display-message", "-p", "-t", session, "#{pane_title}")
        assert "Late" in pane.splitlines()[4]  # the last column header is on screen
    finally:
        subprocess.run([*server, "kill-server"], check=False)


def test_chart_labels_fit_and_stay_unique() -> None:
    stages = [s.name for s in Pipeline().stages]
    for width in range(3, 21):
        labels = short_labels(stages, width)
        assert len(set(labels)) == len(stages) and all(len(x) <= width for x in labels), width
    assert short_labels(stages, 20) == stages  # room enough: the names themselves
    # Months across a year boundary keep their year when cut.
    months = ["2026-11", "2026-12", "2027-01", "2027-12", "undated"]
    assert short_labels(months, 6) == ["Nov 26", "Dec 26", "Jan 27", "Dec 27", "undat…"]
    assert short_labels(months, 5) == ["11/26", "12/26", "01/27", "12/27", "unda…"]
    assert short_labels(["Closing A", "Closing B"], 5) == ["ClosA", "ClosB"]
