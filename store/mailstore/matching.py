"""Provides the linking of messages to accounts, its corrections and `explain` for `rapport why`.

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
from importlib import resources
from typing import TYPE_CHECKING, Any

from rapport.store.errors import InputError, NotFoundError
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database

if TYPE_CHECKING:  # book/accounts.py imports this module to re-link mail
    from rapport.store.book.accounts import Account
    from rapport.store.book.contacts import Contact

RULES = ("assigned", "pin", "bounce", "override", "contact", "domain")
_MATCH_ROLES = ("from", "to", "cc")
_CHUNK = 500


@dataclass(frozen=True)
class MatchReason:
    """One line of `rapport why`: a link (linked=True) or a rule that kept one away."""

    account_id: int | None
    account: str
    rule: str  # assigned|pin|override|contact|domain|unassigned|never|mine|freemail|unmatched
    detail: str
    linked: bool
    text: str


@functools.lru_cache(maxsize=1)
def freemail_domains() -> frozenset[str]:
    """The shipped freemail list (store/freemail.txt, package data of rapport.store)."""
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
class _Book:
    """What matching needs from the account book, read once per re-link."""

    mine: frozenset[str]
    contacts: dict[str, int]  # address -> account id (contacts with an account)
    domains: dict[str, int]  # domain -> account id, freemail removed
    always: dict[str, list[int]]
    never: frozenset[tuple[str, int]]


def _read_book(db: Database) -> _Book:
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
    return _Book(my_addresses(db), contacts, domains, always, frozenset(never))


def _domain_account(book: _Book, address: str) -> tuple[int, str] | None:
    domain = domain_of(address)
    if not domain or domain in freemail_domains():
        return None
    for suffix in _suffixes(domain):
        if suffix in book.domains:
            return book.domains[suffix], suffix
    return None


def _links_for(book: _Book, address: str) -> list[tuple[str, int, str, str, int]]:
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
    book = _read_book(db)
    db.execute("DROP TABLE IF EXISTS temp.match_links")
    db.execute(
        "CREATE TEMP TABLE match_links (address TEXT NOT NULL, account_id INTEGER NOT NULL, "
        "rule TEXT NOT NULL, detail TEXT NOT NULL, prio INTEGER NOT NULL)"
    )
    rows = [row for address in addresses for row in _links_for(book, address)]
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


def _ids_with_address(db: Database, address: str) -> list[int]:
    return [
        r[0]
        for r in db.execute("SELECT message_id FROM message_addresses WHERE address = ?", [address])
    ]


def _ids_with_message_id(db: Database, message_id_text: str) -> list[int]:
    return [
        r[0] for r in db.execute("SELECT id FROM messages WHERE message_id = ?", [message_id_text])
    ]


def _require_account(db: Database, account_id: int) -> str:
    row = db.execute("SELECT name FROM accounts WHERE id = ?", [account_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no account with id {account_id}")
    return str(row[0])


def _message_id_text(db: Database, message_id: int) -> tuple[str, str]:
    row = db.execute(
        "SELECT message_id, thread_id FROM messages WHERE id = ?", [message_id]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no message with id {message_id}")
    return row[0], row[1]


def set_override(db: Database, address: str, account_id: int, mode: str | None) -> None:
    """Always / never link `address` to the account (None clears); re-links its messages."""
    from rapport.store.book.contacts import normalize_email

    address = normalize_email(address)  # foo@bar (no domain dot) is refused, as for a contact
    if mode not in ("always", "never", None):
        raise InputError(f"override mode must be 'always', 'never' or none, not {mode!r}")
    _require_account(db, account_id)
    with db.atomic():
        if mode is None:
            db.execute(
                "DELETE FROM address_overrides WHERE address = ? AND account_id = ?",
                [address, account_id],
            )
        else:
            db.execute(
                "INSERT INTO address_overrides (address, account_id, mode) VALUES (?, ?, ?) "
                "ON CONFLICT (address, account_id) DO UPDATE SET mode = excluded.mode",
                [address, account_id, mode],
            )
        relink_messages(db, _ids_with_address(db, address))


def _set_assignment(db: Database, message_id: int, account_id: int, mode: str) -> None:
    mid, _ = _message_id_text(db, message_id)
    _require_account(db, account_id)
    with db.atomic():
        db.execute(
            "INSERT INTO message_assignments (message_id, account_id, mode, created_utc) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (message_id, account_id) "
            "DO UPDATE SET mode = excluded.mode, created_utc = excluded.created_utc",
            [mid, account_id, mode, utc_now_text()],
        )
        relink_messages(db, _ids_with_message_id(db, mid))


def assign_message(db: Database, message_id: int, account_id: int) -> None:
    """Link the message (every copy with its Message-ID) to the account, whatever the rules say."""
    _set_assignment(db, message_id, account_id, "assign")


def unassign_message(db: Database, message_id: int, account_id: int) -> None:
    """Never link the message (every copy with its Message-ID) to the account."""
    _set_assignment(db, message_id, account_id, "unassign")


def clear_assignment(db: Database, message_id: int, account_id: int) -> None:
    """Forget a manual assign/unassign: the rules decide again."""
    mid, _ = _message_id_text(db, message_id)
    with db.atomic():
        db.execute(
            "DELETE FROM message_assignments WHERE message_id = ? AND account_id = ?",
            [mid, account_id],
        )
        relink_messages(db, _ids_with_message_id(db, mid))


def _thread_ids(db: Database, thread_id: str) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM messages WHERE thread_id = ?", [thread_id])]


def pin_thread(db: Database, thread_id: str, deal_id: int, *, pipeline: Any = None) -> None:
    """Pin a thread to a deal: its messages, and later replies, link to the deal's account.

    With the workspace `pipeline`, only open deals (not won or lost) can take a pin.
    """
    row = db.execute("SELECT stage, title FROM deals WHERE id = ?", [deal_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no deal with id {deal_id}")
    stage = pipeline.get(row[0]) if pipeline is not None else None
    if stage is not None and stage.kind != "open":
        raise InputError(
            f"deal {deal_id} ({row[1]}) is {stage.kind} (stage {row[0]!r}); pin to an open deal"
        )
    with db.atomic():
        db.execute(
            "INSERT INTO thread_pins (thread_id, deal_id, created_utc) VALUES (?, ?, ?) "
            "ON CONFLICT (thread_id) DO UPDATE SET deal_id = excluded.deal_id, "
            "created_utc = excluded.created_utc",
            [thread_id, deal_id, utc_now_text()],
        )
        relink_messages(db, _thread_ids(db, thread_id))


def unpin_thread(db: Database, thread_id: str) -> None:
    with db.atomic():
        db.execute("DELETE FROM thread_pins WHERE thread_id = ?", [thread_id])
        relink_messages(db, _thread_ids(db, thread_id))


def deal_for_message(db: Database, message_id: int) -> int | None:
    """The deal the message's thread is pinned to, if any."""
    row = db.execute(
        "SELECT p.deal_id FROM messages m JOIN thread_pins p ON p.thread_id = m.thread_id "
        "WHERE m.id = ?",
        [message_id],
    ).fetchone()
    return row[0] if row else None


