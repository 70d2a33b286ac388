"""Provides the report renderers (md, csv, json, html), all built from one `Report` so figures agree.

JSON is the reference shape (`report_data`); CSV is that same data flattened to
`section,item,field,value` rows; Markdown and HTML print the same rounded numbers.
Book text (account names, deal titles, objections) comes from imports and mail: every renderer
starts from `safe_report` (store/text.clean_line on every text field: the store cleans what it
is given, but an older workspace may still hold raw text), so no format carries a terminal
escape, control or bidi-override character, and CSV cells that a spreadsheet would run as
formulas are quoted.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rapport.store.io.export import formula_safe
from rapport.store.reports.figures import (
    AccountActivity,
    FirstResponse,
    KeyAccount,
    KeyDeal,
    OpenObjection,
    Report,
)
from rapport.store.reports.period import Period
from rapport.store.text import clean_line

FORMATS = ("md", "csv", "json", "html")

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
}


def safe_report(report: Report) -> Report:
    """`report` with every text field cleaned of escapes and control characters (one line each)."""
    cleaned: Report = _cleaned(report)
    return cleaned


def _cleaned(value: Any) -> Any:
    """Strings cleaned, through tuples and (frozen) dataclasses; numbers and dates as they are."""
    if isinstance(value, str):
        return clean_line(value)
    if isinstance(value, tuple):
        return tuple(_cleaned(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _cleaned(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def money(amount: float) -> str:
    return f"{amount:,.2f}"


def hours(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} h"


def day_of(utc_text: str | None) -> str:
    return utc_text[:10] if utc_text else "never"


_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")  # not the locale's


def period_title(period: Period) -> str:
    """'November 2026' for a calendar month, else 'YYYY-MM-DD to YYYY-MM-DD' (titles)."""
    if period.is_month:
        return f"{_MONTH_NAMES[period.start.month - 1]} {period.start.year}"
    return f"{period.start.isoformat()} to {period.end.isoformat()}"


def moment_text(utc_text: str) -> str:
    """'2026-12-01 19:39 UTC' from the store's '2026-12-01T19:39:06Z'."""
    return f"{utc_text[:10]} {utc_text[11:16]} UTC"


def scope_text(report: Report) -> str:
    """What the figures cover, in one sentence: the period, and the two moments figures are
    taken at (the pipeline is the book as it is now; the "as of" ones stop at the period's end)."""
    period = report.period
    if report.as_of_utc == period.end_utc:
        as_of = f"the end of {period.end.isoformat()}"
    else:  # the period is still running: as of now
        as_of = moment_text(report.generated_utc)
    return (
        f"Period {period.start.isoformat()} to {period.end.isoformat()} (UTC); pipeline and "
        f"forecast as they stand at {moment_text(report.generated_utc)}; objections, stale and "
        f"key accounts as of {as_of}; {currency_note(report)}."
    )


def count_text(n: int, thing: str) -> str:
    """'1 deal', '3 deals'."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def closed_text(report: Report) -> str:
    """Won and lost in the period, in one sentence every format shares."""
    return (
        f"Won {count_text(len(report.won), 'deal')}, {money(report.won_value)}; "
        f"lost {count_text(len(report.lost), 'deal')}, {money(report.lost_value)}."
    )


def open_pipeline_text(report: Report) -> str:
    return (
        f"Open pipeline: {count_text(report.open_deals, 'deal')} worth "
        f"{money(report.open_value)}, weighted {money(report.open_weighted)}; "
        f"{report.total_deals} deals in all stages, won and lost included."
    )


@dataclass(frozen=True)
class Headline:
    """One figure of the report's "at a glance" block: a label, the figure, a few words more."""

    label: str
    figure: str
    detail: str


