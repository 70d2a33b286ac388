"""Provides `ReportsScreen`: the report's figures with bar charts, month by month, from the keyboard.

The figures are the same `Report` that `rapport report` renders (store/reports/figures.py), so the
screen and every export agree. They are computed in a thread worker on its own connection
(a second or so on a 100k-message book), so month keys never freeze the screen.

Made for 80x24: tables fit their width (tui/app/widgets/fit_table.py: figures whole, text cut,
extra columns only when wide), chart labels are shortened but stay unique, and enter on a
line opens all of it (ReportDetailScreen). Book text (account names, deal titles, objections)
is cleaned of escapes and put in `rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from rapport.store.config import Config
from rapport.store.db import Database
from rapport.store.errors import InputError
from rapport.store.reports.figures import NO_DATE, Report, build_report
from rapport.store.reports.period import Period, month_period
from rapport.store.timeutil import utc_now
from rapport.tui.app.screens.report_detail import (
    ReportDetailScreen,
    deal_detail,
    key_account_detail,
    objection_detail,
)
from rapport.tui.app.screens.report_rows import (
    COLUMNS,
    closed_deals,
    money_note,
    summary_text,
    table_rows,
)
from rapport.tui.app.widgets.bar_chart import Bar, BarChart
from rapport.tui.app.widgets.fit_table import FitTable
from rapport.tui.render.report_formats import (
    closed_text,
    hours,
    stale_title,
    waits_text,
)

# The tab panes' ids. Screen CSS is app-wide in Textual, so they must not be ids another screen
# styles (the main screen's `#pipeline` pane has a frame and 2fr width).
SECTIONS = ("pipeline-section", "forecast-section", "closed-section", "activity-section",
            "key-accounts-section", "attention-section")

class ReportsScreen(Screen[None]):
    """The monthly report: pipeline, forecast, won/lost, activity, key accounts, what needs care."""

    CSS_PATH = "reports.tcss"
    BINDING_GROUP_TITLE = "Reports"
    BINDINGS = [
        Binding("escape", "close", "Back", id="reports.back"),
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
            with TabPane("Pipeline", id="pipeline-section"):
                yield Static(id="money-note", classes="note", markup=False)
                yield BarChart(id="stages-chart")
                yield self._table("stages-table", "figures")
            with TabPane("Forecast", id="forecast-section"):
                yield BarChart(id="forecast-chart")
                yield self._table("forecast-table", "figures")
            with TabPane("Won/Lost", id="closed-section"):
                yield Static(id="closed-summary", classes="note", markup=False)
                yield self._table("closed-table", "full")
            with TabPane("Activity", id="activity-section"):
                yield Static(id="response-summary", classes="note", markup=False)
                yield self._table("activity-table", "full")
            with TabPane("Key accounts", id="key-accounts-section"):
                yield Static(
                    "enter: the account's open deals, objections, complaints and overdue actions",
                    classes="note hint",
                    markup=False,
                )
                yield self._table("key-table", "full")
            with TabPane("Attention", id="attention-section"):
                yield Label("Open objections", classes="title")
                yield self._table("objections-table", "half")
                yield Label("Open complaints", classes="title")
                yield self._table("complaints-table", "half")
                yield Label("", id="stale-title", classes="title")
                yield self._table("stale-table", "half")
        yield Footer()

    @staticmethod
    def _table(table_id: str, classes: str) -> FitTable:
        return FitTable(COLUMNS[table_id], id=table_id, classes=classes)

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
        note = money_note(r)
        self.query_one("#money-note", Static).display = note is not None
        self.query_one("#money-note", Static).update(note or "")
        for table_id, rows in table_rows(r).items():
            self.query_one(f"#{table_id}", FitTable).set_rows(rows)
        self.query_one("#stages-chart", BarChart).show(
            f"Pipeline by stage ({r.base_currency}, value / weighted)",
            [Bar(s.stage, float(s.value), float(s.weighted)) for s in r.stages],
        )
        self.query_one("#forecast-chart", BarChart).show(
            f"Expected closes by month ({r.base_currency}, value / weighted)",
            [Bar("undated" if f.month == NO_DATE else f.month, float(f.value), float(f.weighted))
             for f in r.forecast],
        )
        self.query_one("#closed-summary", Static).update(closed_text(r))
        fr = r.first_response
        self.query_one("#response-summary", Static).update(
            f"Median first response: {hours(fr.median_hours)} ({waits_text(fr)})"
        )
        self.query_one("#stale-title", Label).update(Text(stale_title(r)))

    # -- details ------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _details(self, event: DataTable.RowSelected) -> None:
        """Enter on a line whose table cuts or leaves things out: show all of it."""
        r, row = self.report, event.cursor_row
        if r is None:
            return
        table_id = event.data_table.id
        if table_id == "key-table" and row < len(r.key_accounts):
            k = r.key_accounts[row]
            self.app.push_screen(ReportDetailScreen(k.account, key_account_detail(k, r.base_currency)))
        elif table_id == "objections-table" and row < len(r.open_objections):
            o = r.open_objections[row]
            self.app.push_screen(ReportDetailScreen(o.account, objection_detail(o)))
        elif table_id == "complaints-table" and row < len(r.open_complaints):
            o = r.open_complaints[row]
            self.app.push_screen(ReportDetailScreen(o.account, objection_detail(o)))
        elif table_id == "closed-table" and row < len(closed_deals(r)):
            result, d = closed_deals(r)[row]
            self.app.push_screen(ReportDetailScreen(d.account, deal_detail(result, d, r.base_currency)))

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