_RULE_TEXT = {
    "assigned": "assigned by hand to {account}",
    "pin": "thread pinned to {detail} of {account}",
    "override": "address {detail} has an 'always' override for {account}",
    "contact": "{detail} is a contact of {account}",
    "domain": "domain {detail} belongs to {account}",
    "bounce": "a bounce for {detail}, a contact of {account}",
}


def explain(db: Database, message_id: int) -> list[MatchReason]:
    """Why the message is (or is not) linked to each account, links first."""
    mid, _ = _message_id_text(db, message_id)
    book = _read_book(db)  # the whole address book: read once, not once per reason
    reasons: list[MatchReason] = []
    for account_id, name, rule, detail in db.execute(
        "SELECT a.id, a.name, ma.rule, ma.detail FROM message_accounts ma "
        "JOIN accounts a ON a.id = ma.account_id WHERE ma.message_id = ? "
        "ORDER BY a.name COLLATE NOCASE",
        [message_id],
    ):
        text = _RULE_TEXT.get(rule, "{rule} {detail} -> {account}").format(
            account=name, detail=detail, rule=rule
        )
        if rule == "domain":
            text += _domain_witnesses(db, book, message_id, account_id, detail)
        reasons.append(MatchReason(account_id, name, rule, detail, True, text))
    reasons.extend(_explain_misses(db, book, message_id, mid))
    if not any(r.linked for r in reasons):
        reasons.append(
            MatchReason(
                None, "", "unmatched", "", False, "no rule links it: unassigned (review queue)"
            )
        )
    return reasons


def _domain_witnesses(db: Database, book: _Book, message_id: int, account_id: int,
                      domain: str) -> str:
    """` (via x@sub.acme.com and 2 more)`: the addresses that linked by `domain`, so a match
    through a subdomain or a Cc among thirty recipients can be seen and corrected."""
    found = [
        address for (address,) in db.execute(
            "SELECT address FROM message_addresses WHERE message_id = ? AND role IN ('from',"
            " 'to', 'cc') GROUP BY address ORDER BY min(role != 'from'), address", [message_id])
        if any(row[1:4] == (account_id, "domain", domain) for row in _links_for(book, address))
    ]
    if not found:
        return ""
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return f" (via {found[0]}{more})"


