"""Provides activities: the dated timeline entries of an account (notes, calls, objections...)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapport.store.errors import InputError, NotFoundError
from rapport.store.text import clean_line, clean_text
from rapport.store.timeutil import parse_utc_text, utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database

KINDS = ("note", "call", "meeting", "objection", "complaint", "stage_change", "draft", "sent",
         "announcement", "bounce", "opt_out")
# Open until resolved: a sales objection, or a client's complaint (a post-contract support issue).
RESOLVABLE = ("objection", "complaint")


@dataclass(frozen=True)
class Activity:
    """One timeline entry. `resolved` is None except for objections and complaints (False while open)."""

    id: int
    account_id: int
    deal_id: int | None
    contact_id: int | None
    kind: str
    date_utc: str
    subject: str
    body: str
    resolved: bool | None
    resolved_utc: str | None
    from_stage: str | None
    to_stage: str | None
    message_id: str | None


_COLUMNS = (
    "id, account_id, deal_id, contact_id, kind, date_utc, subject, body, resolved, "
    "resolved_utc, from_stage, to_stage, message_id"
)


def _row(row: tuple[Any, ...]) -> Activity:
    values = list(row)
    values[8] = None if values[8] is None else bool(values[8])
    return Activity(*values)


def get_activity(db: Database, activity_id: int) -> Activity:
    row = db.execute(f"SELECT {_COLUMNS} FROM activities WHERE id = ?", [activity_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no activity with id {activity_id}")
    return _row(row)


def _check_moment(date_utc: str) -> str:
    try:
        parse_utc_text(date_utc)
    except ValueError as exc:
        raise InputError(f"{date_utc!r} is not a UTC time like 2026-03-01T09:30:00Z") from exc
    return date_utc


def touch_deals(db: Database, account_id: int, deal_id: int | None, moment: str) -> None:
    """Mark deals as active at `moment` (never moving the mark back), so they stop rotting.

    An activity without a deal counts for every deal of the account: a call to the client
    is work on whatever is open with them.
    """
    if deal_id is not None:
        db.execute(
            "UPDATE deals SET last_activity_utc = max(last_activity_utc, ?) WHERE id = ?",
            [moment, deal_id],
        )
    else:
        db.execute(
            "UPDATE deals SET last_activity_utc = max(last_activity_utc, ?) WHERE account_id = ?",
            [moment, account_id],
        )


def insert_activity(
    db: Database,
    account_id: int,
    kind: str,
    *,
    body: str = "",
    subject: str = "",
    deal_id: int | None = None,
    contact_id: int | None = None,
    date_utc: str | None = None,
    message_id: str | None = None,
    from_stage: str | None = None,
    to_stage: str | None = None,
) -> int:
    """The INSERT behind add_activity, for callers already inside a transaction."""
    if kind not in KINDS:
        raise InputError(f"unknown activity kind {kind!r} (one of: {', '.join(KINDS)})")
    if not db.execute("SELECT 1 FROM accounts WHERE id = ?", [account_id]).fetchone():
        raise NotFoundError(f"no account with id {account_id}")
    if deal_id is not None and not db.execute(
        "SELECT 1 FROM deals WHERE id = ? AND account_id = ?", [deal_id, account_id]
    ).fetchone():
        raise NotFoundError(f"account {account_id} has no deal {deal_id}")
    moment = _check_moment(date_utc) if date_utc else utc_now_text()
    cursor = db.execute(
        f"INSERT INTO activities ({_COLUMNS.split(', ', 1)[1]})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [account_id, deal_id, contact_id, kind, moment, clean_line(subject), clean_text(body),
         0 if kind in RESOLVABLE else None, None, from_stage, to_stage, message_id],
    )
    touch_deals(db, account_id, deal_id, moment)
    return int(cursor.lastrowid or 0)


def add_activity(
    db: Database,
    account_id: int,
    kind: str,
    *,
    body: str = "",
    subject: str = "",
    deal_id: int | None = None,
    contact_id: int | None = None,
    date_utc: str | None = None,
    message_id: str | None = None,
) -> Activity:
    """Record a note, call, meeting, objection, complaint... (objections and complaints start open)."""
    with db.atomic():
        activity_id = insert_activity(
            db, account_id, kind, body=body, subject=subject, deal_id=deal_id,
            contact_id=contact_id, date_utc=date_utc, message_id=message_id,
        )
    return get_activity(db, activity_id)


def resolve_objection(db: Database, activity_id: int, *, when: str | None = None) -> Activity:
    """Mark an objection or a complaint resolved (now, or at `when`); InputError for any other activity."""
    activity = get_activity(db, activity_id)
    if activity.kind not in RESOLVABLE:
        raise InputError(f"activity {activity_id} is a {activity.kind}, not an objection or a complaint")
    if not activity.resolved:
        now = _check_moment(when) if when else utc_now_text()
        with db.atomic():
            db.execute(
                "UPDATE activities SET resolved = 1, resolved_utc = ? WHERE id = ?",
                [now, activity_id],
            )
            touch_deals(db, activity.account_id, activity.deal_id, now)
    return get_activity(db, activity_id)


def list_activities(
    db: Database, account_id: int, *, kinds: Iterable[str] | None = None
) -> list[Activity]:
    """One account's activities, newest first."""
    sql = f"SELECT {_COLUMNS} FROM activities WHERE account_id = ?"
    params: list[object] = [account_id]
    if kinds is not None:
        wanted = list(kinds)
        if not wanted:
            return []
        sql += f" AND kind IN ({','.join('?' * len(wanted))})"
        params.extend(wanted)
    sql += " ORDER BY date_utc DESC, id DESC"
    return [_row(row) for row in db.execute(sql, params)]


def rewrite_draft(db: Database, message_id: str, *, subject: str, body: str) -> int:
    """A re-edited draft's new subject and text on its 'draft' lines (the Message-ID stays);
    how many lines were changed."""
    with db.atomic():
        cursor = db.execute("UPDATE activities SET subject = ?, body = ? WHERE kind = 'draft' AND message_id = ?",
                            [clean_line(subject), clean_text(body), message_id])
    return int(cursor.rowcount or 0)
