"""Provides the report as data: `report_data` (the JSON shape every format follows), JSON and CSV.

CSV is that same data flattened to `section,item,field,value` rows; cells a spreadsheet would
run as formulas are quoted. Money is a JSON number, exact to the currency's minor unit (an int
for JPY): values in the base currency (`base_currency`), a deal's own `value` with its
`currency` beside its `base_value` (null when its currency has no rate).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from rapport.store.io.export import formula_safe
from rapport.store.money.currency import json_amount
from rapport.store.reports.figures import KeyAccount, OpenObjection, Report
from rapport.tui.render.report_text import safe_report

# For list sections: the field that names each row in the CSV's `item` column.
_ITEM_KEYS = {
    "stages": "stage",
    "won": "deal_id",
    "lost": "deal_id",
    "lost_reasons": "reason",
    "forecast": "month",
    "activity": "account",
    "open_objections": "activity_id",
    "open_complaints": "activity_id",
    "stale_accounts": "account",
    "key_accounts": "account",
    "rates": "currency",
    "not_converted": "deal_id",
}


def report_data(report: Report) -> dict[str, Any]:
    """The report as plain JSON-able data: the one shape every format follows."""
    report = safe_report(report)
    period = report.period
    base = report.base_currency

    def in_base(amount: Decimal) -> int | float:
        return json_amount(amount, base)

    return {
        "period": {
            "label": period.label,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "as_of": report.as_of_utc,
        },
        "generated": report.generated_utc,
        "currencies": list(report.currencies),
        "base_currency": base,
        "rates": [
            {"currency": r.currency, "rate": float(r.rate),
             "date": r.set_on.isoformat() if r.set_on else None}
            for r in report.exchange.used_rates
        ],
        "not_converted": [
            {"deal_id": d.deal_id, "account": d.account, "title": d.title, "stage": d.stage,
             "value": json_amount(d.value, d.currency), "currency": d.currency}
            for d in report.not_converted
        ],
        "stages": [
            {
                "stage": s.stage,
                "kind": s.kind,
                "deals": s.deals,
                "value": in_base(s.value),
                "weighted": in_base(s.weighted),
                "not_converted": s.not_converted,
            }
            for s in report.stages
        ],
        "totals": {
            "deals": report.total_deals,
            "open_deals": report.open_deals,
            "open_value": in_base(report.open_value),
            "open_weighted": in_base(report.open_weighted),
            "won_deals": len(report.won),
            "won_value": in_base(report.won_value),
            "lost_deals": len(report.lost),
            "lost_value": in_base(report.lost_value),
            "not_converted": len(report.not_converted),
        },
        "won": [_closed(d, base) for d in report.won],
        "lost": [_closed(d, base) for d in report.lost],
        "lost_reasons": [{"reason": r.reason, "deals": r.deals, "value": in_base(r.value)}
                         for r in report.lost_reasons],
        "forecast": [
            {"month": f.month, "deals": f.deals, "value": in_base(f.value),
             "weighted": in_base(f.weighted), "not_converted": f.not_converted}
            for f in report.forecast
        ],
        "activity": [
            {
                "account": a.account,
                "mails_in": a.mails_in,
                "mails_out": a.mails_out,
                "calls": a.calls,
                "meetings": a.meetings,
                "notes": a.notes,
            }
            for a in report.activity
        ],
        "first_response": {
            "inbound": report.first_response.inbound,
            "waits": report.first_response.waits,
            "answered": report.first_response.answered,
            "unanswered": report.first_response.unanswered,
            "median_hours": report.first_response.median_hours,
        },
        "open_objections": [_open_item(o) for o in report.open_objections],
        "open_complaints": [_open_item(o) for o in report.open_complaints],
        "stale_after_days": report.stale_after_days,
        "stale_accounts": [
            {"account": s.account, "last_contact": s.last_contact_utc, "days_since": s.days_since}
            for s in report.stale_accounts
        ],
        "key_accounts": [_key_account(k, base) for k in report.key_accounts],
    }


def _open_item(o: OpenObjection) -> dict[str, Any]:
    return {
        "activity_id": o.activity_id,
        "account": o.account,
        "date": o.date_utc,
        "subject": o.subject,
        "age_days": o.age_days,
    }


def _key_item(o: OpenObjection) -> dict[str, Any]:
    """An open objection or complaint inside its key account (the account is the row's)."""
    return {k: v for k, v in _open_item(o).items() if k != "account"}


def _own_and_base(deal: Any, base: str) -> dict[str, Any]:
    """A deal's own value and currency, and its value in the base currency (None: no rate)."""
    return {
        "value": json_amount(deal.value, deal.currency),
        "currency": deal.currency,
        "base_value": None if deal.base_value is None else json_amount(deal.base_value, base),
    }


def _key_account(k: KeyAccount, base: str) -> dict[str, Any]:
    return {
        "account": k.account,
        "won_value": json_amount(k.won_value, base),
        "won_in_period": json_amount(k.won_in_period, base),
        "revenue_share": k.revenue_share,
        "last_contact": k.last_contact_utc,
        "open_value": json_amount(k.open_value, base),
        "not_converted": k.not_converted,
        "next_action": k.next_action,
        "next_action_due": k.next_action_due,
        "open_deals": [
            {
                "deal_id": d.deal_id,
                "title": d.title,
                "stage": d.stage,
                **_own_and_base(d, base),
                "next_action": d.next_action,
                "next_action_due": d.next_action_due,
                "overdue": d.overdue,
            }
            for d in k.open_deals
        ],
        "open_objections": [_key_item(o) for o in k.open_objections],
        "open_complaints": [_key_item(o) for o in k.open_complaints],
        "overdue_actions": [
            {
                "deal_id": d.deal_id,
                "title": d.title,
                "next_action": d.next_action,
                "next_action_due": d.next_action_due,
            }
            for d in k.overdue_deals
        ],
    }


def _closed(deal: Any, base: str) -> dict[str, Any]:
    return {
        "deal_id": deal.deal_id,
        "account": deal.account,
        "title": deal.title,
        "stage": deal.stage,
        **_own_and_base(deal, base),
        "closed": deal.closed_utc,
    }


def render_json(report: Report) -> str:
    return json.dumps(report_data(report), indent=2, ensure_ascii=False) + "\n"


def csv_rows(report: Report) -> Iterator[tuple[str, str, str, Any]]:
    """`(section, item, field, value)` for every figure of `report_data`.

    A list inside a row (a key account's open deals, objections, overdue actions) becomes
    fields named `list.id.field`, e.g. `open_deals.12.title`.
    """
    for section, content in report_data(report).items():
        if isinstance(content, list) and section in _ITEM_KEYS:
            key = _ITEM_KEYS[section]
            for row in content:
                for field, value in _flat_fields(row, skip=key):
                    yield section, str(row[key]), field, value
        elif isinstance(content, dict):
            for field, value in content.items():
                yield section, "", field, value
        elif isinstance(content, list):
            yield section, "", "", ";".join(map(str, content))
        else:
            yield section, "", "", content


def _flat_fields(row: dict[str, Any], *, skip: str) -> Iterator[tuple[str, Any]]:
    for field, value in row.items():
        if field == skip:
            continue
        if isinstance(value, list):
            for nested in value:
                id_name, ident = next(iter(nested.items()))  # each nested object starts with its id
                for name, item in nested.items():
                    if name != id_name:
                        yield f"{field}.{ident}.{name}", item
        else:
            yield field, value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON
    return value


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "field", "value"])
    for section, item, field, value in csv_rows(report):
        # `item` and `value` may be book text: never let a spreadsheet run it as a formula.
        cells = [section, item, field, _csv_value(value)]
        writer.writerow([formula_safe(cell) for cell in cells])
    return out.getvalue()
