"""Provides parsing of hostile RFC 822 mail into `NewMessage`s: headers, text bodies, snippets.

Everything here takes untrusted bytes and never raises on them: unknown or lying charsets fall
back (declared charset, then UTF-8, then Windows-1252 with replacement), broken MIME degrades to
"whatever text we could find", and every stored string is stripped of terminal escapes and other
control characters (bodies keep newlines and tabs) so nothing from a sender can drive the terminal.
The stdlib `compat32` parser is used on purpose: it is the most forgiving with broken structure;
the decoding it leaves to the caller is done here, defensively.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.utils
import hashlib
import quopri
import re
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message as EmailMessage
from email.parser import BytesParser
from typing import TypeVar

from dateutil import parser as dateparser

from rapport.store.mailstore.messages import EPOCH_UTC, NewMessage
from rapport.store.text import clean_line, clean_text
from rapport.store.timeutil import to_utc_text

AddressList = tuple[tuple[str, str], ...]
T = TypeVar("T")
D = TypeVar("D")

# Caps keep one monstrous message (200 KB header lines, 3,000 MIME parts) from eating the sync.
MAX_BODY_CHARS = 512_000
MAX_HTML_BYTES = 2_000_000
MAX_PARTS = 500
MAX_DEPTH = 12
SYNTHETIC_DOMAIN = "rapport.invalid"

_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_CHARSET_ALIASES = {
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "unknown": "utf-8",
    "x-user-defined": "windows-1252",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "ascii",
    "iso-8859-8-i": "iso-8859-8",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",  # real-world "GB2312" mail is usually GBK/GB18030
    "gbk": "gb18030",
}


@dataclass(frozen=True)
class ParsedHeaders:
    """The headers Rapport keeps, decoded and cleaned; addresses lower-cased."""

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


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset that may be unknown or a lie; never raises."""
    declared = _codec(charset)
    for candidate in (declared, "utf-8"):
        if candidate is None:
            continue
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
    return data.decode("windows-1252", errors="replace")


def _unescape_surrogates(text: str) -> str:
    # compat32 keeps raw 8-bit header bytes as surrogate escapes; recover them as UTF-8 or 1252.
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_bytes(text.encode("ascii", "surrogateescape"), None)


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _decode_word(charset: str, kind: str, text: str) -> str:
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    try:
        if kind in "bB":
            cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
            data = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        else:
            # Raw 8-bit inside a Q word (seen in the wild) was decoded already: re-encode it
            # in the word's own charset so it comes back unchanged.
            codec = "ascii" if text.isascii() else (_codec(charset) or "utf-8")
            data = quopri.decodestring(text.encode(codec, "replace"), header=True)
    except (binascii.Error, ValueError):
        return text
    return decode_bytes(data, charset)


def decode_header_value(value: object) -> str:
    """One header value (RFC 2047 encoded words in any charset, raw 8-bit) as clean text.

    A small decoder of our own rather than `email.header.decode_header`, which drops the space
    between plain text and an encoded word and raises on some malformed words.
    """
    if value is None:
        return ""
    raw = _unescape_surrogates(str(value))
    raw = re.sub(r"\r?\n[ \t]", " ", raw)  # unfold
    out: list[str] = []
    position = 0
    previous_was_word = False
    for match in _ENCODED_WORD.finditer(raw):
        gap = raw[position : match.start()]
        # Whitespace between two encoded words is folding, not content (RFC 2047 section 6.2).
        if not (previous_was_word and not gap.strip()):
            out.append(gap)
        out.append(_decode_word(*match.groups()))
        position = match.end()
        previous_was_word = True
    out.append(raw[position:])
    return clean_line("".join(out))


def _ids(value: str) -> list[str]:
    """Message-IDs in a header, without angle brackets (bare tokens accepted)."""
    found = _ANGLE_ID.findall(value)
    if found:
        return [clean_line(f) for f in found if clean_line(f)]
    return [t.strip("<>") for t in clean_line(value).split() if "@" in t and t.strip("<>")]


