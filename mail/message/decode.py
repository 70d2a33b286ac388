"""Provides the one decoder: header fields, a MIME plan and text payloads become a `NewMessage`.

Both sources end in `assemble`: the IMAP path with the header literal, the server's
BODYSTRUCTURE and the fetched text sections (mail/sync/fetch.py); the Maildir path, and the IMAP
fallback for an unreadable BODYSTRUCTURE, with a whole message through `decode_message`.
Everything here takes untrusted bytes and never raises on them.
"""

from __future__ import annotations

import hashlib

from rapport.mail.message.body import decode_body_part, join_texts
from rapport.mail.message.charset import unescape_surrogates
from rapport.mail.message.flags import flag_tuple
from rapport.mail.message.headers import ParsedHeaders, parse_header_block
from rapport.mail.message.mime import (
    MAX_TEXT_BYTES,
    MimePart,
    Plan,
    attachment_entry,
    plan,
)
from rapport.mail.message.snippet import make_snippet
from rapport.mail.message.structure import parse_structure, wire_size
from rapport.store.mailstore.copies import Flags
from rapport.store.mailstore.messages import EPOCH_UTC, NewMessage
from rapport.store.text import clean_line

SYNTHETIC_DOMAIN = "rapport.invalid"


def synthetic_message_id(headers: ParsedHeaders, body: str) -> str:
    """A stable made-up Message-ID: the same decoded message always gets the same one, from
    whichever source it was read."""
    # The Date header as written, not date_utc: a missing or unreadable date falls back to a
    # time that differs by source (INTERNALDATE, a file's mtime).
    fields = (clean_line(unescape_surrogates(headers.date_header)), headers.from_name, headers.from_addr, repr(headers.to),
              repr(headers.cc), headers.subject, headers.in_reply_to, " ".join(headers.refs), body)
    digest = hashlib.sha256("\n".join(fields).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{digest}@{SYNTHETIC_DOMAIN}"


def body_text(message_plan: Plan, payloads: dict[str, bytes]) -> str:
    """The text a reader sees: each planned text part decoded (from `payloads`, by section),
    forwarded messages under their heading."""
    texts = []
    for entry in message_plan.texts:
        if entry.part is None:
            texts.append(entry.heading)
            continue
        payload = payloads.get(entry.part.section, b"")
        if payload:
            texts.append(decode_body_part(
                payload, content_type=entry.part.content_type,
                charset=entry.part.params.get("charset"), transfer_encoding=entry.part.encoding,
            ))
    return join_texts(texts)


def assemble(headers: ParsedHeaders, message_plan: Plan, payloads: dict[str, bytes], *,
             uid: int, flags: Flags, size: int, server_id: str = "") -> NewMessage:
    """The NewMessage of a decoded header block, a plan and its text payloads."""
    body = body_text(message_plan, payloads)
    seen, answered, flagged, draft = flags
    return NewMessage(
        uid=uid,
        message_id=headers.message_id or synthetic_message_id(headers, body),
        in_reply_to=headers.in_reply_to,
        refs=headers.refs,
        date_utc=headers.date_utc,
        from_name=headers.from_name,
        from_addr=headers.from_addr,
        to=headers.to,
        cc=headers.cc,
        reply_to=headers.reply_to,
        subject=headers.subject,
        snippet=make_snippet(body, cleaned=True),  # body_text's parts are clean_text'd
        body_text=body,
        attachments=tuple(attachment_entry(p) for p in message_plan.attachments),
        size=size,
        seen=seen,
        answered=answered,
        flagged=flagged,
        draft=draft,
        server_id=server_id,
    )


def _wire(payload: bytes) -> bytes:
    """A payload as an IMAP server sends it: CRLF line ends, no NUL (RFC 3501 literals carry
    CHAR8 only; Dovecot sends 0x80 instead), capped as the IMAP fetch caps it."""
    if b"\n" in payload:
        payload = payload.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return payload.replace(b"\x00", b"\x80")[:MAX_TEXT_BYTES]


def local_payloads(parts: list[MimePart]) -> dict[str, bytes]:
    """The text payloads of parts whose bytes are at hand, as the IMAP fetch would get them."""
    return {p.section: _wire(p.payload) for p in parts if p.payload}


def decode_message(raw: bytes, *, uid: int = 0, flags: object = (),
                   fallback_date_utc: str = EPOCH_UTC) -> NewMessage:
    """A whole RFC 822 message as a `NewMessage`; never raises on hostile input.

    `flags` are IMAP flag names (`\\Seen`, b"\\Answered", ...); `fallback_date_utc` is used when
    the Date header is missing or unreadable (IMAP INTERNALDATE, a Maildir file's mtime).
    """
    headers = parse_header_block(raw, fallback_date_utc=fallback_date_utc)
    try:
        message_plan = plan(parse_structure(raw))
    except RecursionError:
        message_plan = Plan()  # absurd nesting past every cap: headers only
    return assemble(headers, message_plan, local_payloads(message_plan.text_parts), uid=uid,
                    flags=flag_tuple(flags), size=wire_size(raw))
