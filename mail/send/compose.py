"""Provides turning a rendered Draft into a standards-correct email.message.EmailMessage.

Replies: To honours Reply-To, Cc keeps the other recipients minus the user's own addresses, one
`Re:` prefix, In-Reply-To and References, signature then the quoted original below the text.
Safety: every header value we write is checked for line breaks of any kind (CR, LF, U+2028 and
everything else str.splitlines() splits on: header injection), addresses are built from
(name, address) pairs and never by joining strings, every address is parsed and validated,
non-ASCII names and subjects are RFC 2047 encoded by the `email` policy, and the body is
text/plain UTF-8 with a transfer encoding the policy picks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email import message_from_bytes, policy, quoprimime
from email.errors import HeaderParseError, MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from functools import lru_cache
from typing import Any

from rapport.mail.attach.outgoing import OutgoingFile, with_attachments
from rapport.mail.draft.context import LINE_BREAKS, message_view, one_line
from rapport.mail.draft.render import Draft
from rapport.mail.message.addresses import address_pairs
from rapport.store.config import Me
from rapport.store.errors import InputError

# Reply prefixes mail clients add in various languages ("Re:", "RE[2]:", "AW:", "SV:").
# Not "Ref:", which is a reference ("Ref: PO 1234"), not a reply prefix.
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw)(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$")
MAX_REFERENCES = 20


@dataclass(frozen=True)
class Thread:
    """Threading headers of a reply (Message-IDs without angle brackets)."""

    in_reply_to: str
    references: tuple[str, ...]


def check_header(name: str, value: str) -> str:
    """Refuse any line break (CR, LF, U+2028, VT, FF, ...) or NUL in a header value: injection."""
    if LINE_BREAKS.search(value) or "\x00" in value:
        raise InputError(f"{name}: line breaks are not allowed in a header (header injection refused)")
    return value


def _check_address(name: str, addr: str, field: str) -> Address:
    addr = addr.strip()
    local, _, domain = addr.rpartition("@")
    if not local or not domain or " " in addr:
        raise InputError(f"{field}: {addr or name!r} is not an email address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InputError(f"{field}: {addr!r} has an invalid domain") from exc
    if not _DOMAIN.match(ascii_domain) or ("." not in ascii_domain and ascii_domain != "localhost"):
        raise InputError(f"{field}: {addr!r} has an invalid domain")
    if not local.isascii():
        raise InputError(f"{field}: {addr!r}: non-ASCII local parts are not supported")
    try:
        return Address(display_name=name.strip(), addr_spec=f"{local}@{ascii_domain}")
    except (ValueError, IndexError) as exc:
        raise InputError(f"{field}: {addr!r} is not a valid email address") from exc


def parse_addresses(text: str, field: str) -> list[Address]:
    """'Jane <j@x.com>, b@y.org' -> validated Address list (empty text -> [])."""
    check_header(field, text)
    if not text.strip():
        return []
    pairs = getaddresses([text])
    if not pairs or any(not addr and not name for name, addr in pairs):
        raise InputError(f"{field}: cannot read {text!r} as email addresses")
    return [_check_address(name, addr, field) for name, addr in pairs]


def reply_subject(subject: str) -> str:
    """Exactly one 'Re: ' in front, whatever prefixes the thread piled up; the replied-to
    subject is someone else's text, so its line breaks are collapsed, not refused."""
    return "Re: " + _REPLY_PREFIX.sub("", one_line(subject)).strip()


def _unique(addresses: Iterable[Address], exclude: set[str]) -> list[Address]:
    seen = set(exclude)
    kept = []
    for address in addresses:
        key = address.addr_spec.lower()
        if key not in seen:
            seen.add(key)
            kept.append(address)
    return kept


def _valid_only(pairs: Iterable[tuple[str, str]]) -> list[Address]:
    """Addresses from stored (hostile) headers: the invalid ones are dropped, not fatal."""
    found = []
    for name, addr in pairs:
        try:
            found.append(_check_address(one_line(name), addr, "address"))
        except InputError:
            continue
    return found


def _lenient(text: str) -> list[Address]:
    # Stored to/cc text is read back by the decoder's own reader: it keeps names such as
    # `ACME [Sales]` that the strict grammar would turn into a domain literal.
    return _valid_only(address_pairs([text or ""]))


def _format(addresses: Iterable[Address]) -> str:
    return ", ".join(str(a) for a in addresses)


def signature_block(signature: str) -> str:
    return f"-- \n{signature.strip()}\n" if signature.strip() else ""


