"""Provides the report's shared wording: figures as text (money in the base currency or a deal's
own), the sentences every format prints, and `safe_report`, which every renderer starts from.

Book text (account names, deal titles, objections) comes from imports and mail: `safe_report`
runs store/text.clean_line on every text field (the store cleans what it is given, but an older
workspace may still hold raw text), so no format carries a terminal escape, control or
bidi-override character.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rapport.store.money.currency import format_amount
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


def money(amount: Decimal, currency: str) -> str:
    """'12,500.50' in EUR, '1,250,000' in JPY: the currency's own minor digits."""
    return format_amount(amount, currency)


def amount_text(amount: Decimal, currency: str) -> str:
    """'12,500.50 USD': a deal's own value, with its currency."""
    return f"{format_amount(amount, currency)} {currency}"


def base_text(amount: Decimal | None, currency: str) -> str:
    """A deal's value in the base currency, or 'not converted' when its currency has no rate."""
    return "not converted" if amount is None else money(amount, currency)


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
        f"Won {count_text(len(report.won), 'deal')}, {money(report.won_value, report.base_currency)}; "
        f"lost {count_text(len(report.lost), 'deal')}, "
        f"{money(report.lost_value, report.base_currency)}."
    )


def open_pipeline_text(report: Report) -> str:
    base = report.base_currency
    missing = not_converted_text(report)
    return (
        f"Open pipeline: {count_text(report.open_deals, 'deal')} worth "
        f"{money(report.open_value, base)}, weighted {money(report.open_weighted, base)}; "
        f"{report.total_deals} deals in all stages, won and lost included"
        + (f"; {missing}." if missing else ".")
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
    base = report.base_currency
    missing = not_converted_text(report, why=False)
    return [
        Headline("Open pipeline", money(report.open_value, base),
                 f"{count_text(report.open_deals, 'deal')}, weighted "
                 f"{money(report.open_weighted, base)}" + (f"; {missing}" if missing else "")),
        Headline("Won in the period", money(report.won_value, base),
                 count_text(len(report.won), "deal")),
        Headline("Lost in the period", money(report.lost_value, base),
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


def not_converted_column(report: Report) -> bool:
    """Tables by stage and month get a "Not converted" column when some deal has no rate."""
    return bool(report.not_converted)


def stale_title(report: Report) -> str:
    return f"Stale accounts (no contact for {report.stale_after_days} days or more)"


KEY_OVERVIEW_HEADERS = ["Account", "Share", "Won to date", "Won in period", "Last contact",
                        "Open deals", "Open value", "Objections", "Complaints", "Overdue"]


def key_overview_row(k: KeyAccount, base: str) -> list[Any]:
    """A key account's figures as one table row (md and html put them side by side)."""
    return [k.account, f"{k.revenue_share:.1f}%", money(k.won_value, base),
            money(k.won_in_period, base), day_of(k.last_contact_utc), len(k.open_deals),
            money(k.open_value, base),
            len(k.open_objections), len(k.open_complaints), len(k.overdue_deals)]


ACTIVITY_FIELDS = ("mails_in", "mails_out", "calls", "meetings", "notes")


def activity_total(report: Report) -> AccountActivity:
    """Every account's activity in the period added up (the tables' last line)."""
    sums = [sum(getattr(a, f) for a in report.activity) for f in ACTIVITY_FIELDS]
    return AccountActivity(0, "Total", *sums)


def rates_text(report: Report) -> str:
    """'USD 0.92 (set 2026-12-05), JPY 0.0061 (date not given)', or 'none'."""
    rates = report.exchange.used_rates
    if not rates:
        return "none"
    return ", ".join(
        f"{r.currency} {r.rate} ({'set ' + r.set_on.isoformat() if r.set_on else 'date not given'})"
        for r in rates
    )


def not_converted_text(report: Report, *, why: bool = True) -> str:
    """'1 deal not converted (no rate for GBP)' (without `why`: no parenthesis), or '' when
    every deal was converted."""
    if not report.not_converted:
        return ""
    reason = f" (no rate for {', '.join(report.missing_rates)})" if why else ""
    return f"{count_text(len(report.not_converted), 'deal')} not converted{reason}"


def currency_note(report: Report) -> str:
    """The base currency, the rates used with their dates, and what was left out."""
    rates = rates_text(report)
    note = f"values in {report.base_currency}" + (f", rates {rates}" if report.exchange.used_rates else "")
    missing = not_converted_text(report)
    return f"{note}; {missing}, added to no total" if missing else note


def missing_rates_warning(report: Report) -> str | None:
    """The one warning line `rapport report` prints when some currency has no rate."""
    if not report.not_converted:
        return None
    codes = report.missing_rates
    return (f"warning: no rate for {', '.join(codes)}: {not_converted_text(report, why=False)}, "
            f"left out of every total (set one with: rapport rates set {codes[0]} RATE)")


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


def key_account_summary(k: KeyAccount, base: str) -> str:
    """The key account's figures in one sentence (md, html, TUI), values in `base`."""
    left_out = (f" ({count_text(k.not_converted, 'deal')} not converted, left out)"
                if k.not_converted else "")
    return (
        f"Revenue share {k.revenue_share:.1f}% ({money(k.won_value, base)} won up to the end "
        f"of the period); won in the period {money(k.won_in_period, base)}; last contact "
        f"{day_of(k.last_contact_utc)}; {count_text(len(k.open_deals), 'open deal')} worth "
        f"{money(k.open_value, base)}{left_out}, "
        f"{count_text(len(k.open_objections), 'open objection')}, "
        f"{count_text(len(k.open_complaints), 'open complaint')}, "
        f"{count_text(len(k.overdue_deals), 'overdue action')}."
    )


def due_text(deal: KeyDeal) -> str:
    if not deal.next_action_due:
        return ""
    return deal.next_action_due + (" (overdue)" if deal.overdue else "")


TitledRows = tuple[str, list[str], list[list[Any]]]


def key_account_lists(k: KeyAccount, *, age_header: str = "Age (days)") -> list[TitledRows]:
    """What is open on a key account, the lists it has: open deals, objections, complaints and
    overdue actions (md and the TUI's detail; the TUI's narrow modal names the age "Days")."""
    lists: list[TitledRows] = []
    if k.open_deals:
        lists.append((
            "Open deals", ["Deal", "Stage", "Value", "Next action", "Due"],
            [[d.title, d.stage, amount_text(d.value, d.currency), d.next_action or "none",
              due_text(d)] for d in k.open_deals],
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
