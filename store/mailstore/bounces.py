"""Provides the addresses announcements must not reach: bounces and unsubscribe requests.

A permanent bounce (5.x.x) marks the address `bounced` at once; temporary ones (4.x.x) mark it
at the third within 30 days. The mark sits on the address (contact_emails), so a contact's
other addresses are untouched and `rapport contact EMAIL clear-bounce` names what it clears.
Mail from the address after the mark (they wrote to us: it works) clears it. Bounces of an
address no contact has (an alias the mail was forwarded to, a one-off address) wait in Today
for review, once they would have marked a contact. An unsubscribe
request sets the contact's opt-out and waits in Today until acknowledged; one from an address
not in the book waits there for review.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from rapport.store.book.activities import insert_activity
from rapport.store.errors import NotFoundError

# The rules live in optout_rules.py (a sync reads them without this module); named here too.
from rapport.store.mailstore.optout_rules import (
    DEFAULT_UNSUBSCRIBE_WORDS as DEFAULT_UNSUBSCRIBE_WORDS,
)
from rapport.store.mailstore.optout_rules import UnsubscribeRules as UnsubscribeRules
from rapport.store.text import clean_line
from rapport.store.timeutil import parse_utc_text, to_utc_text, utc_now_text

if TYPE_CHECKING:  # messages.py imports this module to note its batches
    from sqlite_utils import Database

    from rapport.store.mailstore.messages import NewMessage

TEMPORARY_LIMIT = 3
TEMPORARY_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class BounceNotice:
    """One failed recipient of a bounce, as the mail layer read it."""

    address: str
    permanent: bool
    status: str = ""
    diagnostic: str = ""


@dataclass(frozen=True)
class OptOutRequest:
    """An unsubscribe request waiting in Today (contact_id None: the sender is not in the book)."""

    id: int
    address: str
    contact_id: int | None
    contact_name: str
    account_id: int | None
    account_name: str
    subject: str
    date_utc: str
    message_id: str = ""  # the request's Message-ID


@dataclass(frozen=True)
class BounceReview:
    """Bounces of one address not in the book, waiting in Today until acknowledged."""

    address: str
    count: int          # bounces waiting, permanent and temporary
    permanent: bool     # one of them is a permanent failure (5.x.x)
    reason: str         # the last one's status and the server's words
    date_utc: str       # the last one's date
    report_id: str      # the last one's Message-ID: the bounce to read


_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|vs|antw|r|rif|tr|fw|fwd|wg)\s*(\[\d+\])?\s*:\s*)+",
                           re.IGNORECASE)


def _words_of(text: str) -> str:
    """`  Re: UNSUBSCRIBE!` -> `unsubscribe`: prefixes, punctuation and case dropped."""
    text = _REPLY_PREFIX.sub("", text)
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


@lru_cache(maxsize=8)
def _wanted(words: tuple[str, ...]) -> frozenset[str]:
    # Once per rule set, not per message: a sync asks for every message sent to the address.
    return frozenset(w for w in map(_words_of, words) if w)


def is_unsubscribe_text(subject: str, body: str, words: Sequence[str]) -> bool:
    """The subject, or the first line of the body that is not empty, is an unsubscribe word."""
    wanted = _wanted(tuple(words))
    if _words_of(subject) in wanted:
        return True
    first = next((line for line in body.splitlines() if line.strip()), "")
    return bool(first) and _words_of(first) in wanted


# -- bounces ---------------------------------------------------------------------------------

def _temporary_count(db: Database, address: str, date_utc: str) -> int:
    since = to_utc_text(parse_utc_text(date_utc) - TEMPORARY_WINDOW)
    row = db.execute(
        "SELECT count(*) FROM bounces b JOIN contact_emails ce ON ce.email = b.address"
        " WHERE b.address = ? AND b.permanent = 0 AND b.date_utc > ? AND b.date_utc <= ?"
        " AND b.date_utc > coalesce(ce.bounce_cleared_utc, '')", [address, since, date_utc],
    ).fetchone()
    return int(row[0])


def _mark(db: Database, address: str, date_utc: str, reason: str, report_id: str) -> bool:
    """Mark the address bounced (once) and note it on its account's timeline."""
    cursor = db.execute(
        "UPDATE contact_emails SET bounced_utc = ?, bounce_reason = ?"
        " WHERE email = ? AND bounced_utc IS NULL", [date_utc, reason, address])
    if not cursor.rowcount:
        return False
    row = db.execute("SELECT c.id, c.account_id FROM contact_emails ce JOIN contacts c"
                     " ON c.id = ce.contact_id WHERE ce.email = ?", [address]).fetchone()
    if row and row[1] is not None:
        insert_activity(db, row[1], "bounce", subject=f"Bounced: {address}", body=reason,
                        contact_id=row[0], date_utc=date_utc, message_id=report_id)
    return True