def _reply_recipients(original: Any, mine: set[str]) -> tuple[list[Address], list[Address]]:
    """(To, Cc) of a reply: Reply-To (else From) minus me; Cc the other recipients minus me."""
    # The sender is a (name, address) pair: joining them into one string to parse again would
    # let a name like `Evil <a@evil.example>, Bob` add recipients.
    sender = _valid_only([(original.from_name or "", original.from_addr)]
                         if original.from_addr else [])
    reply_to = _lenient(getattr(original, "reply_to", "") or "")
    others = _lenient(getattr(original, "to_addrs", "")) + _lenient(getattr(original, "cc_addrs", ""))
    if sender and sender[0].addr_spec.lower() in mine:
        # Replying to our own sent mail means writing to its recipients again.
        return _unique(others, mine), []
    # A Reply-To naming only my own addresses (a list echo, a misconfigured client) falls
    # back to the sender rather than leaving To empty.
    to = _unique(reply_to, mine) or _unique(sender, mine)
    return to, _unique(others, mine | {a.addr_spec.lower() for a in to})


def _references(original: Any) -> tuple[str, ...]:
    """The thread's References plus the parent; when too long the root (first) is kept with the
    most recent ones, as RFC 5322 section 3.6.4 suggests."""
    stored = getattr(original, "refs", ()) or ()
    # The store keeps References as a tuple; plain text (space-separated) is accepted too.
    refs = [r.strip("<>") for r in (stored.split() if isinstance(stored, str) else stored) if r]
    if original.message_id and original.message_id not in refs:
        refs.append(original.message_id)
    if len(refs) > MAX_REFERENCES:
        refs = [refs[0], *refs[-(MAX_REFERENCES - 1):]]
    return tuple(refs)


def reply_draft(draft: Draft, original: Any, me: Me) -> tuple[Draft, Thread]:
    """Fill recipients, subject and the full body of a reply to the stored message `original`."""
    mine = set(me.all_addresses)
    to, cc = _reply_recipients(original, mine)
    extra_to = parse_addresses(draft.to, "To") if draft.to else []
    extra_cc = parse_addresses(draft.cc, "Cc") if draft.cc else []
    to = _unique([*to, *extra_to], set())
    if not to:
        raise InputError("nobody to reply to: the message's From and Reply-To are missing, "
                         "invalid or your own addresses")
    cc = _unique([*cc, *extra_cc], {a.addr_spec.lower() for a in to})
    subject = reply_subject(draft.subject or original.subject or "")
    body = new_draft(draft, me).body + "\n" + message_view(original).quoted
    thread = Thread(in_reply_to=original.message_id or "", references=_references(original))
    filled = replace(draft, to=_format(to), cc=_format(cc), subject=subject, body=body)
    return filled, thread


def new_draft(draft: Draft, me: Me) -> Draft:
    """A new mail or an announcement: the rendered text plus the signature."""
    body = draft.body.rstrip() + "\n"
    if me.signature.strip():
        body += "\n" + signature_block(me.signature)
    return replace(draft, body=body)


def _sender(me: Me) -> Address:
    return _sender_address(me.name, me.email)


@lru_cache(maxsize=8)
def _sender_address(name: str, email: str) -> Address:
    # Cached: an announcement composes 10,000 messages from the same [me], and the email
    # package's address parsing is a third of composing one.
    if not email.strip():
        raise InputError("set [me] email in config.toml before drafting mail")
    check_header("[me] name", name)
    return _check_address(name, email, "[me] email")


def new_message_id(me: Me) -> str:
    """A fresh Message-ID (without <>) in the user's domain."""
    domain = me.email.rpartition("@")[2] or "rapport.invalid"
    return make_msgid(domain=domain).strip("<>")


@dataclass(frozen=True)
class Composed:
    """A composed message as the bytes we deliver (SMTP DATA, IMAP APPEND, an .eml file), with
    what delivery needs. Building an EmailMessage costs five times the rendering (the email
    package parses every header it is given), so a run of 10,000 messages keeps to bytes."""

    raw: bytes
    message_id: str
    subject: str
    sender: str  # envelope sender: our address
    recipients: tuple[str, ...]  # envelope recipients: To then Cc

    def email(self) -> EmailMessage:
        """The message as an EmailMessage (headers parsed only when read)."""
        return message_from_bytes(self.raw, policy=policy.SMTP)


_POLICY = policy.SMTP
_MAX_LINE = 78


def _header(name: str, value: str) -> str:
    """`Name: value` CRLF. Short ASCII values are written as they are; anything else (non-ASCII,
    long, or text that looks like an RFC 2047 word) is encoded and folded by the email package."""
    line = f"{name}: {value}"
    if len(line) <= _MAX_LINE and value.isascii() and "=?" not in value:
        return line + "\r\n"
    return str(_POLICY.header_factory(name, value).fold(policy=_POLICY))


def _body(text: str) -> tuple[str, str]:
    """(Content-Transfer-Encoding, encoded body with CRLF) as EmailMessage.set_content makes it."""
    lines = text.replace("\r\n", "\n").encode("utf-8").splitlines()
    body = b"\n".join(lines) + b"\n"
    # Quoted-printable keeps non-ASCII bodies 7-bit clean for servers without 8BITMIME.
    if body.isascii() and all(len(line) < 990 for line in lines):
        return "7bit", body.decode("ascii").replace("\n", "\r\n")
    encoded = quoprimime.body_encode(body.decode("latin-1"), _MAX_LINE)
    return "quoted-printable", encoded.replace("\n", "\r\n")