def _explain_misses(db: Database, book: _Book, message_id: int, mid: str) -> list[MatchReason]:
    misses: list[MatchReason] = []
    for account_id, name in db.execute(
        "SELECT a.id, a.name FROM message_assignments u JOIN accounts a ON a.id = u.account_id "
        "WHERE u.message_id = ? AND u.mode = 'unassign'",
        [mid],
    ):
        misses.append(
            MatchReason(
                account_id, name, "unassigned", "", False, f"unassigned by hand from {name}"
            )
        )
    addresses = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT address FROM message_addresses WHERE message_id = ? "
            "AND role IN ('from', 'to', 'cc') ORDER BY address",
            [message_id],
        )
    ]
    names = dict(db.execute("SELECT id, name FROM accounts").fetchall())
    for address in addresses:
        if address in book.mine:
            misses.append(
                MatchReason(None, "", "mine", address, False, f"{address} is yours: ignored")
            )
            continue
        for addr, account_id in sorted(book.never):
            if addr == address:
                name = names.get(account_id, "?")
                misses.append(
                    MatchReason(
                        account_id,
                        name,
                        "never",
                        address,
                        False,
                        f"{address} has a 'never' override for {name}",
                    )
                )
        domain = domain_of(address)
        if domain in freemail_domains() and address not in book.contacts:
            misses.append(
                MatchReason(
                    None,
                    "",
                    "freemail",
                    domain,
                    False,
                    f"{domain} is a freemail domain: {address} matches only as a contact",
                )
            )
    return misses


def linked_message_ids(db: Database, account_id: int) -> Sequence[int]:
    return [
        r[0]
        for r in db.execute(
            "SELECT message_id FROM message_accounts WHERE account_id = ?", [account_id]
        )
    ]


def _account_name_for(domain: str) -> str:
    """`mail.acme-corp.co.uk` -> `Acme-corp`: the label before the public suffix, capitalised."""
    labels = [label for label in domain.split(".") if label]
    if (
        len(labels) >= 3
        and len(labels[-1]) == 2
        and labels[-2] in ("co", "com", "org", "ac", "gov")
    ):
        labels = labels[:-2]
    elif len(labels) >= 2:
        labels = labels[:-1]
    base = labels[-1] if labels else domain
    return base[:1].upper() + base[1:]


def account_from_sender(db: Database, message_id: int, *,
                        name: str | None = None) -> tuple[Account, Contact]:
    """Create an account for the message's correspondent (sender, or first recipient of mail
    sent by the user): named after the domain (or the person, for freemail), owning that
    domain unless it is freemail, with the address as its first contact. Re-links mail.

    Returns (Account, Contact).
    """
    from rapport.store.book import accounts, contacts

    mine = my_addresses(db)
    rows = db.execute(
        "SELECT role, address, name FROM message_addresses WHERE message_id = ? "
        "AND role IN ('from', 'to', 'cc') "
        "ORDER BY CASE role WHEN 'from' THEN 0 WHEN 'to' THEN 1 ELSE 2 END",
        [message_id],
    ).fetchall()
    if (
        not rows
        and db.execute("SELECT 1 FROM messages WHERE id = ?", [message_id]).fetchone() is None
    ):
        raise NotFoundError(f"no message with id {message_id}")
    candidates = [(address, person) for _, address, person in rows if address not in mine]
    if not candidates:
        raise InputError("the message has no correspondent address other than yours")
    address, person = candidates[0]
    existing = contacts.find_contact_by_email(db, address)
    if existing is not None and existing.account_id is not None:
        owner = accounts.get_account(db, existing.account_id)
        raise InputError(f"{address} is already a contact of account {owner.name!r}")
    domain = domain_of(address)
    free = domain in freemail_domains()
    if not free:
        row = db.execute(
            "SELECT a.name FROM account_domains d JOIN accounts a ON a.id = d.account_id "
            "WHERE d.domain = ?",
            [domain],
        ).fetchone()
        if row is not None:
            raise InputError(
                f"domain {domain} already belongs to account {row[0]!r}; use rapport assign"
            )
    account_name = (name or "").strip() or (
        person if free and person else _account_name_for(domain)
    )
    with db.atomic():
        with accounts.relinking_once(db):
            account = accounts.create_account(db, account_name, domains=() if free else (domain,))
            if existing is not None:
                contact = contacts.update_contact(db, existing.id, account_id=account.id)
            else:
                contact = contacts.create_contact(
                    db, account_id=account.id, name=person or address, emails=[address]
                )
    return accounts.get_account(db, account.id), contact
