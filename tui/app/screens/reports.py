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
from textual.widgets import DataTable, Label, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from rapport.store.config import Config
from rapport.store.db import Database
from rapport.store.errors import InputError
from rapport.store.reports.figures import NO_DATE, ClosedDeal, Report, build_report
from rapport.store.reports.period import Period, month_period
from rapport.store.timeutil import utc_now
from rapport.tui.app.safe import clean
from rapport.tui.app.screens.report_detail import (
    ReportDetailScreen,
    deal_detail,
    key_account_detail,
    objection_detail,
)
from rapport.tui.app.widgets.bar_chart import Bar, BarChart
from rapport.tui.app.widgets.fit_table import Column, FitTable
from rapport.tui.app.widgets.status_bar import StatusBar
from rapport.tui.render.report_formats import (
    closed_text,
    day_of,
    hours,
    money,
    next_action_text,
    stale_title,
    waits_text,
)

# The tab panes' ids. Screen CSS is app-wide in Textual, so they must not be ids another screen
# styles (the main screen's `#pipeline` pane has a frame and 2fr width).
SECTIONS = ("pipeline-section", "forecast-section", "closed-section", "activity-section",
            "key-accounts-section", "attention-section")

# Columns per table id: figures keep their width, flex text is cut, wide ones need room.
_COLUMNS: dict[str, tuple[Column, ...]] = {
    "stages-table": (Column("Stage", flex=True), Column("Deals"), Column("Value"),
                     Column("Weighted")),
    "forecast-table": (Column("Month"), Column("Deals"), Column("Value"), Column("Weighted")),
    "closed-table": (Column("Result"), Column("Account", flex=True), Column("Deal", flex=True),
                     Column("Value"), Column("Closed")),
    "activity-table": (Column("Account", flex=True), Column("In"), Column("Out"),
                       Column("Calls"), Column("Meet."), Column("Notes")),
    "key-table": (Column("Account", flex=True), Column("Won", wide=True),
                  Column("In period", wide=True), Column("Share"), Column("Last contact"),
                  Column("Deals"), Column("Open value"), Column("Obj."), Column("Compl."),
                  Column("Late"),
                  Column("Next action", flex=True, wide=True)),
    "objections-table": (Column("Account", flex=True), Column("Raised"),
                         Column("Objection", flex=True), Column("Days")),
    "complaints-table": (Column("Account", flex=True), Column("Raised"),
                         Column("Complaint", flex=True), Column("Days")),
    "stale-table": (Column("Account", flex=True), Column("Last contact"), Column("Days")),
}


def _cell(value: object) -> Text:
    """A table cell: numbers right-aligned; book text cleaned of escapes, never markup."""
    if isinstance(value, int | float):
        return Text(str(value), justify="right")
    return Text(clean(str(value)), no_wrap=True, overflow="ellipsis")


