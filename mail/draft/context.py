"""Provides the variables a draft template sees: me, account, contact, deal, message, promotion, today.

Views are small frozen dataclasses so templates read plain attributes (`contact.email`) and the
sandbox has nothing else to reach. Variables that do not apply (no deal, no message) are left out
of the context on purpose: StrictUndefined then names them in the error instead of printing "".
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import formataddr
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from rapport.mail.draft.filters import first_name
from rapport.store.book.deals import Deal, list_deals
from rapport.store.book.stages import Pipeline
from rapport.store.config import Me
from rapport.store.errors import InputError

# Everything str.splitlines() splits on: none of it may reach a header we write.
LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with every line break (CR, LF, U+2028, ...) and NUL collapsed into single spaces."""
    return " ".join(LINE_BREAKS.sub(" ", (text or "").replace("\x00", " ")).split())


def display_address(name: str, email: str) -> str:
    """'Doe, Jane' + j@x -> '"Doe, Jane" <j@x>': quoted the RFC 5322 way, never by joining
    strings, so no name (`Boss <ceo@evil.example>, Ann`) can add a recipient."""
    if not email:
        return ""
    name = one_line(name)
    try:
        return str(Address(display_name=name, addr_spec=email))
    except (ValueError, IndexError, HeaderParseError):
        return formataddr((name, email))  # an odd address: compose.py refuses it with a reason


@dataclass(frozen=True)
class MeView:
    name: str
    email: str
    first_name: str
    signature: str


@dataclass(frozen=True)
class ContactView:
    id: int
    name: str
    email: str
    emails: tuple[str, ...]
    role: str
    phone: str
    first_name: str

    @property
    def address(self) -> str:
        """`"Doe, Jane" <jane@acme.example>`, ready for `to = "{{ contact.address }}"`."""
        return display_address(self.name, self.email)


@dataclass(frozen=True)
class MessageView:
    """The message replied to. `date` is an aware UTC datetime; `quoted` is ready to paste."""

    message_id: str
    sender: str
    sender_name: str
    sender_email: str
    date: datetime
    subject: str
    text: str
    quoted: str


@dataclass(frozen=True)
class Promotion:
    name: str
    products: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None
    link: str = ""
    # Files every message of the announcement carries (absolute paths; `attachments` in the
    # promotion file, relative to it).
    attachments: tuple[str, ...] = ()

    @property
    def dates(self) -> str:
        """'1 December 2026 – 31 January 2027', or whichever end is known."""
        parts = [d.strftime("%-d %B %Y") for d in (self.start, self.end) if d]
        return " – ".join(parts)


def me_view(me: Me) -> MeView:
    return MeView(me.name, me.email, first_name(me.name), me.signature)


def contact_view(contact: Any) -> ContactView:
    emails = tuple(contact.emails)
    return ContactView(
        id=contact.id,
        name=contact.name,
        email=emails[0] if emails else "",
        emails=emails,
        role=contact.role,
        phone=contact.phone,
        first_name=first_name(contact.name or (emails[0] if emails else "")),
    )


