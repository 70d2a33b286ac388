"""Provides the linking of messages to accounts: the rules and the set-based re-link.

Corrections (assign, override, pin) live in corrections.py, `explain` for `rapport why` in
why.py, and creating an account from a sender in newcomers.py; all re-link through here.

Rules, strongest first, per (message, account):
  1. `assigned`  — a manual assignment (keyed by Message-ID, so it survives a refetch);
     a manual un-assignment removes the pair whatever else says.
  2. `pin`       — the message's thread is pinned to one of the account's deals.
     `bounce`    — (as strong) a bounce reporting a failed address of one of the account's
     contacts: it comes from a mailer daemon, so no address of its own would link it.
  3. `override`  — an address has an "always" override for the account.
  4. `contact`   — a From/To/Cc address is a contact of the account.
  5. `domain`    — otherwise (the address is no account's contact) its domain, or a parent
     domain, is one of the account's domains; freemail domains never count.
The user's own addresses never count, and a "never" override removes an (address, account) pair.

Re-linking is set-based: addresses are resolved once per DISTINCT address in Python (suffix
look-ups for subdomains), written to a temp table, and one INSERT ... SELECT joins it with
`message_addresses`, so 100k messages cost a few joins, not a loop per message.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database

RULES = ("assigned", "pin", "bounce", "override", "contact", "domain")
_MATCH_ROLES = ("from", "to", "cc")
_CHUNK = 500


@functools.lru_cache(maxsize=1)
def freemail_domains() -> frozenset[str]:
    """The shipped freemail list (store/freemail.txt, package data of rapport.store)."""
    from importlib import resources  # ~4 ms (tempfile, shutil): only when mail is matched

    text = resources.files("rapport.store").joinpath("freemail.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def _suffixes(domain: str) -> list[str]:
    """`a.b.acme.com` -> [a.b.acme.com, b.acme.com, acme.com, com]: most specific first."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def remember_my_addresses(db: Database, mine: frozenset[str]) -> int:
    """Keep `my_addresses` equal to the config's, so later re-links ignore them too.

    When they change (an alias added to `[me]`, an old address dropped), the mail from or to the
    addresses that changed is re-linked and its direction (out when From: is yours) recomputed,
    so mail from a new alias stops counting as client mail in and stops linking accounts through
    that address. Returns the number of messages re-linked.
    """
    stored = {r[0] for r in db.execute("SELECT address FROM my_addresses")}
    wanted = {a.lower() for a in mine}
    if stored == wanted:
        return 0
    changed = sorted(stored ^ wanted)
    with db.atomic():
        db.execute("DELETE FROM my_addresses")
        db.conn.executemany(
            "INSERT INTO my_addresses (address) VALUES (?)", [(a,) for a in sorted(wanted)]
        )
        ids: set[int] = set()
        for start in range(0, len(changed), _CHUNK):
            chunk = changed[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            db.execute(
                f"""UPDATE messages SET direction = CASE WHEN from_addr IN
                    (SELECT address FROM my_addresses) THEN 'out' ELSE 'in' END
                WHERE from_addr IN ({marks})""",
                chunk,
            )
            ids.update(r[0] for r in db.execute(
                f"SELECT message_id FROM message_addresses WHERE address IN ({marks})", chunk
            ))
        relink_messages(db, ids)
    return len(ids)


def my_addresses(db: Database) -> frozenset[str]:
    return frozenset(r[0] for r in db.execute("SELECT address FROM my_addresses"))


@dataclass(frozen=True)
class Book:
    """What matching needs from the account book, read once per re-link."""

    mine: frozenset[str]
    contacts: dict[str, int]  # address -> account id (contacts with an account)
    domains: dict[str, int]  # domain -> account id, freemail removed
    always: dict[str, list[int]]
    never: frozenset[tuple[str, int]]


def read_book(db: Database) -> Book:
    free = freemail_domains()
    contacts: dict[str, int] = {}
    for email, account_id in db.execute(
        "SELECT ce.email, c.account_id FROM contact_emails ce JOIN contacts c ON c.id = ce.contact_id"
    ):
        if account_id is not None:
            contacts[email.lower()] = account_id
    domains = {
        d.lower(): a
        for d, a in db.execute("SELECT domain, account_id FROM account_domains")
        if d.lower() not in free
    }
    always: dict[str, list[int]] = {}
    never: set[tuple[str, int]] = set()
    for address, account_id, mode in db.execute(
        "SELECT address, account_id, mode FROM address_overrides"
    ):
        if mode == "always":
            always.setdefault(address.lower(), []).append(account_id)
        else:
            never.add((address.lower(), account_id))
    return Book(my_addresses(db), contacts, domains, always, frozenset(never))


def _domain_account(book: Book, address: str) -> tuple[int, str] | None:
    domain = domain_of(address)
    if not domain or domain in freemail_domains():
        return None
    for suffix in _suffixes(domain):
        if suffix in book.domains:
            return book.domains[suffix], suffix
    return None


def links_for(book: Book, address: str) -> list[tuple[str, int, str, str, int]]:
    """(address, account_id, rule, detail, priority) rows for one address."""
    if address in book.mine:
        return []
    rows: list[tuple[str, int, str, str, int]] = []
    for account_id in book.always.get(address, ()):
        rows.append((address, account_id, "override", address, 0))
    if address in book.contacts:
        rows.append((address, book.contacts[address], "contact", address, 1))
    else:
        # Domain only when the address is no account's contact: a consultant at acme.com who is
        # a contact of another account must not drag the mail to Acme. A contact without an
        # account still has a company domain worth matching.
        found = _domain_account(book, address)
        if found:
            rows.append((address, found[0], "domain", found[1], 2))
    return [r for r in rows if (address, r[1]) not in book.never]


def _fill_links(db: Database, addresses: Iterable[str]) -> None:
    book = read_book(db)
    db.execute("DROP TABLE IF EXISTS temp.match_links")
    db.execute(
        "CREATE TEMP TABLE match_links (address TEXT NOT NULL, account_id INTEGER NOT NULL, "
        "rule TEXT NOT NULL, detail TEXT NOT NULL, prio INTEGER NOT NULL)"
    )
    rows = [row for address in addresses for row in links_for(book, address)]
    db.conn.executemany("INSERT INTO temp.match_links VALUES (?, ?, ?, ?, ?)", rows)
    db.execute("CREATE INDEX temp.match_links_address ON match_links(address)")


_NOT_UNASSIGNED = """
    NOT EXISTS (SELECT 1 FROM message_assignments u
                WHERE u.message_id = m.message_id AND u.account_id = {acct} AND u.mode = 'unassign')
"""


def _insert_links(db: Database, scope: str) -> int:
    """Write message_accounts for messages in `scope` (an SQL condition on m.id)."""
    before: int = db.execute("SELECT total_changes()").fetchone()[0]
    db.execute(
        f"""INSERT OR IGNORE INTO message_accounts (message_id, account_id, rule, detail)
        SELECT m.id, a.account_id, 'assigned', 'manual'
        FROM messages m JOIN message_assignments a ON a.message_id = m.message_id
        JOIN accounts acc ON acc.id = a.account_id
        WHERE a.mode = 'assign' AND {scope}"""
    )
    db.execute(
        f"""INSERT OR IGNORE INTO message_accounts (message_id, account_id, rule, detail)
        SELECT m.id, d.account_id, 'pin', 'deal ' || d.id || ': ' || d.title
        FROM messages m JOIN thread_pins p ON p.thread_id = m.thread_id
        JOIN deals d ON d.id = p.deal_id
        WHERE {scope} AND {_NOT_UNASSIGNED.format(acct="d.account_id")}"""
    )
    db.execute(
        f"""INSERT OR IGNORE INTO message_accounts (message_id, account_id, rule, detail)
        SELECT m.id, c.account_id, 'bounce', b.address
        FROM messages m JOIN bounces b ON b.report_id = m.message_id
        JOIN contact_emails ce ON ce.email = b.address JOIN contacts c ON c.id = ce.contact_id
        WHERE c.account_id IS NOT NULL AND {scope}
          AND {_NOT_UNASSIGNED.format(acct="c.account_id")}"""
    )
    db.execute(
        f"""INSERT OR IGNORE INTO message_accounts (message_id, account_id, rule, detail)
        SELECT m.id, l.account_id, l.rule, l.detail
        FROM message_addresses ma JOIN temp.match_links l ON l.address = ma.address
        JOIN messages m ON m.id = ma.message_id
        WHERE ma.role IN ('from', 'to', 'cc') AND {scope}
          AND {_NOT_UNASSIGNED.format(acct="l.account_id")}
        ORDER BY l.prio, CASE ma.role WHEN 'from' THEN 0 WHEN 'to' THEN 1 ELSE 2 END"""
    )
    after: int = db.execute("SELECT total_changes()").fetchone()[0]
    return after - before


def relink_all(db: Database) -> int:
    """Recompute every message's accounts; returns the number of links written."""
    with db.atomic():
        addresses = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT address FROM message_addresses WHERE role IN ('from', 'to', 'cc')"
            )
        ]
        _fill_links(db, addresses)
        db.execute("DELETE FROM message_accounts")
        written = _insert_links(db, "1")
        db.execute("DROP TABLE temp.match_links")
    return written


