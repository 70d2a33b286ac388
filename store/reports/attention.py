"""Provides the objections and complaints still open at a moment (a report's "as of")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from rapport.store.timeutil import parse_utc_text
from rapport.store.views.last_contact import as_of_day

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class OpenObjection:
    """An objection (or, in `open_complaints`, a complaint) still open at the "as of" moment."""

    activity_id: int
    account_id: int
    account: str
    date_utc: str
    subject: str
    age_days: int


def open_objections(db: Database, as_of_utc: str) -> tuple[OpenObjection, ...]:
    """Objections raised before `as_of_utc` and not resolved by then, oldest first."""
    return _still_open(db, as_of_utc, "objection")


def open_complaints(db: Database, as_of_utc: str) -> tuple[OpenObjection, ...]:
    """Complaints made before `as_of_utc` and not resolved by then, oldest first."""
    return _still_open(db, as_of_utc, "complaint")


def _still_open(db: Database, as_of_utc: str, kind: str) -> tuple[OpenObjection, ...]:
    rows = db.execute(
        """
        SELECT ac.id, a.id, a.name, ac.date_utc, coalesce(nullif(ac.subject, ''), ac.body)
        FROM activities ac JOIN accounts a ON a.id = ac.account_id
        WHERE ac.kind = :kind AND ac.date_utc < :as_of
          AND (coalesce(ac.resolved, 0) = 0 OR ac.resolved_utc >= :as_of)
        ORDER BY ac.date_utc, ac.id""",
        {"as_of": as_of_utc, "kind": kind},
    ).fetchall()
    as_of = as_of_day(as_of_utc)
    return tuple(
        OpenObjection(int(i), int(a), name, when, _first_line(text), (as_of - _day(when)).days)
        for i, a, name, when, text in rows
    )


def _day(utc_text: str) -> date:
    return parse_utc_text(utc_text).date()


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0][:120] if (text or "").strip() else ""