# `Name <local@domain>`: the form nearly every sender writes, read without RFC 5322's grammar.
_ANGLE_ADDRESS = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<addr>[^<>\s@]+@[^<>\s@]+)>\s*")
_PLAIN_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")


def _top_level_items(value: str) -> list[str]:
    """`value` split at the commas that are outside double quotes."""
    items, current, quoted = [], [], False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _lenient_pairs(raw: list[str]) -> list[tuple[str, str]]:
    """Address pairs of headers that the strict grammar misreads.

    An unquoted `[` starts a domain literal for email.utils, so `ACME [Sales] <s@acme.example>`
    loses its name and `[x] [y] <a@b.example>` even its address; senders write such names.
    """
    pairs = []
    for value in raw:
        for item in _top_level_items(value):
            if match := _ANGLE_ADDRESS.fullmatch(item):
                pairs.append((match["name"].strip().strip('"'), match["addr"]))
            elif _PLAIN_ADDRESS.fullmatch(item):
                pairs.append(("", item))
    return pairs


def _addresses(values: list[str]) -> AddressList:
    raw = [_unescape_surrogates(str(v)) for v in values if v is not None]
    try:
        pairs = email.utils.getaddresses(raw)
    except Exception:  # hostile header: keep nothing rather than crash
        pairs = []
    if any("[" in value for value in raw):
        pairs = _lenient_pairs(raw) or pairs
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, addr in pairs:
        addr = clean_line(addr).strip("<>").lower()
        if not addr or "@" not in addr or " " in addr or addr in seen:
            continue
        seen.add(addr)
        result.append((decode_header_value(name).strip('"'), addr))
    return tuple(result)


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


def parse_date(value: str | None, fallback_utc: str = EPOCH_UTC) -> str:
    """A Date header as UTC text; missing/invalid dates give `fallback_utc` (e.g. INTERNALDATE)."""
    text = clean_line(_unescape_surrogates(value or ""))
    if not text:
        return fallback_utc
    moment: datetime | None = None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        moment = None
    if moment is None:
        try:
            with warnings.catch_warnings():
                # Unknown zone names ("COM") only warn; the moment is then taken as UTC below.
                warnings.simplefilter("ignore")
                moment = dateparser.parse(text, fuzzy=True, tzinfos=_ZONES)
        except (ValueError, OverflowError, TypeError, AttributeError, LookupError):
            return fallback_utc
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


def synthetic_message_id(raw_headers: bytes) -> str:
    """A stable made-up Message-ID: the same header bytes always give the same id."""
    digest = hashlib.sha256(raw_headers).hexdigest()[:32]
    return f"{digest}@{SYNTHETIC_DOMAIN}"


def _header_bytes(raw: bytes) -> bytes:
    return _split_head(raw)[0]


def _headers_from(msg: EmailMessage, raw_headers: bytes, fallback_date_utc: str) -> ParsedHeaders:
    # raw_items(): the values as parsed, before compat32 wraps 8-bit ones in Header objects.
    raw: dict[str, list[str]] = {}
    for name, value in _safe(lambda: list(msg.raw_items()), []):
        if isinstance(value, str):
            raw.setdefault(name.strip().lower(), []).append(value)

    def get(name: str) -> str:
        values = raw.get(name.lower())
        return values[0] if values else ""

    def get_all(name: str) -> list[str]:
        return raw.get(name.lower(), [])

    ids = _ids(get("Message-ID"))
    message_id = ids[0] if ids else synthetic_message_id(raw_headers)
    reply_ids = _ids(get("In-Reply-To"))
    refs = tuple(r for r in _ids(get("References")) if r != message_id)
    in_reply_to = reply_ids[0] if reply_ids else (refs[-1] if refs else "")
    senders = _addresses(get_all("From")) or _addresses(get_all("Sender"))
    from_name, from_addr = senders[0] if senders else ("", "")
    if not from_addr:
        # "From: Undisclosed" and friends: keep the display text so the list shows something.
        from_name = decode_header_value(get("From"))
    return ParsedHeaders(
        message_id=message_id,
        in_reply_to=in_reply_to,
        refs=refs,
        date_utc=parse_date(get("Date"), fallback_date_utc),
        from_name=from_name,
        from_addr=from_addr,
        to=_addresses(get_all("To")),
        cc=_addresses(get_all("Cc")),
        reply_to=_addresses(get_all("Reply-To")),
        subject=decode_header_value(get("Subject"))[:1000],
    )