def record_bounces(db: Database, report_id: str, date_utc: str,
                   notices: Iterable[BounceNotice]) -> list[str]:
    """Store a bounce's failed recipients (once per report and address, whatever the resyncs)
    and mark those it settles; returns the addresses newly marked. Call inside the batch's
    transaction, before relinking its messages: the bounce then joins the contact's account."""
    marked = []
    for notice in notices:
        address = notice.address.strip().lower()
        reason = clean_line(" ".join(p for p in (notice.status, notice.diagnostic) if p))[:500]
        # A contact's address is settled by its mark; any other waits in Today for review.
        known = db.execute("SELECT 1 FROM contact_emails WHERE email = ?", [address]).fetchone()
        cursor = db.execute(
            "INSERT OR IGNORE INTO bounces (address, report_id, permanent, status, diagnostic,"
            " date_utc, reviewed_utc) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [address, report_id, int(notice.permanent), clean_line(notice.status)[:20],
             clean_line(notice.diagnostic)[:500], date_utc, date_utc if known else None])
        if not cursor.rowcount:
            continue  # the same report seen again (another folder, a refetch)
        if notice.permanent or _temporary_count(db, address, date_utc) >= TEMPORARY_LIMIT:
            if not notice.permanent:
                reason = f"{TEMPORARY_LIMIT} temporary failures in 30 days, last: {reason}"
            if _mark(db, address, date_utc, reason, report_id):
                marked.append(address)
    return marked


def clear_bounces_from(db: Database, senders: Iterable[tuple[str, str]]) -> list[str]:
    """(address, date_utc) of incoming mail: a bounced address that wrote after its mark works
    again. Returns the addresses cleared."""
    cleared = []
    for address, date_utc in senders:
        cursor = db.execute(
            "UPDATE contact_emails SET bounced_utc = NULL, bounce_reason = '',"
            " bounce_cleared_utc = ? WHERE email = ? AND bounced_utc IS NOT NULL"
            " AND bounced_utc < ?", [date_utc, address.lower(), date_utc])
        if cursor.rowcount:
            cleared.append(address.lower())
    return cleared


def address_bounce(db: Database, email: str) -> tuple[str | None, str]:
    """(bounced_utc, reason) of one address; (None, '') when it delivers or is unknown."""
    row = db.execute("SELECT bounced_utc, bounce_reason FROM contact_emails WHERE email = ?",
                     [email.strip().lower()]).fetchone()
    return (row[0], row[1]) if row and row[0] else (None, "")


def clear_bounce(db: Database, email: str) -> bool:
    """Clear an address's bounce mark by hand; False when it had none. NotFoundError when the
    address is no contact's."""
    with db.atomic():
        row = db.execute("SELECT bounced_utc FROM contact_emails WHERE email = ?",
                         [email.strip().lower()]).fetchone()
        if row is None:
            raise NotFoundError(f"no contact has the address {email.strip()!r}")
        db.execute("UPDATE contact_emails SET bounced_utc = NULL, bounce_reason = '',"
                   " bounce_cleared_utc = ? WHERE email = ?", [utc_now_text(), email.strip().lower()])
    return row[0] is not None


def bounces_to_review(db: Database) -> list[BounceReview]:
    """Addresses no contact has whose bounces are not yet acknowledged, oldest first: those a
    contact's would have been marked by (a permanent failure, or the third temporary one
    within 30 days). Nothing else shows a failed delivery to them."""
    rows = db.execute(
        "SELECT b.address, b.permanent, b.status, b.diagnostic, b.date_utc, b.report_id"
        " FROM bounces b WHERE b.reviewed_utc IS NULL"
        " AND b.address NOT IN (SELECT email FROM contact_emails) ORDER BY b.date_utc, b.id")
    by_address: dict[str, list[tuple[int, str, str, str, str]]] = {}
    for address, permanent, status, diagnostic, date_utc, report_id in rows:
        by_address.setdefault(address, []).append(
            (permanent, status, diagnostic, date_utc, report_id))
    found = []
    for address, bounces in by_address.items():
        _last_permanent, status, diagnostic, date_utc, report_id = bounces[-1]
        since = to_utc_text(parse_utc_text(date_utc) - TEMPORARY_WINDOW)
        temporary = sum(1 for b in bounces if not b[0] and b[3] > since)
        permanent = any(b[0] for b in bounces)
        if permanent or temporary >= TEMPORARY_LIMIT:
            reason = " ".join(p for p in (status, diagnostic) if p)
            found.append(BounceReview(address, len(bounces), permanent, reason, date_utc,
                                      report_id))
    return sorted(found, key=lambda r: r.date_utc)


def acknowledge_bounces(db: Database, address: str) -> None:
    """The bounces of an address not in the book seen: they leave Today (a later one comes
    back). NotFoundError when none is waiting."""
    with db.atomic():
        cursor = db.execute("UPDATE bounces SET reviewed_utc = ? WHERE address = ?"
                            " AND reviewed_utc IS NULL", [utc_now_text(), address.strip().lower()])
        if not cursor.rowcount:
            raise NotFoundError(f"no bounce of {address.strip()!r} waits for review")


# -- unsubscribe requests --------------------------------------------------------------------