def headlines(report: Report) -> list[Headline]:
    """The figures a manager reads first (md and html open with them)."""
    fr = report.first_response
    keys = report.key_accounts
    return [
        Headline("Open pipeline", money(report.open_value),
                 f"{count_text(report.open_deals, 'deal')}, weighted {money(report.open_weighted)}"),
        Headline("Won in the period", money(report.won_value), count_text(len(report.won), "deal")),
        Headline("Lost in the period", money(report.lost_value),
                 count_text(len(report.lost), "deal")),
        Headline("Median first response", hours(fr.median_hours),
                 f"{fr.answered} of {fr.waits} client waits answered"),
        Headline("Open objections", str(len(report.open_objections)),
                 _oldest_text(report.open_objections)),
        Headline("Open complaints", str(len(report.open_complaints)),
                 _oldest_text(report.open_complaints)),
        Headline("Stale accounts", str(len(report.stale_accounts)),
                 f"no contact for {report.stale_after_days} days or more"),
        Headline("Key accounts", str(len(keys)),
                 f"{count_text(sum(len(k.overdue_deals) for k in keys), 'overdue action')}, "
                 f"{count_text(sum(len(k.open_objections) for k in keys), 'open objection')}, "
                 f"{count_text(sum(len(k.open_complaints) for k in keys), 'open complaint')}"),
    ]


def _oldest_text(items: tuple[OpenObjection, ...]) -> str:
    oldest = max((o.age_days for o in items), default=None)
    return "none" if oldest is None else f"the oldest {count_text(oldest, 'day')}"


def stale_title(report: Report) -> str:
    return f"Stale accounts (no contact for {report.stale_after_days} days or more)"


KEY_OVERVIEW_HEADERS = ["Account", "Share", "Won to date", "Won in period", "Last contact",
                        "Open deals", "Open value", "Objections", "Complaints", "Overdue"]


def key_overview_row(k: KeyAccount) -> list[Any]:
    """A key account's figures as one table row (md and html put them side by side)."""
    return [k.account, f"{k.revenue_share:.1f}%", money(k.won_value), money(k.won_in_period),
            day_of(k.last_contact_utc), len(k.open_deals), money(k.open_value),
            len(k.open_objections), len(k.open_complaints), len(k.overdue_deals)]


ACTIVITY_FIELDS = ("mails_in", "mails_out", "calls", "meetings", "notes")


def activity_total(report: Report) -> AccountActivity:
    """Every account's activity in the period added up (the tables' last line)."""
    sums = [sum(getattr(a, f) for a in report.activity) for f in ACTIVITY_FIELDS]
    return AccountActivity(0, "Total", *sums)


def currency_note(report: Report) -> str:
    """Deals keep their own currency and Rapport has no exchange rates: say so when they mix."""
    if len(report.currencies) > 1:
        return f"values in {', '.join(report.currencies)} summed without conversion"
    return f"values in {report.currencies[0] if report.currencies else 'EUR'}"


def waits_text(fr: FirstResponse) -> str:
    """How many client waits we answered, in words every format shares."""
    return (
        f"{fr.answered} of {fr.waits} client waits answered, {fr.unanswered} unanswered; "
        f"{fr.inbound} client mails"
    )


def next_action_text(account: KeyAccount) -> str:
    if not account.next_action:
        return "none"
    due = f" (due {account.next_action_due})" if account.next_action_due else ""
    return account.next_action + due


