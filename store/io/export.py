"""Provides `rapport export accounts|contacts|deals`: rows that `rapport import` reads back.

CSV cells join several values with ';' (domains, emails) as the importer splits them; JSON
keeps them as lists and numbers as numbers, for scripts.
"""

from __future__ import annotations

import csv
import json
from typing import IO, TYPE_CHECKING, Any

from rapport.store.book.accounts import list_accounts
from rapport.store.book.contacts import list_contacts
from rapport.store.book.deals import Deal, list_deals
from rapport.store.book.stages import Pipeline
from rapport.store.money.currency import json_amount

if TYPE_CHECKING:
    from sqlite_utils import Database

ACCOUNT_COLUMNS = (
    "name", "domain", "tier", "owner", "tags", "notes", "deal", "stage", "value", "currency",
    "probability", "expected_close", "next_action", "next_action_due",
)
# bounced: the day the address announcements use bounced, or empty (import ignores it: marks
# come from mail, and go with `rapport contact EMAIL clear-bounce`).
CONTACT_COLUMNS = ("account", "name", "email", "role", "phone", "opt_out", "bounced")
# A contact's account cell when it has none. An empty cell means "find it from the email's
# domain" on import, so an unlinked contact at a known domain would come back linked.
NO_ACCOUNT = "-"
_DEAL_CELLS = ("stage", "value", "currency", "probability", "expected_close", "next_action",
               "next_action_due")
# id, status and lost_reason are for scripts (`rapport deal ID won`); import ignores them.
DEAL_COLUMNS = ("id", "account", "title", "status", *_DEAL_CELLS, "lost_reason")
ARCHIVED_COLUMN = "archived"  # with --archived: when the row was archived ('' if it is not)


def _deal_cells(deal: Deal | None) -> dict[str, Any]:
    if deal is None:
        return {c: None for c in _DEAL_CELLS}
    return {
        "stage": deal.stage,
        "value": json_amount(deal.value, deal.currency),  # a JSON number, exact to the cent
        "currency": deal.currency,
        "probability": deal.probability,
        "expected_close": deal.expected_close.isoformat() if deal.expected_close else None,
        "next_action": deal.next_action,
        "next_action_due": deal.next_action_due.isoformat() if deal.next_action_due else None,
    }


def account_rows(db: Database, archived: bool = False, pipeline: Pipeline | None = None) -> list[dict[str, Any]]:
    """One row per deal, account columns repeated; an account without deals gets one row."""
    by_account: dict[int, list[Deal]] = {}
    for deal in list_deals(db, archived=archived):
        by_account.setdefault(deal.account_id, []).append(deal)
    rows = []
    for account in list_accounts(db, archived=archived):
        base = {
            "name": account.name,
            "domain": list(account.domains),
            "tier": account.tier,
            "owner": account.owner,
            "tags": list(account.tags),
            "notes": account.notes,
            ARCHIVED_COLUMN: account.archived_utc,
        }
        # An account without deals still gets its row, with empty deal cells.
        deals: list[Deal | None] = [*by_account.get(account.id, [])] or [None]
        for maybe_deal in deals:
            title = maybe_deal.title if maybe_deal else None
            rows.append({**base, "deal": title, **_deal_cells(maybe_deal)})
    return rows


def contact_rows(db: Database, archived: bool = False, pipeline: Pipeline | None = None) -> list[dict[str, Any]]:
    names = {a.id: a.name for a in list_accounts(db, archived=True)}
    return [
        {
            "account": names[c.account_id] if c.account_id is not None else NO_ACCOUNT,
            "name": c.name,
            "email": list(c.emails),
            "role": c.role,
            "phone": c.phone,
            "opt_out": c.opted_out,
            "bounced": (c.bounced_utc or "")[:10],
            ARCHIVED_COLUMN: c.archived_utc,
        }
        for c in list_contacts(db, archived=archived)
    ]


def deal_rows(db: Database, archived: bool = False, pipeline: Pipeline | None = None) -> list[dict[str, Any]]:
    stages = pipeline or Pipeline()
    return [{"id": d.id, "account": d.account_name, "title": d.title, "status": stages.kind(d.stage),
             **_deal_cells(d), "lost_reason": d.lost_reason, ARCHIVED_COLUMN: d.archived_utc}
            for d in list_deals(db, archived=archived)]


EXPORTS = {
    "accounts": (account_rows, ACCOUNT_COLUMNS),
    "contacts": (contact_rows, CONTACT_COLUMNS),
    "deals": (deal_rows, DEAL_COLUMNS),
}


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: Any) -> Any:
    """`value`, with text a spreadsheet would run as a formula quoted by a leading `'`.

    Only text is touched: numbers stay numbers (a negative figure is not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, float):
        # Exact digits (never 1.2e+06): the file must read back to the same figure.
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def write_rows(
    rows: list[dict[str, Any]], columns: tuple[str, ...], fmt: str, stream: IO[str]
) -> None:
    """Write rows as CSV (header line first) or as a JSON list of objects."""
    if fmt == "json":
        json.dump(rows, stream, ensure_ascii=False, indent=2)
        stream.write("\n")
        return
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])


def export(db: Database, kind: str, fmt: str, stream: IO[str], *, archived: bool = False,
           pipeline: Pipeline | None = None) -> int:
    """Write `kind` to `stream` (archived rows too, in an `archived` column, if `archived`)."""
    fetch, columns = EXPORTS[kind]
    rows = fetch(db, archived, pipeline)
    if archived:
        columns = (*columns, ARCHIVED_COLUMN)
    else:
        for row in rows:
            row.pop(ARCHIVED_COLUMN, None)
    write_rows(rows, columns, fmt, stream)
    return len(rows)