_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_SPACE_BEFORE_COLON = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.M)


def _repair(raw: bytes) -> bytes:
    """Undo the header-block damage seen in the wild before the parser gives up on it.

    A whitespace line before the headers, junk lines ahead of the first field, and
    `Subject :` (space before the colon) each make the stdlib treat the whole message as body.
    """
    raw = raw.lstrip(b" \t\r\n") if raw[:1] in (b" ", b"\t", b"\r", b"\n") else raw
    head, sep, body = _split_head(raw)
    lines = head.splitlines(keepends=True)
    for skip, line in enumerate(lines[:20]):
        if _HEADER_LINE.match(line):
            lines = lines[skip:]
            break
    else:
        return raw
    head = _SPACE_BEFORE_COLON.sub(rb"\1:", b"".join(lines))
    return head + sep + body


def _split_head(raw: bytes) -> tuple[bytes, bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep)
        if index >= 0:
            return raw[:index], sep, raw[index + len(sep) :]
    return raw, b"", b""


def _parse_bytes(raw: bytes, headersonly: bool = False) -> EmailMessage:
    return BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=headersonly)


def parse_header_block(raw: bytes, *, fallback_date_utc: str = EPOCH_UTC) -> ParsedHeaders:
    """Decode a raw header block (or a whole message); never raises on junk."""
    raw = _repair(raw)
    try:
        msg = _parse_bytes(raw, headersonly=True)
    except Exception:  # the parser is lenient, but a hostile block must not stop a sync
        msg = _parse_bytes(b"")
    return _headers_from(msg, _header_bytes(raw), fallback_date_utc)


def _transfer_decode(payload: bytes, encoding: str | None) -> bytes:
    name = (encoding or "").strip().lower()
    try:
        if name == "base64":
            cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", payload)
            cleaned = cleaned[: len(cleaned) - len(cleaned) % 4]
            return base64.b64decode(cleaned)
        if name == "quoted-printable":
            return quopri.decodestring(payload)
    except (binascii.Error, ValueError):
        return payload
    return payload  # 7bit, 8bit, binary and the misspelt variants: already raw


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (inscriptis keeps tables and lists legible)."""
    html = html[:MAX_HTML_BYTES]
    try:
        from inscriptis import get_text

        return get_text(html)
    except Exception:  # inscriptis on broken markup: strip tags rather than lose the body
        return re.sub(r"<[^>]*>", " ", html)


def decode_body_part(
    payload: bytes, *, content_type: str, charset: str | None, transfer_encoding: str | None
) -> str:
    """One text part's bytes as clean text (HTML converted); never raises."""
    data = _transfer_decode(payload, transfer_encoding)
    text = decode_bytes(data, charset)
    if content_type.strip().lower() == "text/html":
        text = html_to_text(text)
    return clean_text(text)[:MAX_BODY_CHARS]


# Where quoted reply text or a signature starts: the snippet stops there.
_QUOTE_STARTS = (
    re.compile(r"^-{2,}\s*original message\s*-{2,}", re.I),
    re.compile(r"^-{2,}\s*forwarded (message|by)", re.I),
    re.compile(r"^_{10,}\s*$"),
    re.compile(r"^from:\s.+", re.I),
    re.compile(r"^begin forwarded message:", re.I),
    re.compile(r"^sent from my ", re.I),
)
# "On <date>, <who> wrote:" in the languages seen in the reply corpora.
_ATTRIBUTION = re.compile(
    r"^(on|am|le|el|il|op|em)\b.{0,300}\b(wrote|schrieb|a écrit|escribió|ha scritto|"
    r"geschreven|escreveu|написал|написала)\s*.{0,40}:\s*$",
    re.I,
)
# An Outlook-style header block of the quoted message: two label lines in a row.
_QUOTED_HEADER = re.compile(
    r"^(from|sent|date|to|subject|cc|von|gesendet|an|betreff|de|envoyé|à|objet|"
    r"от|отправлено|кому|тема|дата)\s*:\s*\S",
    re.I,
)
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2} \w{3,9},? \d{4}")
_TIME = re.compile(r"\d{1,2}:\d{2}")