def announcement_message_ids(db: Database, ids: Iterable[str]) -> set[str]:
    """Those of `ids` that are Message-IDs of announcements we drafted or sent."""
    wanted = sorted({i for i in ids if i})
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update(r[0] for r in db.execute(
            "SELECT message_id FROM announcement_recipients WHERE message_id IN"
            f" ({','.join('?' * len(chunk))})", chunk))
    return found


def record_optout_request(db: Database, address: str, message_id: str, subject: str,
                          date_utc: str) -> bool:
    """An unsubscribe request from `address`: the contact opts out and the request waits in
    Today. Once per request message; returns False when it was recorded before."""
    address = address.strip().lower()
    row = db.execute("SELECT c.id, c.account_id FROM contact_emails ce JOIN contacts c"
                     " ON c.id = ce.contact_id WHERE ce.email = ?", [address]).fetchone()
    contact_id, account_id = (row[0], row[1]) if row else (None, None)
    cursor = db.execute(
        "INSERT OR IGNORE INTO optout_requests (address, contact_id, message_id, subject,"
        " date_utc) VALUES (?, ?, ?, ?, ?)",
        [address, contact_id, message_id, clean_line(subject)[:300], date_utc])
    if not cursor.rowcount:
        return False
    if contact_id is not None:
        db.execute("UPDATE contacts SET opted_out = 1, updated_utc = ? WHERE id = ?",
                   [utc_now_text(), contact_id])
        if account_id is not None:
            insert_activity(db, account_id, "opt_out", subject=f"Opted out: {address}",
                            body=f"Unsubscribe request: {clean_line(subject)}",
                            contact_id=contact_id, date_utc=date_utc, message_id=message_id)
    return True


def pending_optouts(db: Database) -> list[OptOutRequest]:
    """Unsubscribe requests not yet acknowledged, oldest first."""
    rows = db.execute(
        "SELECT r.id, r.address, r.contact_id, coalesce(c.name, ''), c.account_id,"
        " coalesce(a.name, ''), r.subject, r.date_utc, r.message_id FROM optout_requests r"
        " LEFT JOIN contacts c ON c.id = r.contact_id LEFT JOIN accounts a ON a.id = c.account_id"
        " WHERE r.acknowledged_utc IS NULL ORDER BY r.date_utc, r.id").fetchall()
    return [OptOutRequest(*row) for row in rows]


def review_counts(db: Database) -> dict[str, int]:
    """How many unsubscribe requests and bounces of addresses not in the book wait in Today
    (`rapport status`): what pending_optouts and bounces_to_review list, counted."""
    requests = db.execute("SELECT count(*) FROM optout_requests"
                          " WHERE acknowledged_utc IS NULL").fetchone()[0]
    return {"unsubscribe_requests": int(requests), "bounces": len(bounces_to_review(db))}


def acknowledge_optout(db: Database, request_id: int) -> None:
    with db.atomic():
        cursor = db.execute("UPDATE optout_requests SET acknowledged_utc = ? WHERE id = ?"
                            " AND acknowledged_utc IS NULL", [utc_now_text(), request_id])
        if not cursor.rowcount and not db.execute(
                "SELECT 1 FROM optout_requests WHERE id = ?", [request_id]).fetchone():
            raise NotFoundError(f"no unsubscribe request {request_id}")


# -- a sync batch ----------------------------------------------------------------------------

def _is_request(msg: NewMessage, rules: UnsubscribeRules, replies_to_us: set[str]) -> bool:
    """Mail to the unsubscribe address (to your own one: with the subject our mailto: link
    sets), or a reply to an announcement saying so in its subject or first line."""
    if {msg.in_reply_to, *msg.refs} & replies_to_us:
        return is_unsubscribe_text(msg.subject, msg.body_text, rules.words)
    to_addresses = {addr.lower() for _name, addr in (*msg.to, *msg.cc)}
    if not rules.address or rules.address.lower() not in to_addresses:
        return False
    return not rules.address_needs_word or is_unsubscribe_text(msg.subject, "", rules.words)


def note_batch(db: Database, messages: Sequence[NewMessage], *, mine: frozenset[str],
               rules: UnsubscribeRules | None) -> None:
    """Bounces, cleared marks and unsubscribe requests of a sync batch, in its transaction."""
    answered = announcement_message_ids(
        db, [i for m in messages for i in (m.in_reply_to, *m.refs)]) if rules else set()
    # Usually none or a few: the batch's senders are checked against these, not one UPDATE each.
    bounced = {r[0] for r in db.execute(
        "SELECT email FROM contact_emails WHERE bounced_utc IS NOT NULL")}
    for msg in messages:
        if msg.bounces:
            record_bounces(db, msg.message_id, msg.date_utc, msg.bounces)
            bounced.update(n.address.lower() for n in msg.bounces)
            continue
        sender = msg.from_addr.lower()
        if not sender or sender in mine or msg.draft:
            continue
        if sender in bounced:
            clear_bounces_from(db, [(sender, msg.date_utc)])
        if rules is not None and _is_request(msg, rules, answered):
            record_optout_request(db, sender, msg.message_id, msg.subject, msg.date_utc)