def _message_date(date_utc: str) -> datetime:
    try:
        return datetime.strptime(date_utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return datetime(1970, 1, 1, tzinfo=UTC)


def quote_text(text: str, sender: str, moment: datetime) -> str:
    """'On Mon, 2 Nov 2026 at 10:00, Alice <a@x> wrote:' then each line prefixed with '> '."""
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    quoted = "\n".join(f"> {line}" if line else ">" for line in lines)
    when = moment.strftime("%a, %-d %b %Y at %H:%M UTC")
    return f"On {when}, {sender} wrote:\n{quoted}\n"


def message_view(message: Any) -> MessageView:
    """From a store Message (columns from_name, from_addr, date_utc, subject, body_text...)."""
    # Stored mail is someone else's text: a line break in its subject or name (U+2028 in an
    # RFC 2047 word) is collapsed, so `subject = "Re: {{ message.subject }}"` stays one line.
    name = one_line(message.from_name or "")
    addr = message.from_addr or ""
    sender = f"{name} <{addr}>" if name and addr else (addr or name)
    moment = _message_date(message.date_utc)
    text = message.body_text or ""
    return MessageView(
        message_id=message.message_id,
        sender=sender,
        sender_name=name,
        sender_email=addr,
        date=moment,
        subject=one_line(message.subject or ""),
        text=text,
        quoted=quote_text(text, sender, moment),
    )


def build_context(
    me: Me,
    *,
    today: date,
    account: Any = None,
    contact: Any = None,
    deal: Any = None,
    message: Any = None,
    promotion: Promotion | None = None,
    unsubscribe: str = "",
) -> dict[str, Any]:
    """The template variables; absent ones stay undefined so templates fail clearly, except
    `unsubscribe` (the footer line of announcements), empty in one-to-one mail."""
    context: dict[str, Any] = {"me": me_view(me), "today": today, "unsubscribe": unsubscribe}
    if account is not None:
        context["account"] = account
    if contact is not None:
        context["contact"] = contact if isinstance(contact, ContactView) else contact_view(contact)
    if deal is not None:
        context["deal"] = deal
    if message is not None:
        context["message"] = message if isinstance(message, MessageView) else message_view(message)
    if promotion is not None:
        context["promotion"] = promotion
    return context


def account_deal(db: Database, pipeline: Pipeline, account_id: int | None) -> Deal | None:
    """The deal a draft for this account is about: its most recently active open deal, else
    its most recently active deal of any stage, else None."""
    if account_id is None:
        return None
    found = list_deals(db, account_id=account_id)
    if not found:
        return None

    def is_open(deal: Deal) -> bool:
        stage = pipeline.get(deal.stage)
        return stage is None or stage.kind == "open"

    return max(found, key=lambda d: (is_open(d), d.last_activity_utc, d.id))


def _as_day(value: Any, key: str, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(f"{where}: {key} must be a date like 2026-12-01, not {value!r}") from exc


def _attachment_paths(data: dict[str, Any], where: str, base: Path | None) -> tuple[str, ...]:
    files = data.get("attachments", ())
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list | tuple) or not all(isinstance(f, str) and f for f in files):
        raise InputError(f"{where}: attachments must be a list of file paths")
    paths = [Path(f).expanduser() for f in files]
    return tuple(str(p if p.is_absolute() or base is None else base / p) for p in paths)


def make_promotion(data: dict[str, Any], where: str = "promotion",
                   base: Path | None = None) -> Promotion:
    """A Promotion from a TOML table or CLI options; one-line errors on bad values.
    `base`: the promotion file's folder, which relative attachment paths start from."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}: a promotion needs a name")
    products = data.get("products", ())
    if isinstance(products, str):
        products = [p.strip() for p in products.split(",") if p.strip()]
    if not isinstance(products, list | tuple) or not all(isinstance(p, str) for p in products):
        raise InputError(f"{where}: products must be a list of names")
    link = data.get("link", "")
    if not isinstance(link, str):
        raise InputError(f"{where}: link must be text")
    unknown = sorted(set(data) - {"name", "products", "start", "end", "link", "attachments"})
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (name, products, start, end, "
                         "link, attachments)")
    start = _as_day(data.get("start"), "start", where)
    end = _as_day(data.get("end"), "end", where)
    if start and end and end < start:
        raise InputError(f"{where}: end {end} is before start {start}")
    return Promotion(name.strip(), tuple(products), start, end, link.strip(),
                     _attachment_paths(data, where, base))


def read_promotion_table(path: Path) -> dict[str, Any]:
    """The raw table of a promotion TOML file (for options to be merged over it)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read promotion file {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from exc


def load_promotion(path: Path) -> Promotion:
    """Read a promotion TOML file (name, products, start, end, link, attachments)."""
    return make_promotion(read_promotion_table(path), str(path), path.parent)
