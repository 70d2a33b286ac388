"""Provides accounts: the client companies of the book, with their domains, tier, owner and tags."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapport.store.errors import InputError, NotFoundError
from rapport.store.mailstore.matching import relink_all
from rapport.store.text import clean_line, clean_text
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database

TIERS = ("key", "standard")
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


@dataclass(frozen=True)
class Account:
    """One client company. `tags` and `domains` are sorted as entered, without duplicates."""

    id: int
    name: str
    tier: str
    owner: str
    tags: tuple[str, ...]
    notes: str
    domains: tuple[str, ...]
    created_utc: str
    updated_utc: str
    archived_utc: str | None = None  # archived: hidden from lists and segments, history kept


# Databases (by id) inside `relinking_once`: value says whether a re-link was asked for.
_deferred: dict[int, bool] = {}


@contextmanager
def relinking_once(db: Database) -> Iterator[None]:
    """Defer re-linking inside the block and do it once at its end (imports, the demo).

    Re-linking scans all mail, so an import of 500 contacts must not do it 500 times.
    Nothing is re-linked when the block raises (its transaction is rolled back anyway).
    """
    key = id(db)
    if key in _deferred:
        yield
        return
    _deferred[key] = False
    try:
        yield
    finally:
        needed = _deferred.pop(key)
    if needed:
        relink_mail(db)


def relink_mail(db: Database) -> None:
    """Recompute which accounts each stored message belongs to (after a contact/domain change)."""
    if id(db) in _deferred:
        _deferred[id(db)] = True
        return
    relink_all(db)


def normalize_domain(text: str) -> str:
    """`@Example.COM ` -> `example.com`; InputError when it cannot be a domain."""
    domain = clean_line(text).lower().lstrip("@").rstrip(".")
    if "@" in domain:
        domain = domain.rsplit("@", 1)[1]
    if not _DOMAIN_RE.match(domain):
        raise InputError(f"{clean_line(text)!r} is not a domain name (like example.com)")
    return domain


def split_tags(tags: Iterable[str] | str) -> tuple[str, ...]:
    """Tags from a list or a comma/semicolon-separated string, trimmed, first spelling kept."""
    items = re.split(r"[,;]", tags) if isinstance(tags, str) else list(tags)
    seen: dict[str, str] = {}
    for tag in items:
        clean = clean_line(str(tag))
        if clean and clean.casefold() not in seen:
            seen[clean.casefold()] = clean
    return tuple(seen.values())


def check_tier(tier: str) -> str:
    value = (tier or "standard").strip().lower()
    if value not in TIERS:
        raise InputError(f"tier must be 'key' or 'standard', not {tier!r}")
    return value


def _check_name(name: str) -> str:
    clean = clean_line(str(name))
    if not clean:
        raise InputError("an account needs a name")
    if clean == "-":  # a contact import reads account '-' as "no account"
        raise InputError("an account cannot be named '-'")
    return clean


_SELECT = ("SELECT id, name, tier, owner, tags, notes, created_utc, updated_utc, archived_utc"
           " FROM accounts")


def _domains_by_account(db: Database, ids: list[int] | None) -> dict[int, list[str]]:
    if ids is None:
        rows = db.execute("SELECT account_id, domain FROM account_domains ORDER BY rowid")
    else:
        marks = ",".join("?" * len(ids))
        rows = db.execute(
            f"SELECT account_id, domain FROM account_domains WHERE account_id IN ({marks})"
            " ORDER BY rowid",
            ids,
        )
    found: dict[int, list[str]] = {}
    for account_id, domain in rows:
        found.setdefault(account_id, []).append(domain)
    return found


def _build(rows: list[tuple[Any, ...]], domains: dict[int, list[str]]) -> list[Account]:
    return [
        Account(
            id=row[0],
            name=row[1],
            tier=row[2],
            owner=row[3],
            tags=split_tags(row[4]),
            notes=row[5],
            domains=tuple(domains.get(row[0], ())),
            created_utc=row[6],
            updated_utc=row[7],
            archived_utc=row[8],
        )
        for row in rows
    ]


def _fetch(db: Database, where: str, params: Iterable[object]) -> list[Account]:
    rows = db.execute(f"{_SELECT} WHERE {where}", list(params)).fetchall()
    if not rows:
        return []
    return _build(rows, _domains_by_account(db, [r[0] for r in rows]))


def get_account(db: Database, account_id: int) -> Account:
    found = _fetch(db, "id = ?", [account_id])
    if not found:
        raise NotFoundError(f"no account with id {account_id}")
    return found[0]


def list_accounts(db: Database, *, archived: bool = False) -> list[Account]:
    """Every account in the book (archived ones too if `archived`), by name."""
    where = "" if archived else " WHERE archived_utc IS NULL"
    rows = db.execute(f"{_SELECT}{where} ORDER BY name COLLATE NOCASE").fetchall()
    return _build(rows, _domains_by_account(db, None))


def find_account(db: Database, name_or_domain: str) -> Account | None:
    """The account with this exact name (any case), or owning this domain (or email's domain)."""
    text = name_or_domain.strip()
    if not text:
        return None
    found = _fetch(db, "name = ? COLLATE NOCASE", [text])
    if found:
        return found[0]
    domain = text.lower().lstrip("@").rsplit("@", 1)[-1]
    row = db.execute(
        "SELECT account_id FROM account_domains WHERE domain = ?", [domain]
    ).fetchone()
    return get_account(db, row[0]) if row else None


def _fuzzy_score(needle: str, name: str, domains: list[str]) -> int | None:
    """Lower is better; None means no match. Exact, prefix, word prefix, substring, in order."""
    hay = name.casefold()
    if hay == needle:
        return 0
    if hay.startswith(needle):
        return 1
    if any(word.startswith(needle) for word in re.split(r"[\s\-_.&/]+", hay)):
        return 2
    if needle in hay:
        return 3
    if any(d.startswith(needle) or needle in d for d in domains):
        return 4
    # Letters in order ("acmchm" finds "ACME Chemicals"), as fuzzy finders do.
    position = 0
    for char in needle:
        position = hay.find(char, position) + 1
        if position == 0:
            return None
    return 5


def search_accounts(db: Database, text: str, limit: int = 20) -> list[Account]:
    """Accounts matching `text` loosely, best first: for "go to account" and the palette."""
    needle = " ".join(text.split()).casefold()
    if not needle:
        return list_accounts(db)[:limit]
    domains = _domains_by_account(db, None)
    scored: list[tuple[int, str, int]] = []
    for account_id, name in db.execute("SELECT id, name FROM accounts WHERE archived_utc IS NULL"):
        score = _fuzzy_score(needle, name, domains.get(account_id, []))
        if score is not None:
            scored.append((score, name.casefold(), account_id))
    scored.sort()
    ids = [account_id for _, _, account_id in scored[:limit]]
    if not ids:
        return []
    by_id = {a.id: a for a in _fetch(db, f"id IN ({','.join('?' * len(ids))})", ids)}
    return [by_id[i] for i in ids]


def _insert_domains(db: Database, account_id: int, domains: Iterable[str]) -> None:
    for raw in domains:
        domain = normalize_domain(raw)
        row = db.execute(
            "SELECT account_id FROM account_domains WHERE domain = ?", [domain]
        ).fetchone()
        if row and row[0] != account_id:
            other = db.execute("SELECT name FROM accounts WHERE id = ?", [row[0]]).fetchone()
            raise InputError(f"domain {domain} already belongs to account {other[0]!r}")
        if not row:
            db.execute(
                "INSERT INTO account_domains (domain, account_id) VALUES (?, ?)",
                [domain, account_id],
            )


def _unique_name_error(name: str) -> InputError:
    return InputError(f"an account named {name!r} already exists")


def create_account(
    db: Database,
    name: str,
    *,
    domains: Iterable[str] = (),
    tier: str = "standard",
    owner: str = "",
    tags: Iterable[str] | str = (),
    notes: str = "",
) -> Account:
    """Add an account; InputError for a duplicate name, a bad tier or a domain owned elsewhere."""
    clean = _check_name(name)
    now = utc_now_text()
    domain_list = list(domains)
    with db.atomic():
        try:
            cursor = db.execute(
                "INSERT INTO accounts (name, tier, owner, tags, notes, created_utc, updated_utc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [clean, check_tier(tier), clean_line(owner), ",".join(split_tags(tags)),
                 clean_text(notes), now, now],
            )
        except sqlite3.IntegrityError as exc:
            raise _unique_name_error(clean) from exc
        account_id = int(cursor.lastrowid or 0)
        _insert_domains(db, account_id, domain_list)
    if domain_list:
        relink_mail(db)
    return get_account(db, account_id)


