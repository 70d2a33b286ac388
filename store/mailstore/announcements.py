"""Provides announcement journals and segment selection (which contacts an announcement reaches)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from rapport.store.book.accounts import Account, list_accounts
from rapport.store.book.activities import insert_activity
from rapport.store.book.contacts import Contact, list_contacts
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class Announcement:
    """One announcement: a template, the promotion it announces and an optional campaign name."""

    id: int
    template: str
    promotion: str
    campaign: str
    segment: str
    created_utc: str


@dataclass(frozen=True)
class Recipient:
    """A journal row. status: 'started' (delivery under way or crashed: uncertain), 'done', 'failed'."""

    contact_id: int
    email: str
    status: str
    mode: str
    message_id: str
    error: str


@dataclass(frozen=True)
class Segment:
    """Parsed `stage=Won,Referral tier=key tag=chemicals`: AND between keys, OR within one."""

    stages: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Audience:
    """The contacts a segment reaches, and those it leaves out (counted for the dry run)."""

    eligible: tuple[tuple[Account, Contact], ...]
    opted_out: int
    no_email: int
    bounced: int = 0  # the address announcements use bounced (see store/mailstore/bounces.py)


def identity_text(name: str) -> str:
    """How a promotion or campaign name identifies an announcement: case and spacing ignored."""
    return " ".join(name.split()).casefold()


# Between a promotion's name and its start date in `announcements.promotion`; identity_text
# leaves no tab in a name, so no name and date can read as another.
_START = "\t"


def promotion_key(name: str, start: date | None = None) -> str:
    """How a promotion identifies an announcement: its name (case and spacing ignored) and its
    first day. Next year's "Winter offer" (another start) is a new announcement; this year's,
    re-spelt or with its end date moved, is the same. Without a start date: the name alone."""
    key = identity_text(name)
    return f"{key}{_START}{start.isoformat()}" if key and start else key


_ANNOUNCEMENT = "SELECT id, template, promotion, campaign, segment, created_utc FROM announcements"


def _find(db: Database, template: str, key: str, campaign: str) -> Announcement | None:
    row = db.execute(f"{_ANNOUNCEMENT} WHERE template = ? AND promotion = ? AND campaign = ?",
                     [template, key, identity_text(campaign)]).fetchone()
    return Announcement(*row) if row else None


def find_announcement(db: Database, template: str, promotion: str = "", campaign: str = "",
                      start: date | None = None) -> Announcement | None:
    """The announcement of `template` for that promotion (and campaign), if one was ever run.

    A journal from before start dates were part of the identity (its promotion is the name
    alone) is the announcement of the first run with that name and any start date: a contact
    it reached before the upgrade is never reached again by the same run."""
    key = promotion_key(promotion, start)
    found = _find(db, template, key, campaign)
    if found is None and key != promotion_key(promotion):
        found = _find(db, template, promotion_key(promotion), campaign)
    return found


def get_or_create_announcement(db: Database, template: str, promotion: str = "",
                               campaign: str = "", segment: str = "",
                               start: date | None = None) -> Announcement:
    """The announcement for (template, promotion + start, campaign); `segment` is kept as last
    used. A journal without a start date (see find_announcement) takes this one's, once."""
    key = promotion_key(promotion, start)
    with db.atomic():
        legacy = find_announcement(db, template, promotion, campaign, start)
        if legacy is not None and legacy.promotion != key:
            db.execute("UPDATE announcements SET promotion = ? WHERE id = ?", [key, legacy.id])
        db.execute(
            "INSERT INTO announcements (template, promotion, campaign, segment, created_utc)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (template, promotion, campaign)"
            " DO UPDATE SET segment = excluded.segment",
            [template, key, identity_text(campaign), segment, utc_now_text()])
    found = _find(db, template, key, campaign)
    assert found is not None
    return found


def earlier_starts(db: Database, template: str, promotion: str, campaign: str = "",
                   start: date | None = None) -> list[tuple[str, int]]:
    """(start date, contacts reached) of the announcements of `template` for a promotion of
    that name with another start date: what a new start date does not count as reached."""
    name = identity_text(promotion)
    if not name:
        return []
    rows = db.execute(
        "SELECT a.promotion, (SELECT count(*) FROM announcement_recipients r"
        "  WHERE r.announcement_id = a.id AND r.status = 'done')"
        " FROM announcements a WHERE a.template = ? AND a.campaign = ? AND"
        " substr(a.promotion, 1, ?) = ? AND a.promotion != ? ORDER BY a.promotion",
        [template, identity_text(campaign), len(name) + 1, name + _START,
         promotion_key(promotion, start)]).fetchall()
    return [(key[len(name) + 1:], reached) for key, reached in rows]


