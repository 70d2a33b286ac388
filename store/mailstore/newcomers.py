"""Provides `account_from_sender`: a new account, and its first contact, from a message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rapport.store.errors import InputError, NotFoundError
from rapport.store.mailstore.matching import domain_of, freemail_domains, my_addresses

if TYPE_CHECKING:  # book/accounts.py imports matching, which these modules sit beside
    from sqlite_utils import Database

    from rapport.store.book.accounts import Account
    from rapport.store.book.contacts import Contact


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