def update_account(
    db: Database,
    account_id: int,
    *,
    name: str | None = None,
    tier: str | None = None,
    owner: str | None = None,
    tags: Iterable[str] | str | None = None,
    notes: str | None = None,
) -> Account:
    """Change the given fields (None leaves a field as it is)."""
    get_account(db, account_id)
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = _check_name(name)
    if tier is not None:
        changes["tier"] = check_tier(tier)
    if owner is not None:
        changes["owner"] = clean_line(owner)
    if tags is not None:
        changes["tags"] = ",".join(split_tags(tags))
    if notes is not None:
        changes["notes"] = clean_text(notes)
    if changes:
        changes["updated_utc"] = utc_now_text()
        sets = ", ".join(f"{column} = ?" for column in changes)
        try:
            db.execute(
                f"UPDATE accounts SET {sets} WHERE id = ?", [*changes.values(), account_id]
            )
        except sqlite3.IntegrityError as exc:
            raise _unique_name_error(str(changes.get("name"))) from exc
    return get_account(db, account_id)


def add_domain(db: Database, account_id: int, domain: str) -> None:
    """Give the account one more domain and re-link existing mail to it."""
    get_account(db, account_id)
    with db.atomic():
        _insert_domains(db, account_id, [domain])
        db.execute(
            "UPDATE accounts SET updated_utc = ? WHERE id = ?", [utc_now_text(), account_id]
        )
    relink_mail(db)


def remove_domain(db: Database, account_id: int, domain: str) -> None:
    """Take a domain off the account (NotFoundError if it is not one of its domains)."""
    clean = domain.strip().lower().lstrip("@")
    with db.atomic():
        cursor = db.execute(
            "DELETE FROM account_domains WHERE domain = ? AND account_id = ?",
            [clean, account_id],
        )
        if cursor.rowcount == 0:
            raise NotFoundError(f"account {account_id} has no domain {clean}")
        db.execute(
            "UPDATE accounts SET updated_utc = ? WHERE id = ?", [utc_now_text(), account_id]
        )
    relink_mail(db)
