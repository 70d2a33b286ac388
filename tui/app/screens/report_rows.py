"""Provides the Reports screen's text outside its tables: the summary line and the money note,
built from a `Report` (no widgets here). Values are in the report's base currency.
"""

from __future__ import annotations

from rapport.store.reports.figures import Report
from rapport.tui.render.report_formats import amount_text, currency_note, money


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
