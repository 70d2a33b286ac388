"""Provides `ReportsScreen`: the report's figures with bar charts, month by month, from the keyboard.

The figures are the same `Report` that `rapport report` renders (store/reports.py), so the
screen and every export agree. They are computed in a thread worker on its own connection
(a second or so on a 100k-message book), so month keys never freeze the screen. Text from the book (account names, deal titles, objections) is
put in tables as `rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from sqlite_utils import Database
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static, TabbedContent, TabPane
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from rapport.store.config import Config
from rapport.store.errors import InputError
from rapport.store.report_period import Period, month_period
from rapport.store.reports import Report, build_report
from rapport.store.timeutil import utc_now
from rapport.tui.report_formats import day_of, hours, money, next_action_text, waits_text
from rapport.tui.safe import clean

SECTIONS = ("pipeline", "forecast", "closed", "activity", "key-accounts", "attention")

# Column headers per table id; numbers are right-aligned.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "stages-table": ("Stage", "Deals", "Value", "Weighted"),
    "forecast-table": ("Month", "Deals", "Value", "Weighted"),
    "closed-table": ("Result", "Account", "Deal", "Value", "Closed"),
    "activity-table": ("Account", "In", "Out", "Calls", "Meet.", "Notes"),
    "key-table": (
        "Account",
        "Won",
        "Share",
        "Last contact",
        "Deals",
        "Open",
        "Obj.",
        "Late",
        "Next action",
    ),
    "objections-table": ("Account", "Raised", "Objection", "Days"),
    "stale-table": ("Account", "Last contact", "Days"),
}


def _cell(value: object) -> Text:
    """A table cell: book text (names, titles, objections) cleaned of escapes, never markup."""
    if isinstance(value, int | float):
        return Text(str(value), justify="right")
    return Text(clean(str(value)), no_wrap=True, overflow="ellipsis")


def _num(text: str) -> Text:
    return Text(clean(text), justify="right")


def _short(label: str) -> str:
    """A stage name short enough for a bar label at 80 columns."""
    first = label.split()[0] if label.split() else label
    return first[:9]


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
        self.set_reactive(ReportsScreen.period, month_period((now or utc_now()).date()))

    def compose(self) -> ComposeResult:
        yield Static(id="summary", markup=False)
        with TabbedContent(id="sections"):
            with TabPane("Pipeline", id="pipeline"):
                yield PlotextPlot(id="stages-chart")
                yield DataTable(id="stages-table", classes="figures")
            with TabPane("Forecast", id="forecast"):
                yield PlotextPlot(id="forecast-chart")
                yield DataTable(id="forecast-table", classes="figures")
            with TabPane("Won/Lost", id="closed"):
                yield Static(id="closed-summary", classes="note", markup=False)
                yield DataTable(id="closed-table", classes="full")
            with TabPane("Activity", id="activity"):
                yield Static(id="response-summary", classes="note", markup=False)
                yield DataTable(id="activity-table", classes="full")
            with TabPane("Key accounts", id="key-accounts"):
                yield DataTable(id="key-table", classes="full")
            with TabPane("Attention", id="attention"):
                yield Label("Open objections", classes="title")
                yield DataTable(id="objections-table", classes="half")
                yield Label("", id="stale-title", classes="title")
                yield DataTable(id="stale-table", classes="half")
        yield Footer()

    def on_mount(self) -> None:
        for table_id, columns in _COLUMNS.items():
            table = self.query_one(f"#{table_id}", DataTable)
            table.cursor_type = "row"
            table.zebra_stripes = True
            table.add_columns(*columns)
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
        table = self.query_one(f"#{table_id}", DataTable)
        table.clear()
        table.add_rows(rows)

    def _show(self, r: Report) -> None:
        fr = r.first_response
        self.query_one("#summary", Static).update(
            f"{r.period.label} │ open {money(r.open_value)} (weighted "
            f"{money(r.open_weighted)}) │ won {len(r.won)}: {money(r.won_value)}"
        )
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
        self.query_one("#closed-summary", Static).update(
            f"Won {len(r.won)} deals, {money(r.won_value)}; "
            f"lost {len(r.lost)} deals, {money(r.lost_value)}."
        )
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
                for result, deals in (("won", r.won), ("lost", r.lost))
                for d in deals
            ],
        )
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
        self._fill(
            "key-table",
            [
                [
                    _cell(k.account),
                    _num(money(k.won_value)),
                    _num(f"{k.revenue_share:.1f}%"),
                    _cell(day_of(k.last_contact_utc)),
                    _cell(len(k.open_deals)),
                    _num(money(k.open_value)),
                    _cell(len(k.open_objections)),
                    _cell(len(k.overdue_deals)),
                    _cell(next_action_text(k)),
                ]
                for k in r.key_accounts
            ],
        )
        self._fill(
            "objections-table",
            [
                [_cell(o.account), _cell(day_of(o.date_utc)), _cell(o.subject), _cell(o.age_days)]
                for o in r.open_objections
            ],
        )
        self.query_one("#stale-title", Label).update(
            Text(f"Stale accounts (no contact for {r.stale_after_days} days)")
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
        self._plot(
            "stages-chart",
            "Pipeline by stage (value / weighted)",
            [(_short(s.stage), s.value, s.weighted) for s in r.stages],
        )
        self._plot(
            "forecast-chart",
            "Expected closes by month (value / weighted)",
            [(f.month, f.value, f.weighted) for f in r.forecast],
        )

    def _plot(self, plot_id: str, title: str, bars: list[tuple[str, float, float]]) -> None:
        widget = self.query_one(f"#{plot_id}", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        if bars:
            labels = [clean(label) for label, _, _ in bars]
            plt.multiple_bar(
                labels,
                [[value for _, value, _ in bars], [weighted for _, _, weighted in bars]],
                labels=["value", "weighted"],
            )
        widget.refresh()

    # -- actions ------------------------------------------------------------------------------

    def action_shift_period(self, months: int) -> None:
        try:
            self.period = self.period.shifted(months)
        except InputError as exc:  # past year 9999 or before year 1
            self.notify(exc.message, severity="warning")

    def action_this_month(self) -> None:
        self.period = month_period((self._now or utc_now()).date())

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