def compose(
    draft: Draft,
    me: Me,
    *,
    thread: Thread | None = None,
    message_id: str | None = None,
    date: datetime | None = None,
    list_headers: Sequence[tuple[str, str]] = (),
    attachments: Sequence[OutgoingFile] = (),
) -> Composed:
    """The RFC 5322 bytes for `draft` (already filled by reply_draft/new_draft); with
    `attachments`, multipart/mixed (mail/attach/outgoing.py).

    `list_headers` (an announcement's List-Unsubscribe...) are ASCII link lists, folded only
    after their commas: the email package might otherwise RFC 2047-encode a long URL.

    Every failure is an InputError with one line: our checks come first, and whatever the
    `email` package still refuses is caught rather than shown as a traceback.
    """
    try:
        composed = _compose(draft, me, thread=thread, message_id=message_id, date=date,
                            list_headers=list_headers)
        if attachments:
            composed = replace(composed, raw=with_attachments(composed.raw, attachments))
        return composed
    except (ValueError, TypeError, IndexError, HeaderParseError, MessageError) as exc:
        raise InputError(f"template {draft.template!r}: cannot compose the message: "
                         f"{one_line(str(exc))}") from exc


def build_email(
    draft: Draft,
    me: Me,
    *,
    thread: Thread | None = None,
    message_id: str | None = None,
    date: datetime | None = None,
    attachments: Sequence[OutgoingFile] = (),
) -> EmailMessage:
    """`compose` as an EmailMessage, for callers that read it back (replies, previews)."""
    return compose(draft, me, thread=thread, message_id=message_id, date=date,
                   attachments=attachments).email()


def _threading_headers(thread: Thread | None) -> list[str]:
    if thread is None:
        return []
    headers = []
    in_reply_to = check_header("In-Reply-To", thread.in_reply_to)
    if in_reply_to:
        headers.append(_header("In-Reply-To", f"<{in_reply_to}>"))
    refs = [check_header("References", r) for r in thread.references if r]
    if refs:
        headers.append(_header("References", " ".join(f"<{r}>" for r in refs)))
    return headers


def _list_header(name: str, value: str) -> str:
    if not value.isascii() or any(not c.isprintable() for c in value):
        raise InputError(f"{name}: {value!r} is not a plain ASCII header value")
    return f"{name}: " + ",\r\n ".join(value.split(", ")) + "\r\n"


def _compose(draft: Draft, me: Me, *, thread: Thread | None, message_id: str | None,
             date: datetime | None, list_headers: Sequence[tuple[str, str]] = ()) -> Composed:
    sender = _sender(me)
    to = parse_addresses(draft.to, "To")
    if not to:
        raise InputError(f"template {draft.template!r}: the draft has no To address")
    cc = parse_addresses(draft.cc, "Cc")
    subject = check_header("Subject", draft.subject)
    mid = check_header("Message-ID", message_id or new_message_id(me)).strip("<>")
    cte, body = _body(draft.body)
    # The order and the MIME headers are those EmailMessage.set_content writes.
    headers = [_header("From", str(sender)), _header("To", _format(to))]
    if cc:
        headers.append(_header("Cc", _format(cc)))
    headers += [
        _header("Subject", subject),
        _header("Date", format_datetime(date or datetime.now().astimezone())),
        _header("Message-ID", f"<{mid}>"),
        *_threading_headers(thread),
        *(_list_header(name, value) for name, value in list_headers),
        "User-Agent: Rapport\r\n",
        'Content-Type: text/plain; charset="utf-8"\r\n',
        f"Content-Transfer-Encoding: {cte}\r\n",
        "MIME-Version: 1.0\r\n",
    ]
    raw = ("".join(headers) + "\r\n" + body).encode("ascii")
    recipients = tuple(a.addr_spec for a in (*to, *cc))
    return Composed(raw, mid, subject, sender.addr_spec, recipients)


def message_id_of(msg: EmailMessage) -> str:
    return str(msg["Message-ID"]).strip().strip("<>")


def draft_to_text(draft: Draft) -> str:
    """The editable form given to $EDITOR: three header lines, a blank line, the body."""
    return f"Subject: {draft.subject}\nTo: {draft.to}\nCc: {draft.cc}\n\n{draft.body}"


def draft_from_text(text: str, base: Draft) -> Draft:
    """Read the edited form back; header lines other than Subject/To/Cc are refused."""
    head, sep, body = text.replace("\r\n", "\n").partition("\n\n")
    if not sep:
        raise InputError("the edited draft needs a blank line between its headers and its text")
    values = {"subject": base.subject, "to": base.to, "cc": base.cc}
    for line in head.split("\n"):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon or key.strip().lower() not in values:
            raise InputError(f"edited draft: unexpected header line {line[:60]!r} (Subject, To, Cc)")
        values[key.strip().lower()] = value.strip()
    return replace(base, subject=values["subject"], to=values["to"], cc=values["cc"], body=body)
