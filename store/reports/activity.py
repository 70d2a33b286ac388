"""Provides the activity figures of a report: mail, calls, meetings and notes per account, and
the first-response time to client mail (definitions: store/reports/figures.py)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapport.store.reports.period import Period
from rapport.store.timeutil import parse_utc_text
from rapport.store.views.last_contact import REAL_MAIL

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class AccountActivity:
    account_id: int
    account: str
    mails_in: int
    mails_out: int
    calls: int
    meetings: int
    notes: int

    @property
    def total(self) -> int:
        return self.mails_in + self.mails_out + self.calls + self.meetings + self.notes


@dataclass(frozen=True)
class FirstResponse:
    """Client waits that began in the period: how many we answered, and the median wait.

    A wait begins with the first client mail of a thread after our last reply (or the thread's
    start) and ends at our next mail in that thread; client follow-ups before that reply belong
    to the same wait. `inbound` counts the client mails of the period (one per Message-ID).
    """

    inbound: int
    waits: int
    answered: int
    median_hours: float | None

    @property
    def unanswered(self) -> int:
        return self.waits - self.answered


def activity_per_account(db: Database, period: Period) -> tuple[AccountActivity, ...]:
    """Per account with anything in the period: mails in/out, calls, meetings, notes."""
    rows = db.execute(
        f"""
        WITH mail AS (
            SELECT ma.account_id,
                   count(DISTINCT CASE WHEN m.direction = 'in' THEN m.message_id END) AS mails_in,
                   count(DISTINCT CASE WHEN m.direction = 'out' THEN m.message_id END) AS mails_out
            FROM message_accounts ma
            JOIN messages m ON m.id = ma.message_id
            JOIN folders f ON f.id = m.folder_id
            WHERE m.date_utc >= :start AND m.date_utc < :end AND {REAL_MAIL}
            GROUP BY ma.account_id
        ), acts AS (
            SELECT account_id,
                   sum(kind = 'call') AS calls, sum(kind = 'meeting') AS meetings,
                   sum(kind = 'note') AS notes
            FROM activities
            WHERE date_utc >= :start AND date_utc < :end AND kind IN ('call', 'meeting', 'note')
            GROUP BY account_id
        )
        SELECT a.id, a.name, coalesce(mail.mails_in, 0), coalesce(mail.mails_out, 0),
               coalesce(acts.calls, 0), coalesce(acts.meetings, 0), coalesce(acts.notes, 0)
        FROM accounts a
        LEFT JOIN mail ON mail.account_id = a.id
        LEFT JOIN acts ON acts.account_id = a.id
        WHERE mail.account_id IS NOT NULL OR acts.account_id IS NOT NULL""",
        {"start": period.start_utc, "end": period.end_utc},
    ).fetchall()
    found = [AccountActivity(int(r[0]), r[1], *(int(x) for x in r[2:])) for r in rows]
    found.sort(key=lambda a: (-a.total, a.account.casefold()))
    return tuple(found)


def first_response(db: Database, period: Period) -> FirstResponse:
    """Median time from the start of each client wait begun in the period to our reply."""
    params = {"start": period.start_utc, "end": period.end_utc}
    # Whole threads that had client mail in the period: a wait may have begun before it.
    rows = db.execute(
        f"""
        WITH client AS (
            SELECT m.id FROM messages m JOIN folders f ON f.id = m.folder_id
            WHERE m.direction = 'in' AND {REAL_MAIL}
              AND EXISTS (SELECT 1 FROM message_accounts ma WHERE ma.message_id = m.id)
        ), threads AS (
            SELECT DISTINCT m.thread_id FROM messages m JOIN client c ON c.id = m.id
            WHERE m.date_utc >= :start AND m.date_utc < :end
        )
        SELECT m.thread_id, m.direction, min(m.date_utc) AS sent
        FROM messages m JOIN folders f ON f.id = m.folder_id
        WHERE m.thread_id IN (SELECT thread_id FROM threads) AND {REAL_MAIL}
          AND (m.direction = 'out' OR m.id IN (SELECT id FROM client))
        GROUP BY m.thread_id, m.message_id, m.direction
        -- At the same second our mail comes first: it cannot answer what arrived with it.
        ORDER BY m.thread_id, sent, m.direction = 'in'""",
        params,
    ).fetchall()
    inbound = sum(1 for _, direction, sent in rows if direction == "in" and in_period(period, sent))
    waits = [w for w in _client_waits(rows) if in_period(period, w[0])]
    hours = [
        (parse_utc_text(reply) - parse_utc_text(began)).total_seconds() / 3600
        for began, reply in waits
        if reply is not None
    ]
    median = round(statistics.median(hours), 2) if hours else None
    return FirstResponse(inbound, len(waits), len(hours), median)


def _client_waits(rows: list[tuple[str, str, str]]) -> list[tuple[str, str | None]]:
    """(began, replied or None) per wait, from (thread, direction, sent) rows in thread order."""
    waits: list[tuple[str, str | None]] = []
    thread, waiting_since = None, None
    for thread_id, direction, sent in rows:
        if thread_id != thread:
            if waiting_since is not None:
                waits.append((waiting_since, None))
            thread, waiting_since = thread_id, None
        if direction == "in" and waiting_since is None:
            waiting_since = sent
        elif direction == "out" and waiting_since is not None:
            waits.append((waiting_since, sent))
            waiting_since = None
    if waiting_since is not None:
        waits.append((waiting_since, None))
    return waits


def in_period(period: Period, utc_text: str) -> bool:
    return period.start_utc <= utc_text < period.end_utc

