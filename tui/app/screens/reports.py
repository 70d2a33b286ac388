"""Provides `ReportsScreen`: the report's figures with bar charts, month by month, from the keyboard.

The figures are the same `Report` that `rapport report` renders (store/reports/figures.py), so the
screen and every export agree. They are computed in a thread worker on its own connection
(a second or so on a 100k-message book), so month keys never freeze the screen.

Made for 80x24: each section (tui/app/widgets/report_sections.py) fits its tables to the width,
chart labels are shortened but stay unique, and enter on a line opens all of it
(ReportDetailScreen).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent
from textual.worker import get_current_worker

from rapport.store.config import Config
from rapport.store.db import Database
from rapport.store.errors import InputError
from rapport.store.reports.figures import Report, build_report
from rapport.store.reports.period import Period, month_period
from rapport.store.timeutil import utc_now
from rapport.tui.app.screens.report_detail import ReportDetailScreen
from rapport.tui.app.screens.report_rows import summary_text
from rapport.tui.app.widgets.report_sections import SECTION_TYPES, ReportSection
from rapport.tui.app.widgets.status_bar import StatusBar

# The tab panes' ids, in tab order.
SECTIONS = tuple(section.TAB_ID for section in SECTION_TYPES)


class ReportsScreen(Screen[None]):
    """The monthly report: pipeline, forecast, won/lost, activity, key accounts, what needs care."""

    CSS_PATH = "reports.tcss"
    BINDING_GROUP_TITLE = "Reports"
    BINDINGS = [
        Binding("escape,q", "close", "Back", id="reports.back"),  # q goes back, as on every screen but the main one
        Binding("left_square_bracket", "shift_period(-1)", "Prev month", id="reports.prev"),
        Binding("right_square_bracket", "shift_period(1)", "Next month", id="reports.next"),
        Binding("full_stop", "this_month", "This month", id="reports.this-month"),
        Binding("tab", "section(1)", "Section", id="reports.next-section"),
        # Shown in `?` help but not the footer: at 80 columns the footer has no room for it.
        Binding("shift+tab", "section(-1)", "Prev section", id="reports.prev-section", show=False),
    ]

    period: reactive[Period] = reactive(month_period(utc_now().date()), init=False)
    """The period shown; changing it recomputes every figure."""

    @dataclass
    class Loaded(Message):
        """A report was computed for the period it names."""

        report: Report

    def __init__(
        self,
        db_factory: Callable[[], Database],
        config: Config,
        *,
        now: datetime | None = None,
    ) -> None:
        """`db_factory` opens a new connection (e.g. `OpenWorkspace.reopen_db`): the report is
        computed on a worker thread, and SQLite connections stay on their own thread.
        `now` fixes the clock (tests)."""
        super().__init__()
        self._db_factory = db_factory
        self._config = config
        self._now = now
        self.report: Report | None = None
        self.set_reactive(ReportsScreen.period, month_period((now or utc_now()).astimezone().date()))

    def compose(self) -> ComposeResult:
        yield Static(id="summary", markup=False)
        with TabbedContent(id="sections"):
            for section in SECTION_TYPES:
                yield section()
        yield StatusBar()  # whole keys only, ? always (as on every other screen)

    def on_mount(self) -> None:
        self.load()

    # -- data ---------------------------------------------------------------------------------

    def load(self) -> None:
        """Recompute the report for `period` in the background; `Loaded` shows it."""
        self.query_one("#summary", Static).update(f"{self.period.label} │ computing…")
        self._compute(self.period)

    @work(thread=True, exclusive=True, group="reports", exit_on_error=False)
    def _compute(self, period: Period) -> None:
        db = self._db_factory()
        try:
            report = build_report(
                db,
                self._config.pipeline,
                period,
                stale_after_days=self._config.stale_after_days,
                now=self._now,
                money=self._config.money,
            )
        finally:
            db.close()
        # A newer period replaced this one while it ran: its result would be stale.
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(report))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        if event.report.period != self.period:
            return
        self.report = event.report
        self._show(event.report)

    def watch_period(self) -> None:
        self.load()

    def _show(self, r: Report) -> None:
        self.query_one("#summary", Static).update(summary_text(r))
        for section in self.query(ReportSection):
            section.show(r)

    @on(DataTable.RowSelected)
    def _details(self, event: DataTable.RowSelected) -> None:
        """Enter on a line whose table cuts or leaves things out: show all of it."""
        section = next((a for a in event.data_table.ancestors if isinstance(a, ReportSection)), None)
        if self.report is None or section is None or event.data_table.id is None:
            return
        detail = section.detail(self.report, event.data_table.id, event.cursor_row)
        if detail is not None:
            self.app.push_screen(ReportDetailScreen(*detail))

    # -- actions ------------------------------------------------------------------------------

    def action_shift_period(self, months: int) -> None:
        try:
            self.period = self.period.shifted(months)
        except InputError as exc:  # past year 9999 or before year 1
            self.notify(exc.message, severity="warning")

    def action_this_month(self) -> None:
        self.period = month_period((self._now or utc_now()).astimezone().date())

    def action_section(self, step: int) -> None:
        tabs = self.query_one("#sections", TabbedContent)
        position = SECTIONS.index(tabs.active) if tabs.active in SECTIONS else 0
        tabs.active = SECTIONS[(position + step) % len(SECTIONS)]
        # Keep the keys on the section's first table so arrows scroll what is shown.
        pane = tabs.get_pane(tabs.active)
        tables = pane.query(DataTable)
        if tables:
            tables.first().focus()

    def action_close(self) -> None:
        self.dismiss(None)
