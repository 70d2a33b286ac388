"""Provides the Reports screen's sections: one tab pane per part of the report, each filling its
own tables and charts from a `Report` and naming what enter on one of its lines opens.

Book text (account names, deal titles, objections) is cleaned of escapes and put in
`rich.text.Text`, never parsed as markup. Tables fit their width (fit_table.py: figures whole,
text cut, extra columns only when wide).
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, Static, TabPane

from rapport.store.reports.figures import NO_DATE, ClosedDeal, OpenObjection, Report
from rapport.tui.app.safe import clean
from rapport.tui.app.screens.report_detail import deal_detail, key_account_detail, objection_detail
from rapport.tui.app.screens.report_rows import money_note
from rapport.tui.app.widgets.bar_chart import Bar, BarChart
from rapport.tui.app.widgets.fit_table import Column, FitTable
from rapport.tui.render.report_formats import (
    amount_text,
    closed_text,
    day_of,
    hours,
    money,
    next_action_text,
    stale_title,
    waits_text,
)

# What enter on a line opens: ReportDetailScreen's title and content.
Detail = tuple[str, RenderableType]


def _cell(value: object) -> Text:
    """A table cell: numbers right-aligned; book text cleaned of escapes, never markup."""
    if isinstance(value, int | float):
        return Text(str(value), justify="right")
    return Text(clean(str(value)), no_wrap=True, overflow="ellipsis")


def _num(text: str) -> Text:
    return Text(clean(text), justify="right")


class ReportSection(TabPane):
    """One tab of the report. `show` fills it; `detail` is what enter on a line of one of its
    tables opens (None: nothing more to show than the line)."""

    TAB_TITLE: ClassVar[str]
    # Screen CSS is app-wide in Textual, so a tab's id must not be one another screen styles
    # (the main screen's `#pipeline` pane has a frame and 2fr width): hence "-section".
    TAB_ID: ClassVar[str]

    def __init__(self) -> None:
        super().__init__(self.TAB_TITLE, id=self.TAB_ID)

    def show(self, report: Report) -> None:
        raise NotImplementedError

    def detail(self, report: Report, table_id: str, row: int) -> Detail | None:
        return None

    def _fill(self, table_id: str, rows: list[list[Text]]) -> None:
        self.query_one(f"#{table_id}", FitTable).set_rows(rows)


class PipelineSection(ReportSection):
    TAB_TITLE = "Pipeline"
    TAB_ID = "pipeline-section"

    def compose(self) -> ComposeResult:
        yield Static(id="money-note", classes="note", markup=False)
        yield BarChart(id="stages-chart")
        yield FitTable((Column("Stage", flex=True), Column("Deals"), Column("Value"),
                        Column("Weighted")), id="stages-table", classes="figures")

    def show(self, report: Report) -> None:
        base = report.base_currency
        note = money_note(report)
        self.query_one("#money-note", Static).display = note is not None
        self.query_one("#money-note", Static).update(note or "")
        self._fill("stages-table", [
            [_cell(s.stage), _cell(s.deals), _num(money(s.value, base)),
             _num(money(s.weighted, base))]
            for s in report.stages
        ])
        self.query_one("#stages-chart", BarChart).show(
            f"Pipeline by stage ({base}, value / weighted)",
            [Bar(s.stage, float(s.value), float(s.weighted)) for s in report.stages],
        )


class ForecastSection(ReportSection):
    TAB_TITLE = "Forecast"
    TAB_ID = "forecast-section"

    def compose(self) -> ComposeResult:
        yield BarChart(id="forecast-chart")
        yield FitTable((Column("Month"), Column("Deals"), Column("Value"), Column("Weighted")),
                       id="forecast-table", classes="figures")

    def show(self, report: Report) -> None:
        base = report.base_currency
        self._fill("forecast-table", [
            [_cell(f.month), _cell(f.deals), _num(money(f.value, base)),
             _num(money(f.weighted, base))]
            for f in report.forecast
        ])
        self.query_one("#forecast-chart", BarChart).show(
            f"Expected closes by month ({base}, value / weighted)",
            [Bar("undated" if f.month == NO_DATE else f.month, float(f.value), float(f.weighted))
             for f in report.forecast],
        )


def closed_rows(report: Report) -> list[tuple[str, ClosedDeal]]:
    """The Won/Lost table's lines: won deals, then lost ones."""
    return [("won", d) for d in report.won] + [("lost", d) for d in report.lost]