def _is_attribution(line: str) -> bool:
    line = line.strip()
    if not line.endswith(":"):
        return False
    if _ATTRIBUTION.match(line):
        return True
    # Localised attributions ("26.06.2014, 14:41, "Ann" <a@b>:"): a date, a time or an address.
    return bool(_DATE.search(line) and (_TIME.search(line) or "@" in line))


def _quote_starts(lines: list[str], index: int) -> bool:
    line = lines[index]
    if line in ("--", "-- "):
        return True
    stripped = line.strip()
    following = lines[index + 1].strip() if index + 1 < len(lines) else ""
    if any(p.match(stripped) for p in _QUOTE_STARTS):
        return True
    if _QUOTED_HEADER.match(stripped) and _QUOTED_HEADER.match(following):
        return True
    # Attribution lines, also when the client wrapped them over two lines (then the first
    # half already carries the date or address, and the second is not quoted text).
    return _is_attribution(stripped) or (
        not stripped.endswith(":")
        and not following.startswith(">")
        and bool(_DATE.search(stripped) or "@" in stripped or re.match(r"on\b", stripped, re.I))
        and _is_attribution(f"{stripped} {following}")
    )


def _quoted_below(lines: list[str], index: int) -> bool:
    """True when the attribution at `index` introduces a "> "-quoted block (bottom posting)."""
    for line in lines[index + 1 : index + 4]:
        if line.strip():
            return line.lstrip().startswith(">")
    return False


_SIGNATURE = re.compile(r"^(--\s?|sent from my .*)$", re.I)


def quote_runs(text: str) -> list[tuple[str, list[str]]]:
    """The body's lines in runs of kind 'text', 'quote' ('>' lines and their attribution) or
    'history' (from '-----Original Message-----', an Outlook From:/Sent: block, 'On … wrote:'
    or a forward marker to the end: the quoted message below a top-posted reply).

    The same detection the snippets use; signatures are text. A reader folds the non-text runs.
    """
    lines = text.split("\n")
    runs: list[tuple[str, list[str]]] = []

    def add(kind: str, line: str) -> None:
        if runs and runs[-1][0] == kind:
            runs[-1][1].append(line)
        else:
            runs.append((kind, [line]))

    index = 0
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith(">"):
            add("quote", line)
        elif _SIGNATURE.match(line.strip()) or not _quote_starts(lines, index):
            # Blank lines between an attribution and its quote, or inside one, stay with it.
            add("quote" if not line.strip() and runs and runs[-1][0] == "quote" and _quoted_below(lines, index)
                else "text", line)
        elif _quoted_below(lines, index):
            add("quote", line)  # "On … wrote:" over a '>' block (bottom posting)
        elif index + 1 < len(lines) and _quoted_below(lines, index + 1):
            add("quote", line)  # the same attribution wrapped over two lines
            add("quote", lines[index + 1])
            index += 1
        else:
            for rest in lines[index:]:
                add("history", rest)
            break
        index += 1
    return runs


_SUBJECT_LINE = re.compile(r"^\s*(subject|betreff|objet|тема)\s*:", re.I)


def make_snippet(text: str, length: int = 200) -> str:
    """The first words of a body, without quoted replies, forwards or the signature.

    A message that is only a forward ("---- Forwarded by ...", a header block, the text) gets
    the forwarded text instead of an empty snippet.
    """
    lines = clean_text(text).split("\n")
    for _ in range(4):  # forwards of forwards: look a few levels deep, no further
        snippet, stop = _snippet_lines(lines, length)
        if snippet or stop is None:
            return snippet
        # Nothing before the quote: skip the quoted message's header block (up to its Subject
        # line when there is one close by) and summarise what was forwarded.
        lines = lines[stop + 1 :]
        for index, line in enumerate(lines[:25]):
            if _SUBJECT_LINE.match(line):
                lines = lines[index + 1 :]
                break
        lines = [line for line in lines if not _QUOTED_HEADER.match(line.strip())]
    return ""


