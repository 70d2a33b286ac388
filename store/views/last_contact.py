"""Provides the one definition of client contact: `last_contacts` and `stale_accounts`.

The report, Today and the key-account figures all ask "when did we last speak to this client?";
they call these functions so they can never disagree.

Contact is an exchange with the client: a linked mail either way (in or out, drafts excluded),
a call, a meeting, a mail logged as sent, or an objection or a complaint (the client raised it
with us).
A note is not contact: it is the manager writing to themselves, and counting it would let a
silent account look fresh because someone wrote "must call them". Announcements (bulk mail to a
segment) are not personal contact either.

An account is stale when its last contact is `stale_after_days` or more days before the day
"as of" (whole UTC days), or when it was never contacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from rapport.store.timeutil import parse_utc_text

if TYPE_CHECKING:
    from sqlite_utils import Database

CONTACT_KINDS = ("call", "meeting", "sent", "objection", "complaint")

# Mail that counts: not a draft, not in a Drafts folder.
REAL_MAIL = "m.draft = 0 AND f.role != 'drafts'"


@dataclass(frozen=True)
class StaleAccount:
    account_id: int
    account: str
    last_contact_utc: str | None  # None: never contacted
    days_since: int | None


def day_end_utc(day: date) -> str:
    """The exclusive "as of" bound that covers all of `day` (its next midnight, UTC)."""
    return f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z"


def as_of_day(as_of_utc: str) -> date:
    """The last day the (exclusive) `as_of_utc` bound still covers."""
    return (parse_utc_text(as_of_utc) - timedelta(seconds=1)).date()


def last_contacts(db: Database, as_of_utc: str) -> dict[int, str | None]:
    """Account id -> moment of its last contact before `as_of_utc` (None: never), every account."""
    kinds = ", ".join("?" for _ in CONTACT_KINDS)
    rows = db.execute(
        f"""
        WITH mail AS (
            SELECT ma.account_id, max(m.date_utc) AS last
            FROM message_accounts ma
            JOIN messages m ON m.id = ma.message_id
            JOIN folders f ON f.id = m.folder_id
            WHERE m.date_utc < ? AND {REAL_MAIL}
            GROUP BY ma.account_id
        ), acts AS (
            SELECT account_id, max(date_utc) AS last FROM activities
            WHERE kind IN ({kinds}) AND date_utc < ?
            GROUP BY account_id
        )
        SELECT a.id, max(coalesce(mail.last, ''), coalesce(acts.last, ''))
        FROM accounts a
        LEFT JOIN mail ON mail.account_id = a.id
        LEFT JOIN acts ON acts.account_id = a.id""",
        [as_of_utc, *CONTACT_KINDS, as_of_utc],
    ).fetchall()
    return {int(i): (last or None) for i, last in rows}


def stale_accounts(
    db: Database,
    as_of_utc: str,
    stale_after_days: int,
    contacts: dict[int, str | None] | None = None,
) -> tuple[StaleAccount, ...]:
    """Accounts with no contact for `stale_after_days` (never-contacted ones included), stalest first."""
    contacts = last_contacts(db, as_of_utc) if contacts is None else contacts
    names = dict(db.execute("SELECT id, name FROM accounts").fetchall())
    today = as_of_day(as_of_utc)
    stale: list[StaleAccount] = []
    for account_id, last in contacts.items():
        days = (today - parse_utc_text(last).date()).days if last else None
        if days is None or days >= stale_after_days:
            stale.append(StaleAccount(account_id, names[account_id], last, days))
    # Never contacted first, then the longest silence; ties by name so output is stable.
    stale.sort(key=lambda s: (s.days_since is not None, -(s.days_since or 0), s.account.casefold()))
    return tuple(stale)
