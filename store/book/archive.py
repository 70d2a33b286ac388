"""Provides archiving: an account, contact or deal leaves the lists and segments, never the database.

Its timeline, mail links and report history stay; an archived contact is never mailed (segments
skip it). `REF` lookups for the CLI live here too: an id, an account's name, a contact's email.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from rapport.store.book.accounts import find_account
from rapport.store.book.contacts import find_contact_by_email
from rapport.store.errors import InputError, NotFoundError
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database

Kind = Literal["account", "contact", "deal"]
TABLES: dict[str, str] = {"account": "accounts", "contact": "contacts", "deal": "deals"}


def resolve_ref(db: Database, kind: str, ref: str) -> int:
    """The id `ref` names: a number is an id; else an account's name or domain, a contact's email."""
    text = ref.strip()
    if kind not in TABLES:
        raise InputError(f"cannot archive a {kind!r} (account, contact or deal)")
    if text.isdigit():
        if not db.execute(f"SELECT 1 FROM {TABLES[kind]} WHERE id = ?", [int(text)]).fetchone():
            raise NotFoundError(f"no {kind} with id {text}")
        return int(text)
    if kind == "account":
        account = find_account(db, text)
        if account is None:
            raise NotFoundError(f"no account named {text!r}")
        return account.id
    if kind == "contact":
        contact = find_contact_by_email(db, text)
        if contact is None:
            raise NotFoundError(f"no contact with email {text!r}")
        return contact.id
    raise InputError(f"a deal is named by its id (see `rapport export deals`), not {text!r}")


def is_archived(db: Database, kind: str, item_id: int) -> bool:
    row = db.execute(f"SELECT archived_utc FROM {TABLES[kind]} WHERE id = ?", [item_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no {kind} with id {item_id}")
    return row[0] is not None


def archive(db: Database, kind: str, item_id: int) -> bool:
    """Archive it (now); False when it was archived already (nothing changes)."""
    if is_archived(db, kind, item_id):
        return False
    db.execute(f"UPDATE {TABLES[kind]} SET archived_utc = ?, updated_utc = ? WHERE id = ?",
               [utc_now_text(), utc_now_text(), item_id])
    return True


def archived_contact_addresses(db: Database) -> frozenset[str]:
    """Addresses of archived contacts: mail is never sent to them."""
    return frozenset(row[0] for row in db.execute(
        "SELECT e.email FROM contact_emails e JOIN contacts c ON c.id = e.contact_id"
        " WHERE c.archived_utc IS NOT NULL"))