def _snippet_lines(lines: list[str], length: int) -> tuple[str, int | None]:
    """The snippet of `lines` and the index where quoted text stopped it (None: not stopped)."""
    kept: list[str] = []
    stop: int | None = None
    skip_next = False
    for index, line in enumerate(lines):
        if skip_next or line.lstrip().startswith(">"):
            skip_next = False
            continue
        if _quote_starts(lines, index):
            if _quoted_below(lines, index):
                continue  # bottom-posted reply: skip the quote, the answer comes after it
            if index + 1 < len(lines) and _quoted_below(lines, index + 1):
                skip_next = True  # the same, with the attribution wrapped over two lines
                continue
            stop = index
            break
        if line.strip():
            kept.append(line.strip())
        if sum(len(k) + 1 for k in kept) > length * 2:
            break
    snippet = re.sub(r"\s+", " ", " ".join(kept)).strip()
    if len(snippet) > length:
        snippet = snippet[: length - 1].rstrip() + "…"
    return snippet, stop


@dataclass
class _Walk:
    texts: list[str]
    attachments: list[tuple[str, str, int]]
    parts: int = 0


def _safe(call: Callable[[], T], default: D) -> T | D:
    """compat32 accessors raise on some hostile structures; a default keeps the walk going."""
    try:
        return call()
    except Exception:
        return default


def _raw_payload(part: EmailMessage) -> bytes:
    payload = _safe(lambda: part.get_payload(decode=False), "")
    if isinstance(payload, bytes):
        return payload
    if not isinstance(payload, str):
        return b""
    # compat32 holds 8-bit bytes as surrogate escapes; utf-8+surrogateescape restores them.
    return payload.encode("utf-8", "surrogateescape")


def _part_text(part: EmailMessage, content_type: str) -> str:
    raw = _raw_payload(part)
    encoding = _safe(lambda: part.get("Content-Transfer-Encoding"), None)
    if isinstance(encoding, str) and "uue" in encoding.lower():
        decoded = _safe(lambda: part.get_payload(decode=True), b"") or b""
        return decode_body_part(
            decoded,
            content_type=content_type,
            charset=_safe(part.get_content_charset, None),
            transfer_encoding=None,
        )
    return decode_body_part(
        raw,
        content_type=content_type,
        charset=_safe(part.get_content_charset, None),
        transfer_encoding=str(encoding) if encoding else None,
    )


def _attachment(part: EmailMessage, content_type: str) -> tuple[str, str, int]:
    name = _safe(part.get_filename, None) or _safe(lambda: part.get_param("name"), None) or ""
    if isinstance(name, tuple):  # undecodable RFC 2231 triple
        name = email.utils.collapse_rfc2231_value(name)
    decoded = _safe(lambda: part.get_payload(decode=True), None)
    size = len(decoded) if isinstance(decoded, bytes) else len(_raw_payload(part))
    return (decode_header_value(str(name))[:255], content_type, size)


def _walk(part: EmailMessage, walk: _Walk, depth: int) -> None:
    walk.parts += 1
    if walk.parts > MAX_PARTS or depth > MAX_DEPTH:
        return
    content_type = _safe(part.get_content_type, "text/plain").lower()
    disposition = (_safe(part.get_content_disposition, None) or "").lower()
    if part.is_multipart():
        children = _safe(part.get_payload, []) or []
        if content_type == "multipart/alternative":
            _walk_alternative(children, walk, depth)
        elif content_type == "message/rfc822" or content_type.startswith("message/"):
            _walk_enclosed(part, children, walk, depth, disposition)
        else:
            for child in children:
                if isinstance(child, EmailMessage):
                    _walk(child, walk, depth + 1)
        return
    filename = _safe(part.get_filename, None)
    is_text = content_type in ("text/plain", "text/html")
    if disposition == "attachment" or filename or not (is_text or content_type.startswith("text/")):
        walk.attachments.append(_attachment(part, content_type))
        return
    text = _part_text(part, content_type if is_text else "text/plain")
    if text.strip():
        walk.texts.append(text)