class ClosedSection(ReportSection):
    TAB_TITLE = "Won/Lost"
    TAB_ID = "closed-section"

    def compose(self) -> ComposeResult:
        yield Static(id="closed-summary", classes="note", markup=False)
        yield FitTable((Column("Result"), Column("Account", flex=True), Column("Deal", flex=True),
                        Column("Value"), Column("Closed")), id="closed-table", classes="full")

    def show(self, report: Report) -> None:
        self.query_one("#closed-summary", Static).update(closed_text(report))
        self._fill("closed-table", [
            [_cell(result), _cell(d.account), _cell(d.title), _num(amount_text(d.value, d.currency)),
             _cell(day_of(d.closed_utc))]
            for result, d in closed_rows(report)
        ])

    def detail(self, report: Report, table_id: str, row: int) -> Detail | None:
        lines = closed_rows(report)
        if table_id != "closed-table" or row >= len(lines):
            return None
        result, deal = lines[row]
        return deal.account, deal_detail(result, deal, report.base_currency)


class ActivitySection(ReportSection):
    TAB_TITLE = "Activity"
    TAB_ID = "activity-section"

    def compose(self) -> ComposeResult:
        yield Static(id="response-summary", classes="note", markup=False)
        yield FitTable((Column("Account", flex=True), Column("In"), Column("Out"),
                        Column("Calls"), Column("Meet."), Column("Notes")),
                       id="activity-table", classes="full")

    def show(self, report: Report) -> None:
        fr = report.first_response
        self.query_one("#response-summary", Static).update(
            f"Median first response: {hours(fr.median_hours)} ({waits_text(fr)})"
        )
        self._fill("activity-table", [
            [_cell(a.account), _cell(a.mails_in), _cell(a.mails_out), _cell(a.calls),
             _cell(a.meetings), _cell(a.notes)]
            for a in report.activity
        ])


class KeyAccountsSection(ReportSection):
    TAB_TITLE = "Key accounts"
    TAB_ID = "key-accounts-section"

    def compose(self) -> ComposeResult:
        yield Static("enter: the account's open deals, objections, complaints and overdue actions",
                     classes="note hint", markup=False)
        yield FitTable((Column("Account", flex=True), Column("Won", wide=True),
                        Column("In period", wide=True), Column("Share"),
                        Column("Last contact"), Column("Deals"), Column("Open value"),
                        Column("Obj."), Column("Compl."), Column("Late"),
                        Column("Next action", flex=True, wide=True)),
                       id="key-table", classes="full")

    def show(self, report: Report) -> None:
        base = report.base_currency
        self._fill("key-table", [
            [_cell(k.account), _num(money(k.won_value, base)), _num(money(k.won_in_period, base)),
             _num(f"{k.revenue_share:.1f}%"), _cell(day_of(k.last_contact_utc)),
             _cell(len(k.open_deals)), _num(money(k.open_value, base)),
             _cell(len(k.open_objections)),
             _cell(len(k.open_complaints)), _cell(len(k.overdue_deals)),
             _cell(next_action_text(k))]
            for k in report.key_accounts
        ])

    def detail(self, report: Report, table_id: str, row: int) -> Detail | None:
        if table_id != "key-table" or row >= len(report.key_accounts):
            return None
        account = report.key_accounts[row]
        return account.account, key_account_detail(account, report.base_currency)


class AttentionSection(ReportSection):
    """Open objections, open complaints and the accounts gone quiet."""

    TAB_TITLE = "Attention"
    TAB_ID = "attention-section"

    def compose(self) -> ComposeResult:
        for what in ("Objection", "Complaint"):
            yield Label(f"Open {what.lower()}s", classes="title")
            yield FitTable((Column("Account", flex=True), Column("Raised"),
                            Column(what, flex=True), Column("Days")),
                           id=f"{what.lower()}s-table", classes="half")
        yield Label("", id="stale-title", classes="title")
        yield FitTable((Column("Account", flex=True), Column("Last contact"), Column("Days")),
                       id="stale-table", classes="half")

    def show(self, report: Report) -> None:
        for table_id, items in (("objections-table", report.open_objections),
                                ("complaints-table", report.open_complaints)):
            self._fill(table_id, [
                [_cell(o.account), _cell(day_of(o.date_utc)), _cell(o.subject), _cell(o.age_days)]
                for o in items
            ])
        self.query_one("#stale-title", Label).update(Text(stale_title(report)))
        self._fill("stale-table", [
            [_cell(s.account), _cell(day_of(s.last_contact_utc)),
             _cell("never" if s.days_since is None else s.days_since)]
            for s in report.stale_accounts
        ])

    def detail(self, report: Report, table_id: str, row: int) -> Detail | None:
        tables = {"objections-table": report.open_objections,
                  "complaints-table": report.open_complaints}
        items: tuple[OpenObjection, ...] = tables.get(table_id, ())
        if row >= len(items):
            return None
        return items[row].account, objection_detail(items[row])


SECTION_TYPES: tuple[type[ReportSection], ...] = (
    PipelineSection, ForecastSection, ClosedSection, ActivitySection, KeyAccountsSection,
    AttentionSection,
)
