"""Provides the header half of the decoder: the fields Rapport keeps, from any header block.

The IMAP path hands over the `BODY[HEADER.FIELDS (...)]` literal, the Maildir path the whole
file; both come here. The stdlib `compat32` parser is used on purpose: it is the most forgiving
with broken structure; the decoding it leaves to the caller is done here, defensively.
"""

from __future__ import annotations

import email.utils
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message as EmailMessage
from email.parser import BytesParser

from dateutil import parser as dateparser

from rapport.mail.message.addresses import AddressList, parse_addresses
from rapport.mail.message.charset import unescape_surrogates
from rapport.mail.message.words import decode_header_value
from rapport.store.mailstore.messages import EPOCH_UTC
from rapport.store.text import clean_line
from rapport.store.timeutil import to_utc_text

# The headers the decoder reads: the IMAP path fetches exactly these.
KEPT_HEADERS = ("MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "DATE", "FROM", "TO", "CC",
                "REPLY-TO", "SUBJECT")
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")


@dataclass(frozen=True)
class ParsedHeaders:
    """The headers Rapport keeps, decoded and cleaned; addresses lower-cased.

    `message_id` is "" when the message has none: the decoder makes one up from the whole
    decoded message (see mail/message/decode.py).
    """

    message_id: str
    in_reply_to: str
    refs: tuple[str, ...]
    date_utc: str
    from_name: str
    from_addr: str
    to: AddressList
    cc: AddressList
    reply_to: AddressList
    subject: str
    date_header: str = ""  # the raw Date header, for the made-up Message-ID


def _ids(value: str) -> list[str]:
    """Message-IDs in a header, without angle brackets (bare tokens accepted)."""
    found = _ANGLE_ID.findall(value)
    if found:
        return [clean_line(f) for f in found if clean_line(f)]
    return [t.strip("<>") for t in clean_line(value).split() if "@" in t and t.strip("<>")]


# RFC 822 zone names (still common in old mail); dateutil knows only UTC/GMT by itself.
_ZONES = {
    name: offset * 3600
    for name, offset in (
        ("UT", 0),
        ("EST", -5),
        ("EDT", -4),
        ("CST", -6),
        ("CDT", -5),
        ("MST", -7),
        ("MDT", -6),
        ("PST", -8),
        ("PDT", -7),
    )
}


def _parse_moment(text: str) -> datetime | None:
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    try:
        with warnings.catch_warnings():
            # Unknown zone names ("COM") only warn; the moment is then taken as UTC below.
            warnings.simplefilter("ignore")
            return dateparser.parse(text, fuzzy=True, tzinfos=_ZONES)
    except (ValueError, OverflowError, TypeError, AttributeError, LookupError):
        return None


def parse_date(value: str | None, fallback_utc: str = EPOCH_UTC) -> str:
    """A Date header as UTC text; missing/invalid dates give `fallback_utc` (e.g. INTERNALDATE)."""
    text = clean_line(unescape_surrogates(value or ""))
    moment = _parse_moment(text) if text else None
    if moment is None:
        return fallback_utc
    try:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # no zone given: UTC is the least-wrong guess
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return fallback_utc
    if not 1970 <= moment.year <= 2200:
        return fallback_utc
    return to_utc_text(moment)


def _raw_headers(msg: EmailMessage) -> dict[str, list[str]]:
    # raw_items(): the values as parsed, before compat32 wraps 8-bit ones in Header objects.
    raw: dict[str, list[str]] = {}
    try:
        items = list(msg.raw_items())
    except Exception:  # compat32 accessors raise on some hostile structures
        items = []
    for name, value in items:
        if isinstance(value, str):
            raw.setdefault(name.strip().lower(), []).append(value)
    return raw


def headers_from(msg: EmailMessage, fallback_date_utc: str) -> ParsedHeaders:
    """The kept fields of a parsed header block."""
    raw = _raw_headers(msg)

    def get(name: str) -> str:
        values = raw.get(name)
        return values[0] if values else ""

    ids = _ids(get("message-id"))
    message_id = ids[0] if ids else ""
    reply_ids = _ids(get("in-reply-to"))
    refs = tuple(r for r in _ids(get("references")) if r != message_id)
    in_reply_to = reply_ids[0] if reply_ids else (refs[-1] if refs else "")
    senders = parse_addresses(raw.get("from", [])) or parse_addresses(raw.get("sender", []))
    from_name, from_addr = senders[0] if senders else ("", "")
    if not from_addr:
        # "From: Undisclosed" and friends: keep the display text so the list shows something.
        from_name = decode_header_value(get("from"))
    return ParsedHeaders(
        message_id=message_id,
        in_reply_to=in_reply_to,
        refs=refs,
        date_utc=parse_date(get("date"), fallback_date_utc),
        from_name=from_name,
        from_addr=from_addr,
        to=parse_addresses(raw.get("to", [])),
        cc=parse_addresses(raw.get("cc", [])),
        reply_to=parse_addresses(raw.get("reply-to", [])),
        subject=decode_header_value(get("subject"))[:1000],
        date_header=get("date"),
    )


_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_SPACE_BEFORE_COLON = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.M)


def split_head(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(header block, separator, body) at the first blank line; no blank line: all header."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep)
        if index >= 0:
            return raw[:index], sep, raw[index + len(sep) :]
    return raw, b"", b""


def repair(raw: bytes) -> bytes:
    """Undo the header-block damage seen in the wild before the parser gives up on it.

    A whitespace line before the headers, junk lines ahead of the first field, and
    `Subject :` (space before the colon) each make the stdlib treat the whole message as body.
    """
    raw = raw.lstrip(b" \t\r\n") if raw[:1] in (b" ", b"\t", b"\r", b"\n") else raw
    head, sep, body = split_head(raw)
    lines = head.splitlines(keepends=True)
    for skip, line in enumerate(lines[:20]):
        if _HEADER_LINE.match(line):
            lines = lines[skip:]
            break
    else:
        return raw
    head = _SPACE_BEFORE_COLON.sub(rb"\1:", b"".join(lines))
    return head + sep + body


def parse_header_block(raw: bytes, *, fallback_date_utc: str = EPOCH_UTC) -> ParsedHeaders:
    """Decode a raw header block (or a whole message); never raises on junk."""
    raw = repair(raw)
    parser = BytesParser(policy=policy.compat32)
    try:
        msg = parser.parsebytes(raw, headersonly=True)
    except Exception:  # the parser is lenient, but a hostile block must not stop a sync
        msg = parser.parsebytes(b"", headersonly=True)
    return headers_from(msg, fallback_date_utc)