def _walk_alternative(children: list, walk: _Walk, depth: int) -> None:
    # Prefer the plain version; fall back to the first alternative that yields text (HTML).
    options: list[tuple[str, _Walk]] = []
    for child in children:
        if not isinstance(child, EmailMessage):
            continue
        sub = _Walk([], [], walk.parts)
        _walk(child, sub, depth + 1)
        walk.parts = sub.parts
        walk.attachments.extend(sub.attachments)
        options.append((_safe(child.get_content_type, ""), sub))
    plain = [s for ctype, s in options if ctype == "text/plain" and "".join(s.texts).strip()]
    chosen = plain[0] if plain else next((s for _, s in options if s.texts), None)
    if chosen:
        walk.texts.extend(chosen.texts)


def enclosed_subject(value: object) -> str:
    """The Subject header of an enclosed (message/rfc822) message, "message" when it has none."""
    return decode_header_value(value) or "message"


def forwarded_heading(subject: str) -> str:
    """The line above an inline forwarded message's text; the IMAP path writes the same."""
    return f"---------- Forwarded message: {subject} ----------"


def enclosed_file_name(subject: str) -> str:
    """The attachment name of an enclosed message: its subject, as a mail client saves it."""
    return f"{subject[:200]}.eml"


def _walk_enclosed(
    part: EmailMessage, children: list, walk: _Walk, depth: int, disposition: str
) -> None:
    for inner in children:
        if not isinstance(inner, EmailMessage):
            continue
        subject = enclosed_subject(_safe(lambda i=inner: i.get("Subject"), ""))
        if disposition == "attachment":
            size = len(_safe(lambda i=inner: i.as_bytes(), b"") or b"")
            walk.attachments.append((enclosed_file_name(subject), "message/rfc822", size))
            continue
        # An inline forwarded message: its text belongs to what the reader sees.
        walk.texts.append(forwarded_heading(subject))
        _walk(inner, walk, depth + 1)


def _flag_set(flags: Collection[str | bytes]) -> set[str]:
    names = set()
    for flag in flags:
        text = flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)
        names.add(text.lstrip("\\").lower())
    return names


def parse_message(
    raw: bytes,
    *,
    uid: int = 0,
    flags: Collection[str | bytes] = (),
    fallback_date_utc: str = EPOCH_UTC,
) -> NewMessage:
    """A whole RFC 822 message as a `NewMessage`; never raises on hostile input.

    `flags` are IMAP flag names (`\\Seen`, b"\\Answered", ...); `fallback_date_utc` is used when
    the Date header is missing or unreadable (IMAP INTERNALDATE, a Maildir file's mtime).
    """
    raw = _repair(raw)
    try:
        msg = _parse_bytes(raw)
    except Exception:
        msg = _parse_bytes(b"\n" + raw)
    headers = _headers_from(msg, _header_bytes(raw), fallback_date_utc)
    walk = _Walk([], [])
    try:
        _walk(msg, walk, 0)
    except RecursionError:
        pass  # absurd nesting: keep what was found so far
    body = clean_text("\n\n".join(walk.texts))[:MAX_BODY_CHARS]
    names = _flag_set(flags)
    return NewMessage(
        uid=uid,
        message_id=headers.message_id,
        in_reply_to=headers.in_reply_to,
        refs=headers.refs,
        date_utc=headers.date_utc,
        from_name=headers.from_name,
        from_addr=headers.from_addr,
        to=headers.to,
        cc=headers.cc,
        reply_to=headers.reply_to,
        subject=headers.subject,
        snippet=make_snippet(body),
        body_text=body,
        attachments=tuple(walk.attachments),
        size=len(raw),
        seen="seen" in names,
        answered="answered" in names,
        flagged="flagged" in names,
        draft="draft" in names,
    )
