"""Provides Today's items: what needs doing or reviewing today, every item, none dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from rapport.store.mailstore.bounces import bounces_to_review, pending_optouts
from rapport.store.views.last_contact import day_end_utc, stale_accounts

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class TodayItem:
    """A line of the Today view; every line opens its account."""

    section: str  # 'opt-out' | 'bounce' | 'due' | 'complaint' | 'stale' | 'unanswered'
    account_id: int  # 0: an opt-out or bounces of an address not in the book (review)
    account_name: str
    text: str
    day: str
    request_id: int | None = None  # opt-out lines: what acknowledging them clears
    bounce_address: str = ""  # bounce lines: the address whose bounces acknowledging clears
    # Lines about an address not in the book: the mail to read (the request, the last bounce).
    message_id: int | None = None


NOT_IN_BOOK = "(not in the book)"  # the account column of a line about an unknown address


def _stored(db: Database, message_id: str) -> int | None:
    """The stored message with this Message-ID (None: not stored, or gone from the server)."""
    row = db.execute("SELECT id FROM messages WHERE message_id = ? ORDER BY id LIMIT 1",
                     [message_id]).fetchone()
    return int(row[0]) if row else None


def today_items(db: Database, today: date, stale_after_days: int) -> list[TodayItem]:
    """Unsubscribe requests and bounces of addresses not in the book not yet acknowledged,
    overdue and due-today next actions, open complaints, stale accounts, unanswered client mail
    older than a day.

    Every item, none dropped; complaints and unanswered mail longest-waiting first (what needs an
    answer most).
    """
    items: list[TodayItem] = []
    # Unsubscribe requests first: acted on already (the opt-out is set), to be acknowledged.
    for r in pending_optouts(db):
        if r.contact_id is not None:
            text = f"{r.contact_name or r.address} <{r.address}> opted out: {r.subject}"
            items.append(TodayItem("opt-out", r.account_id or 0, r.account_name, text,
                                   r.date_utc[:10], r.id))
        else:  # no account to open: enter shows the request itself
            items.append(TodayItem("opt-out", 0, NOT_IN_BOOK,
                                   f"{r.address} asked to unsubscribe: {r.subject}",
                                   r.date_utc[:10], r.id, message_id=_stored(db, r.message_id)))
    # Bounces no contact's mark settles: the failed delivery would show nowhere else.
    for b in bounces_to_review(db):
        # Short first: at 80 columns the address and what happened fit, the reason after.
        what = "bounced" if b.permanent else "delayed"
        times = f" {b.count} times" if b.count > 1 else ""
        text = f"{b.address} {what}{times}: {b.reason or 'no reason given'}"
        items.append(TodayItem("bounce", 0, NOT_IN_BOOK, text, b.date_utc[:10],
                               bounce_address=b.address, message_id=_stored(db, b.report_id)))
    for r in db.execute(
        """SELECT d.account_id, a.name, d.title, d.next_action, d.next_action_due FROM deals d
           JOIN accounts a ON a.id = d.account_id
           WHERE d.next_action_due IS NOT NULL AND d.next_action_due <= ?
           ORDER BY d.next_action_due, a.name""",
        [today.isoformat()],
    ):
        items.append(TodayItem("due", r[0], r[1], f"{r[2]}: {r[3]}", r[4]))
    for r in db.execute(
        """SELECT c.account_id, a.name, c.subject, c.body, c.date_utc FROM activities c
           JOIN accounts a ON a.id = c.account_id
           WHERE c.kind = 'complaint' AND c.resolved = 0 ORDER BY c.date_utc, c.id""",
    ):
        items.append(TodayItem("complaint", r[0], r[1], (r[2] or r[3]).split("\n")[0], r[4][:10]))
    # The report's definition of contact and staleness (store/views/last_contact.py), so the two agree.
    for s in stale_accounts(db, day_end_utc(today), stale_after_days):  # all of them: the list is virtualised
        last = (s.last_contact_utc or "")[:10]
        text = "never contacted" if s.days_since is None else f"no contact for {s.days_since} days"
        items.append(TodayItem("stale", s.account_id, s.account, text, last))
    day_ago = (today - timedelta(days=1)).isoformat()
    for r in db.execute(
        """SELECT ma.account_id, a.name, m.subject, m.date_utc FROM messages m
           JOIN message_accounts ma ON ma.message_id = m.id JOIN accounts a ON a.id = ma.account_id
           WHERE m.direction = 'in' AND m.answered = 0 AND m.date_utc < ?
             AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.thread_id = m.thread_id
                             AND r.direction = 'out' AND r.date_utc > m.date_utc)
           ORDER BY m.date_utc, m.id""",
        [day_ago],
    ):
        items.append(TodayItem("unanswered", r[0], r[1], r[2], r[3][:10]))
    return items
