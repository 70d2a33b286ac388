"""Provides the Reports screen's text: each table's rows, the summary line and the money note,
built from a `Report` (no widgets here; ReportsScreen puts them on screen).

Book text (account names, deal titles, objections) is cleaned of escapes and put in
`rich.text.Text`, never parsed as markup. Values are in the report's base currency; a deal's
own value carries its currency.
"""

from __future__ import annotations

from rich.text import Text

from rapport.store.reports.figures import ClosedDeal, Report
from rapport.tui.app.safe import clean
from rapport.tui.app.widgets.fit_table import Column
from rapport.tui.render.report_formats import (
    amount_text,
    currency_note,
    day_of,
    money,
    next_action_text,
)

# Columns per table id: figures keep their width, flex text is cut, wide ones need room.
COLUMNS: dict[str, tuple[Column, ...]] = {
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


def summary_text(r: Report) -> str:
    """The one line above the sections: period, base currency, open, won (and what is left out)."""
    base = r.base_currency
    left_out = f" │ {len(r.not_converted)} not converted" if r.not_converted else ""
    return (f"{r.period.label} │ {base} │ open {money(r.open_value, base)} (weighted "
            f"{money(r.open_weighted, base)}) │ won {len(r.won)}: {money(r.won_value, base)}"
            f"{left_out}")


def money_note(r: Report) -> str | None:
    """The rates used and the deals left out; None for a book in one currency (nothing to say)."""
    if not (r.exchange.used_rates or r.not_converted):
        return None
    text = currency_note(r)
    left_out = "; ".join(f"{d.title} {amount_text(d.value, d.currency)}" for d in r.not_converted)
    return text[:1].upper() + text[1:] + (f": {left_out}" if left_out else "")


def closed_deals(r: Report) -> list[tuple[str, ClosedDeal]]:
    """('won' | 'lost', deal), as the Won/Lost table lists them."""
    return [("won", d) for d in r.won] + [("lost", d) for d in r.lost]


def table_rows(r: Report) -> dict[str, list[list[Text]]]:
    """Every table's rows, by table id."""
    base = r.base_currency
    return {
        "stages-table": [[_cell(s.stage), _cell(s.deals), _num(money(s.value, base)),
                          _num(money(s.weighted, base))] for s in r.stages],
        "forecast-table": [[_cell(f.month), _cell(f.deals), _num(money(f.value, base)),
                            _num(money(f.weighted, base))] for f in r.forecast],
        "closed-table": [[_cell(result), _cell(d.account), _cell(d.title),
                          _num(amount_text(d.value, d.currency)), _cell(day_of(d.closed_utc))]
                         for result, d in closed_deals(r)],
        "activity-table": [[_cell(a.account), _cell(a.mails_in), _cell(a.mails_out),
                            _cell(a.calls), _cell(a.meetings), _cell(a.notes)]
                           for a in r.activity],
        "key-table": [[_cell(k.account), _num(money(k.won_value, base)),
                       _num(money(k.won_in_period, base)), _num(f"{k.revenue_share:.1f}%"),
                       _cell(day_of(k.last_contact_utc)), _cell(len(k.open_deals)),
                       _num(money(k.open_value, base)), _cell(len(k.open_objections)),
                       _cell(len(k.open_complaints)), _cell(len(k.overdue_deals)),
                       _cell(next_action_text(k))] for k in r.key_accounts],
        "objections-table": [[_cell(o.account), _cell(day_of(o.date_utc)), _cell(o.subject),
                              _cell(o.age_days)] for o in r.open_objections],
        "complaints-table": [[_cell(o.account), _cell(day_of(o.date_utc)), _cell(o.subject),
                              _cell(o.age_days)] for o in r.open_complaints],
        "stale-table": [[_cell(s.account), _cell(day_of(s.last_contact_utc)),
                         _cell("never" if s.days_since is None else s.days_since)]
                        for s in r.stale_accounts],
    }
