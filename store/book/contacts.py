"""Provides contacts: the people at accounts, keyed by their email addresses."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapport.store.book.accounts import relink_mail
from rapport.store.errors import InputError, NotFoundError
from rapport.store.text import clean_line
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database

# Deliberately loose: one @, no spaces, a dot in the domain. Real validation is the mail server's.
_EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]+$")

_UNSET: Any = object()


@dataclass(frozen=True)
class Contact:
    """A person. `emails` are lower-case, the primary address first."""

    id: int
    account_id: int | None
    name: str
    emails: tuple[str, ...]
    role: str
    phone: str
    opted_out: bool
    # When the primary address bounced (UTC), or None; why (status and the server's words).
    bounced_utc: str | None = None
    bounce_reason: str = ""
    archived_utc: str | None = None  # archived: hidden, never mailed, history kept

    @property
    def email(self) -> str:
        """The primary address, or '' when the contact has none."""
        return self.emails[0] if self.emails else ""


def normalize_email(text: str) -> str:
    """`  Ann@Example.COM` -> `ann@example.com`; InputError when it is not an address."""
    email = clean_line(text).strip("<>").strip().lower()
    if email.startswith("mailto:"):
        email = email[len("mailto:") :]
    if not _EMAIL_RE.match(email):
        raise InputError(f"{clean_line(text)!r} is not an email address")
    return email


def _clean_emails(emails: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for raw in emails:
        if raw and raw.strip():
            seen.setdefault(normalize_email(raw), None)
    return tuple(seen)


def _fetch(db: Database, where: str, params: list[object]) -> list[Contact]:
    rows = db.execute(
        "SELECT id, account_id, name, role, phone, opted_out, archived_utc FROM contacts"
        f" WHERE {where} ORDER BY name COLLATE NOCASE, id",
        params,
    ).fetchall()
    if not rows:
        return []
    ids = [row[0] for row in rows]
    emails: dict[int, list[str]] = {}
    bounced: dict[int, tuple[str | None, str]] = {}
    # Chunked: SQLite limits bound parameters, and a whole book can be listed at once.
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        for contact_id, email, bounced_utc, reason in db.execute(
            "SELECT contact_id, email, bounced_utc, bounce_reason FROM contact_emails"
            f" WHERE contact_id IN ({','.join('?' * len(chunk))}) ORDER BY position, email",
            chunk,
        ):
            emails.setdefault(contact_id, []).append(email)
            bounced.setdefault(contact_id, (bounced_utc, reason))  # the primary's
    return [
        Contact(
            id=row[0],
            account_id=row[1],
            name=row[2],
            emails=tuple(emails.get(row[0], ())),
            role=row[3],
            phone=row[4],
            opted_out=bool(row[5]),
            bounced_utc=bounced.get(row[0], (None, ""))[0],
            bounce_reason=bounced.get(row[0], (None, ""))[1],
            archived_utc=row[6],
        )
        for row in rows
    ]


def get_contact(db: Database, contact_id: int) -> Contact:
    found = _fetch(db, "id = ?", [contact_id])
    if not found:
        raise NotFoundError(f"no contact with id {contact_id}")
    return found[0]


def find_contact_by_email(db: Database, email: str) -> Contact | None:
    row = db.execute(
        "SELECT contact_id FROM contact_emails WHERE email = ?", [email.strip().lower()]
    ).fetchone()
    return get_contact(db, row[0]) if row else None


def list_contacts(db: Database, account_id: int | None = None, *, archived: bool = False) -> list[Contact]:
    """All contacts, or one account's, by name; archived ones only if `archived`."""
    shown = "1" if archived else "archived_utc IS NULL"
    if account_id is None:
        return _fetch(db, shown, [])
    return _fetch(db, f"account_id = ? AND {shown}", [account_id])


def _check_account(db: Database, account_id: int | None) -> None:
    if account_id is not None and not db.execute(
        "SELECT 1 FROM accounts WHERE id = ?", [account_id]
    ).fetchone():
        raise NotFoundError(f"no account with id {account_id}")


def _set_emails(db: Database, contact_id: int, emails: tuple[str, ...]) -> None:
    for email in emails:
        row = db.execute(
            "SELECT contact_id FROM contact_emails WHERE email = ?", [email]
        ).fetchone()
        if row and row[0] != contact_id:
            raise InputError(f"{email} already belongs to another contact (id {row[0]})")
    # Kept addresses keep their row (and so their bounce mark); only the order changes.
    db.execute(
        "DELETE FROM contact_emails WHERE contact_id = ?"
        f" AND email NOT IN ({','.join('?' * len(emails))})", [contact_id, *emails])
    for position, email in enumerate(emails):
        db.execute(
            "INSERT INTO contact_emails (email, contact_id, position) VALUES (?, ?, ?)"
            " ON CONFLICT (email) DO UPDATE SET position = excluded.position",
            [email, contact_id, position],
        )


def create_contact(
    db: Database,
    *,
    account_id: int | None,
    name: str,
    emails: Iterable[str] = (),
    role: str = "",
    phone: str = "",
    opted_out: bool = False,
) -> Contact:
    """Add a contact; InputError when an address already belongs to another contact."""
    clean_emails = _clean_emails(emails)
    clean_name = clean_line(name)
    if not clean_name and not clean_emails:
        raise InputError("a contact needs a name or an email address")
    _check_account(db, account_id)
    now = utc_now_text()
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO contacts (account_id, name, role, phone, opted_out, created_utc,"
            " updated_utc) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [account_id, clean_name, clean_line(role), clean_line(phone), int(opted_out), now, now],
        )
        contact_id = int(cursor.lastrowid or 0)
        _set_emails(db, contact_id, clean_emails)
    if clean_emails and account_id is not None:
        relink_mail(db)
    return get_contact(db, contact_id)


def update_contact(
    db: Database,
    contact_id: int,
    *,
    account_id: int | None = _UNSET,
    name: str = _UNSET,
    emails: Iterable[str] = _UNSET,
    role: str = _UNSET,
    phone: str = _UNSET,
    opted_out: bool = _UNSET,
) -> Contact:
    """Change the given fields; a new account or new addresses re-link existing mail."""
    before = get_contact(db, contact_id)
    changes: dict[str, object] = {}
    if account_id is not _UNSET:
        _check_account(db, account_id)
        changes["account_id"] = account_id
    if name is not _UNSET:
        changes["name"] = clean_line(name)
    if role is not _UNSET:
        changes["role"] = clean_line(role)
    if phone is not _UNSET:
        changes["phone"] = clean_line(phone)
    if opted_out is not _UNSET:
        changes["opted_out"] = int(bool(opted_out))
    new_emails = before.emails if emails is _UNSET else _clean_emails(emails)
    with db.atomic():
        if changes:
            changes["updated_utc"] = utc_now_text()
            sets = ", ".join(f"{column} = ?" for column in changes)
            db.execute(f"UPDATE contacts SET {sets} WHERE id = ?", [*changes.values(), contact_id])
        if new_emails != before.emails:
            _set_emails(db, contact_id, new_emails)
            db.execute(
                "UPDATE contacts SET updated_utc = ? WHERE id = ?", [utc_now_text(), contact_id]
            )
    after = get_contact(db, contact_id)
    if after.account_id != before.account_id or set(after.emails) != set(before.emails):
        relink_mail(db)
    return after