def report_data(report: Report) -> dict[str, Any]:
    """The report as plain JSON-able data: the one shape every format follows."""
    report = safe_report(report)
    period = report.period
    return {
        "period": {
            "label": period.label,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "as_of": report.as_of_utc,
        },
        "generated": report.generated_utc,
        "currencies": list(report.currencies),
        "stages": [
            {
                "stage": s.stage,
                "kind": s.kind,
                "deals": s.deals,
                "value": s.value,
                "weighted": s.weighted,
            }
            for s in report.stages
        ],
        "totals": {
            "deals": report.total_deals,
            "open_deals": report.open_deals,
            "open_value": report.open_value,
            "open_weighted": report.open_weighted,
            "won_deals": len(report.won),
            "won_value": report.won_value,
            "lost_deals": len(report.lost),
            "lost_value": report.lost_value,
        },
        "won": [_closed(d) for d in report.won],
        "lost": [_closed(d) for d in report.lost],
        "lost_reasons": [{"reason": r.reason, "deals": r.deals, "value": r.value}
                         for r in report.lost_reasons],
        "forecast": [
            {"month": f.month, "deals": f.deals, "value": f.value, "weighted": f.weighted}
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
        "key_accounts": [_key_account(k) for k in report.key_accounts],
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


def _key_account(k: KeyAccount) -> dict[str, Any]:
    return {
        "account": k.account,
        "won_value": k.won_value,
        "won_in_period": k.won_in_period,
        "revenue_share": k.revenue_share,
        "last_contact": k.last_contact_utc,
        "open_value": k.open_value,
        "next_action": k.next_action,
        "next_action_due": k.next_action_due,
        "open_deals": [
            {
                "deal_id": d.deal_id,
                "title": d.title,
                "stage": d.stage,
                "value": d.value,
                "currency": d.currency,
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


def _closed(deal: Any) -> dict[str, Any]:
    return {
        "deal_id": deal.deal_id,
        "account": deal.account,
        "title": deal.title,
        "stage": deal.stage,
        "value": deal.value,
        "currency": deal.currency,
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


# Markdown meaning: backslash-escaped (CommonMark allows it before any ASCII punctuation).
# `~` is GFM strikethrough and `@` starts its email autolinks.
_MD_SPECIAL = set("\\`*_[]<>|&#!~@")
# GFM (and linkify) turn bare URLs into links: break the scheme's colon ("https://", "mailto:")
# and a dot between a word and a letter ("www.evil.example"); figures like 2,000.00 keep theirs.
_AUTOLINK_COLON = re.compile(r"(?i)(?<=\bmailto):|(?<=\bxmpp):|:(?=//)")
_AUTOLINK_DOT = re.compile(r"(?<=\w)\.(?=[^\W\d_])")


def _cell(value: Any) -> str:
    """Names and objections come from mail and imports: shown literally, never as markup/HTML
    (no emphasis, strikethrough, tables broken by pipes, or links made of bare URLs)."""
    text = " ".join(str(value).split())
    text = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)
    text = _AUTOLINK_COLON.sub(r"\\:", text)
    return _AUTOLINK_DOT.sub(r"\\.", text)


def _table(
    headers: list[str], rows: list[list[Any]], total: list[Any] | None = None
) -> list[str]:
    """A GFM table of `rows` (book text escaped); `total`, our own figures, in bold last."""
    if not rows:
        return ["_None._", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    if total is not None:
        lines.append("| " + " | ".join(f"**{v}**" for v in total) + " |")
    return [*lines, ""]


def render_md(report: Report) -> str:
    report = safe_report(report)
    fr = report.first_response
    total = activity_total(report)
    lines = [
        f"# Rapport report: {period_title(report.period)}",
        "",
        scope_text(report),
        "",
        "## At a glance",
        "",
        *[f"- **{h.label}: {h.figure}** ({h.detail})" for h in headlines(report)],
        "",
        "## Pipeline by stage",
        "",
        *_table(
            ["Stage", "Deals", "Value", "Weighted"],
            [[s.stage, s.deals, money(s.value), money(s.weighted)] for s in report.stages],
        ),
        open_pipeline_text(report),
        "",
        "## Won and lost in the period",
        "",
        closed_text(report),
        "",
        *_table(
            ["Result", "Account", "Deal", "Value", "Closed"],
            [["won", d.account, d.title, money(d.value), day_of(d.closed_utc)] for d in report.won]
            + [
                ["lost", d.account, d.title, money(d.value), day_of(d.closed_utc)]
                for d in report.lost
            ],
        ),
        "## Lost reasons",
        "",
        *_table(["Reason", "Deals", "Value"],
                [[r.reason, r.deals, money(r.value)] for r in report.lost_reasons]),
        "## Forecast of expected closes",
        "",
        *_table(
            ["Month", "Deals", "Value", "Weighted"],
            [[f.month, f.deals, money(f.value), money(f.weighted)] for f in report.forecast],
        ),
        "## Activity per account",
        "",
        *_table(
            ["Account", "Mails in", "Mails out", "Calls", "Meetings", "Notes"],
            [[a.account, *(getattr(a, f) for f in ACTIVITY_FIELDS)] for a in report.activity],
            [total.account, *(getattr(total, f) for f in ACTIVITY_FIELDS)],
        ),
        "## First response to client mail",
        "",
        f"Median first response: {hours(fr.median_hours)} ({waits_text(fr)}).",
        "",
        "## Open objections",
        "",
        *_table(
            ["Account", "Raised", "Objection", "Age (days)"],
            [
                [o.account, day_of(o.date_utc), o.subject, o.age_days]
                for o in report.open_objections
            ],
        ),
        "## Open complaints",
        "",
        *_table(
            ["Account", "Raised", "Complaint", "Age (days)"],
            [
                [o.account, day_of(o.date_utc), o.subject, o.age_days]
                for o in report.open_complaints
            ],
        ),
        f"## {stale_title(report)}",
        "",
        *_table(
            ["Account", "Last contact", "Days since"],
            [
                [
                    s.account,
                    day_of(s.last_contact_utc),
                    "never" if s.days_since is None else s.days_since,
                ]
                for s in report.stale_accounts
            ],
        ),
        "## Key accounts",
        "",
        *(_key_account_md_all(report) if report.key_accounts else ["_None._", ""]),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def key_account_summary(k: KeyAccount) -> str:
    """The key account's figures in one sentence (md, html, TUI)."""
    return (
        f"Revenue share {k.revenue_share:.1f}% ({money(k.won_value)} won up to the end of the "
        f"period); won in the period {money(k.won_in_period)}; last contact "
        f"{day_of(k.last_contact_utc)}; {count_text(len(k.open_deals), 'open deal')} worth "
        f"{money(k.open_value)}, {count_text(len(k.open_objections), 'open objection')}, "
        f"{count_text(len(k.open_complaints), 'open complaint')}, "
        f"{count_text(len(k.overdue_deals), 'overdue action')}."
    )


def due_text(deal: KeyDeal) -> str:
    if not deal.next_action_due:
        return ""
    return deal.next_action_due + (" (overdue)" if deal.overdue else "")


def _key_account_md_all(report: Report) -> list[str]:
    overview = _table(KEY_OVERVIEW_HEADERS, [key_overview_row(k) for k in report.key_accounts])
    return [*overview, *(line for k in report.key_accounts for line in _key_account_md(k))]


def _key_account_md(k: KeyAccount) -> list[str]:
    lines = [f"### {_cell(k.account)}", "", key_account_summary(k), ""]
    for title, headers, rows in key_account_lists(k):
        lines += [f"{title}:", "", *_table(headers, rows)]
    return lines


# A titled table: (title, column headers, rows of cells).
TitledRows = tuple[str, list[str], list[list[Any]]]


def key_account_lists(k: KeyAccount, *, age_header: str = "Age (days)") -> list[TitledRows]:
    """What is open on a key account, the lists it has: open deals, objections, complaints and
    overdue actions (md and the TUI's detail; the TUI's narrow modal names the age "Days")."""
    lists: list[TitledRows] = []
    if k.open_deals:
        lists.append((
            "Open deals", ["Deal", "Stage", "Value", "Next action", "Due"],
            [[d.title, d.stage, money(d.value), d.next_action or "none", due_text(d)]
             for d in k.open_deals],
        ))
    for title, noun, items in (("Open objections", "Objection", k.open_objections),
                               ("Open complaints", "Complaint", k.open_complaints)):
        if items:
            lists.append((title, ["Raised", noun, age_header],
                          [[day_of(o.date_utc), o.subject, o.age_days] for o in items]))
    if k.overdue_deals:
        lists.append((
            "Overdue actions", ["Deal", "Next action", "Due"],
            [[d.title, d.next_action, d.next_action_due] for d in k.overdue_deals],
        ))
    return lists


def renderer(fmt: str) -> Callable[[Report], str]:
    """The renderer for `fmt` (one of FORMATS)."""
    if fmt == "html":
        from rapport.tui.render.report_html import render_html

        return render_html
    return {"md": render_md, "csv": render_csv, "json": render_json}[fmt]