def journal(db: Database, announcement_id: int) -> dict[int, Recipient]:
    """contact_id -> journal row, for every contact this announcement reached or tried."""
    rows = db.execute("SELECT contact_id, email, status, mode, message_id, error"
                      " FROM announcement_recipients WHERE announcement_id = ?",
                      [announcement_id]).fetchall()
    return {row[0]: Recipient(*row) for row in rows}


@contextmanager
def _durable(db: Database) -> Iterator[None]:
    """The commits inside are synced to disk (synchronous = FULL), not only to the OS: the
    workspace runs with NORMAL, where a power cut may lose the last commits, and a lost
    'started' row under a delivered message would let the next run deliver it again."""
    if db.conn.in_transaction:  # the outer transaction's commit decides
        yield
        return
    previous = int(db.execute("PRAGMA synchronous").fetchone()[0])
    db.execute("PRAGMA synchronous = FULL")
    try:
        yield
    finally:
        db.execute(f"PRAGMA synchronous = {previous}")


def mark_started_many(db: Database, announcement_id: int, mode: str,
                      rows: Iterable[tuple[int, str, str]]) -> None:
    """(contact_id, email, message_id) rows, committed durably before their delivery: a crash
    after this leaves them 'started' (uncertain), never silently retried. A 'failed' row
    starts again."""
    with _durable(db), db.atomic():
        db.conn.executemany(
            "INSERT INTO announcement_recipients (announcement_id, contact_id, email, status,"
            " mode, message_id) VALUES (?, ?, ?, 'started', ?, ?)"
            " ON CONFLICT (announcement_id, contact_id) DO UPDATE SET email = excluded.email,"
            " status = 'started', mode = excluded.mode, message_id = excluded.message_id,"
            " error = ''",
            [(announcement_id, contact_id, email, mode, message_id)
             for contact_id, email, message_id in rows])


def mark_started(db: Database, announcement_id: int, contact_id: int, email: str, mode: str,
                 message_id: str) -> None:
    mark_started_many(db, announcement_id, mode, [(contact_id, email, message_id)])


def mark_failed(db: Database, announcement_id: int, contact_id: int, error: str) -> None:
    """The server refused (or could not be reached): retried on the next run."""
    with db.atomic():
        db.execute("UPDATE announcement_recipients SET status = 'failed', error = ?"
                   " WHERE announcement_id = ? AND contact_id = ?",
                   [error, announcement_id, contact_id])


def mark_done_many(db: Database, announcement_id: int, rows: Iterable[tuple[int, int, str]],
                   template: str) -> None:
    """Delivered (contact_id, account_id, subject) rows: journal rows and, once per account,
    the timeline entry, in one transaction."""
    now = utc_now_text()
    with db.atomic():
        for contact_id, account_id, subject in rows:
            db.execute("UPDATE announcement_recipients SET status = 'done', done_utc = ?,"
                       " error = '' WHERE announcement_id = ? AND contact_id = ?",
                       [now, announcement_id, contact_id])
            seen = db.execute("SELECT 1 FROM announcement_accounts WHERE announcement_id = ?"
                              " AND account_id = ?", [announcement_id, account_id]).fetchone()
            if not seen:
                activity_id = insert_activity(db, account_id, "announcement", subject=subject,
                                              body=f"Announcement from template {template!r}")
                db.execute("INSERT INTO announcement_accounts VALUES (?, ?, ?)",
                           [announcement_id, account_id, activity_id])


def _account_stages(db: Database) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for account_id, stage in db.execute(
            "SELECT account_id, stage FROM deals WHERE archived_utc IS NULL").fetchall():
        found.setdefault(account_id, set()).add(stage.casefold())
    return found


def select_audience(db: Database, segment: Segment) -> Audience:
    """Contacts of the accounts matching `segment`; opted-out, bounced and address-less ones
    counted apart (never mailed)."""
    stages = _account_stages(db) if segment.stages else {}
    wanted_stages = {s.casefold() for s in segment.stages}
    eligible: list[tuple[Account, Contact]] = []
    opted_out = no_email = bounced = 0
    for account in list_accounts(db):
        if segment.tiers and account.tier not in segment.tiers:
            continue
        if segment.tags and not {t.casefold() for t in account.tags} & {
                t.casefold() for t in segment.tags}:
            continue
        if segment.accounts and account.name.casefold() not in {
                a.casefold() for a in segment.accounts}:
            continue
        if segment.stages and not stages.get(account.id, set()) & wanted_stages:
            continue
        for contact in list_contacts(db, account.id):
            if contact.opted_out:
                opted_out += 1
            elif not contact.emails:
                no_email += 1
            elif contact.bounced_utc is not None:
                bounced += 1
            else:
                eligible.append((account, contact))
    return Audience(tuple(eligible), opted_out, no_email, bounced)