def _num(text: str) -> Text:
    return Text(clean(text), justify="right")


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
            with TabPane("Pipeline", id="pipeline-section"):
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
        yield StatusBar()  # whole keys only, ? always (as on every other screen)

    @staticmethod
    def _table(table_id: str, classes: str) -> FitTable:
        return FitTable(_COLUMNS[table_id], id=table_id, classes=classes)

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

    def _fill(self, table_id: str, rows: list[list[Text]]) -> None:
        self.query_one(f"#{table_id}", FitTable).set_rows(rows)

    def _show(self, r: Report) -> None:
        self.query_one("#summary", Static).update(
            f"{r.period.label} │ open {money(r.open_value)} (weighted "
            f"{money(r.open_weighted)}) │ won {len(r.won)}: {money(r.won_value)}"
        )
        self._show_pipeline(r)
        self._show_closed(r)
        self._show_activity(r)
        self._show_key_accounts(r)
        self._show_attention(r)

    def _show_pipeline(self, r: Report) -> None:
        self._fill(
            "stages-table",
            [
                [_cell(s.stage), _cell(s.deals), _num(money(s.value)), _num(money(s.weighted))]
                for s in r.stages
            ],
        )
        self._fill(
            "forecast-table",
            [
                [_cell(f.month), _cell(f.deals), _num(money(f.value)), _num(money(f.weighted))]
                for f in r.forecast
            ],
        )
        self.query_one("#stages-chart", BarChart).show(
            "Pipeline by stage (value / weighted)",
            [Bar(s.stage, s.value, s.weighted) for s in r.stages],
        )
        self.query_one("#forecast-chart", BarChart).show(
            "Expected closes by month (value / weighted)",
            [Bar("undated" if f.month == NO_DATE else f.month, f.value, f.weighted)
             for f in r.forecast],
        )

    def _show_closed(self, r: Report) -> None:
        self.query_one("#closed-summary", Static).update(closed_text(r))
        self._fill(
            "closed-table",
            [
                [
                    _cell(result),
                    _cell(d.account),
                    _cell(d.title),
                    _num(money(d.value)),
                    _cell(day_of(d.closed_utc)),
                ]
                for result, d in self._closed_rows(r)
            ],
        )

    @staticmethod
    def _closed_rows(r: Report) -> list[tuple[str, ClosedDeal]]:
        return [("won", d) for d in r.won] + [("lost", d) for d in r.lost]

    def _show_activity(self, r: Report) -> None:
        fr = r.first_response
        self.query_one("#response-summary", Static).update(
            f"Median first response: {hours(fr.median_hours)} ({waits_text(fr)})"
        )
        self._fill(
            "activity-table",
            [
                [
                    _cell(a.account),
                    _cell(a.mails_in),
                    _cell(a.mails_out),
                    _cell(a.calls),
                    _cell(a.meetings),
                    _cell(a.notes),
                ]
                for a in r.activity
            ],
        )

    def _show_key_accounts(self, r: Report) -> None:
        self._fill(
            "key-table",
            [
                [
                    _cell(k.account),
                    _num(money(k.won_value)),
                    _num(money(k.won_in_period)),
                    _num(f"{k.revenue_share:.1f}%"),
                    _cell(day_of(k.last_contact_utc)),
                    _cell(len(k.open_deals)),
                    _num(money(k.open_value)),
                    _cell(len(k.open_objections)),
                    _cell(len(k.open_complaints)),
                    _cell(len(k.overdue_deals)),
                    _cell(next_action_text(k)),
                ]
                for k in r.key_accounts
            ],
        )

    def _show_attention(self, r: Report) -> None:
        for table_id, items in (("objections-table", r.open_objections),
                                ("complaints-table", r.open_complaints)):
            self._fill(
                table_id,
                [
                    [_cell(o.account), _cell(day_of(o.date_utc)), _cell(o.subject),
                     _cell(o.age_days)]
                    for o in items
                ],
            )
        self.query_one("#stale-title", Label).update(
            Text(stale_title(r))
        )
        self._fill(
            "stale-table",
            [
                [
                    _cell(s.account),
                    _cell(day_of(s.last_contact_utc)),
                    _cell("never" if s.days_since is None else s.days_since),
                ]
                for s in r.stale_accounts
            ],
        )

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
            self.app.push_screen(ReportDetailScreen(k.account, key_account_detail(k)))
        elif table_id == "objections-table" and row < len(r.open_objections):
            o = r.open_objections[row]
            self.app.push_screen(ReportDetailScreen(o.account, objection_detail(o)))
        elif table_id == "complaints-table" and row < len(r.open_complaints):
            o = r.open_complaints[row]
            self.app.push_screen(ReportDetailScreen(o.account, objection_detail(o)))
        elif table_id == "closed-table" and row < len(self._closed_rows(r)):
            result, d = self._closed_rows(r)[row]
            self.app.push_screen(ReportDetailScreen(d.account, deal_detail(result, d)))

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
