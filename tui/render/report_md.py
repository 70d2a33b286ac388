"""Provides `render_md`: the report as GitHub-flavoured Markdown, book text shown literally."""

from __future__ import annotations

import re
from typing import Any

from rapport.store.reports.figures import KeyAccount, Report
from rapport.tui.render.report_text import (
    ACTIVITY_FIELDS,
    KEY_OVERVIEW_HEADERS,
    activity_total,
    amount_text,
    base_text,
    closed_text,
    day_of,
    headlines,
    hours,
    key_account_lists,
    key_account_summary,
    key_overview_row,
    money,
    not_converted_column,
    open_pipeline_text,
    period_title,
    rates_text,
    safe_report,
    scope_text,
    stale_title,
    waits_text,
)

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
    base = report.base_currency
    extra = ["Not converted"] if not_converted_column(report) else []
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
            ["Stage", "Deals", f"Value ({base})", f"Weighted ({base})", *extra],
            [[s.stage, s.deals, money(s.value, base), money(s.weighted, base),
              *([s.not_converted] if extra else [])] for s in report.stages],
        ),
        open_pipeline_text(report),
        "",
        "## Currencies",
        "",
        f"Values are in {base}, the base currency. Rates used (value of one unit in {base}): "
        f"{rates_text(report)}.",
        "",
        "Not converted (no rate for their currency; in no total):",
        "",
        *_table(
            ["Account", "Deal", "Stage", "Value"],
            [[d.account, d.title, d.stage, amount_text(d.value, d.currency)]
             for d in report.not_converted],
        ),
        "## Won and lost in the period",
        "",
        closed_text(report),
        "",
        *_table(
            ["Result", "Account", "Deal", "Value", f"In {base}", "Closed"],
            [
                [result, d.account, d.title, amount_text(d.value, d.currency),
                 base_text(d.base_value, base), day_of(d.closed_utc)]
                for result, deals in (("won", report.won), ("lost", report.lost))
                for d in deals
            ],
        ),
        "## Lost reasons",
        "",
        *_table(["Reason", "Deals", f"Value ({base})"],
                [[r.reason, r.deals, money(r.value, base)] for r in report.lost_reasons]),
        "## Forecast of expected closes",
        "",
        *_table(
            ["Month", "Deals", f"Value ({base})", f"Weighted ({base})", *extra],
            [[f.month, f.deals, money(f.value, base), money(f.weighted, base),
              *([f.not_converted] if extra else [])] for f in report.forecast],
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


def _key_account_md_all(report: Report) -> list[str]:
    base = report.base_currency
    overview = _table(KEY_OVERVIEW_HEADERS,
                      [key_overview_row(k, base) for k in report.key_accounts])
    return [*overview, *(line for k in report.key_accounts for line in _key_account_md(k, base))]


def _key_account_md(k: KeyAccount, base: str) -> list[str]:
    lines = [f"### {_cell(k.account)}", "", key_account_summary(k, base), ""]
    for title, headers, rows in key_account_lists(k):
        lines += [f"{title}:", "", *_table(headers, rows)]
    return lines