def relink_messages(db: Database, message_ids: Iterable[int]) -> int:
    """Recompute the accounts of these messages only (a sync batch, one correction)."""
    ids = sorted(set(message_ids))
    if not ids:
        return 0
    with db.atomic():
        db.execute("DROP TABLE IF EXISTS temp.match_scope")
        db.execute("CREATE TEMP TABLE match_scope (id INTEGER PRIMARY KEY)")
        db.conn.executemany("INSERT INTO temp.match_scope VALUES (?)", [(i,) for i in ids])
        addresses = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT address FROM message_addresses WHERE role IN ('from', 'to', 'cc') "
                "AND message_id IN (SELECT id FROM temp.match_scope)"
            )
        ]
        _fill_links(db, addresses)
        db.execute(
            "DELETE FROM message_accounts WHERE message_id IN (SELECT id FROM temp.match_scope)"
        )
        written = _insert_links(db, "m.id IN (SELECT id FROM temp.match_scope)")
        db.execute("DROP TABLE temp.match_links")
        db.execute("DROP TABLE temp.match_scope")
    return written


def linked_message_ids(db: Database, account_id: int) -> Sequence[int]:
    return [
        r[0]
        for r in db.execute(
            "SELECT message_id FROM message_accounts WHERE account_id = ?", [account_id]
        )
    ]
