"""Provides `fetch_new`: a batch of UIDs turned into NewMessages with the fewest, cheapest fetches.

One FETCH asks for FLAGS, INTERNALDATE, RFC822.SIZE, BODYSTRUCTURE and the headers we keep as a
literal (cheap to read, unlike ENVELOPE); then only the chosen text parts are fetched, capped,
grouped so messages with the same part layout share one command. Attachments are never
downloaded: BODYSTRUCTURE gives their name, type and size. A message whose structure cannot be
read falls back to one capped whole-message fetch parsed by mail/message/parse.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from imapclient import IMAPClient

from rapport.mail.message.parse import (
    decode_body_part,
    decode_header_value,
    enclosed_file_name,
    enclosed_subject,
    forwarded_heading,
    make_snippet,
    parse_header_block,
    parse_message,
)
from rapport.mail.sync.response import Part, item_key, parse_bodystructure, raw_uid_fetch
from rapport.store.mailstore.messages import EPOCH_UTC, NewMessage
from rapport.store.timeutil import to_utc_text

HEADER_FIELDS = (
    "MESSAGE-ID IN-REPLY-TO REFERENCES DATE FROM TO CC REPLY-TO SUBJECT"
)
# Servers spell the item name back in many ways: answers are looked up as item_key spells it.
HEADER_KEY = item_key(f"BODY[HEADER.FIELDS ({HEADER_FIELDS})]".encode())
META_ITEMS = f"(UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})])"
# Gmail's own id of a message, the same in every folder (X-GM-EXT-1).
GMAIL_META_ITEMS = META_ITEMS[:-1] + " X-GM-MSGID)"
NO_HEADERS = "the server sent no readable header block for it (FETCH BODY[HEADER.FIELDS ...])"
# A text part longer than this is cut: enough for any human-written mail, bounded memory.
MAX_TEXT_BYTES = 256 * 1024
# Whole-message fallback when BODYSTRUCTURE is unusable.
MAX_FALLBACK_BYTES = 4 * 1024 * 1024
# Text bytes asked for in one command: bounds memory whatever the batch holds.
MAX_COMMAND_BYTES = 8 * 1024 * 1024

Skip = Callable[[int, str], None]


def _flags(value: object) -> tuple[bool, bool, bool, bool]:
    names = {f.lower() for f in value} if isinstance(value, list) else set()
    return (b"\\seen" in names, b"\\answered" in names, b"\\flagged" in names, b"\\draft" in names)


def internaldate_utc(value: object) -> str:
    """INTERNALDATE as stored (UTC text); the epoch when absent or unreadable."""
    return _internaldate(value)


def _internaldate(value: object) -> str:
    if not isinstance(value, bytes):
        return EPOCH_UTC
    try:
        moment = datetime.strptime(value.decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return EPOCH_UTC
    return to_utc_text(moment)


def _int(value: object) -> int:
    return int(value) if isinstance(value, bytes) and value.isdigit() else 0


def _section_key(section: str) -> bytes:
    return item_key(f"BODY[{section}]".encode())


def _fetch_texts(client: IMAPClient, wanted: dict[int, list[Part]]) -> dict[int, dict[str, bytes]]:
    """The chosen text parts, grouped by layout so each group is one capped FETCH."""
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for uid, parts in wanted.items():
        groups[tuple(p.section for p in parts)].append(uid)
    result: dict[int, dict[str, bytes]] = defaultdict(dict)
    for sections, uids in groups.items():
        items = "(" + " ".join(f"BODY.PEEK[{s}]<0.{MAX_TEXT_BYTES}>" for s in sections) + ")"
        chunk: list[int] = []
        budget = 0
        for uid in sorted(uids):
            cost = sum(min(p.size, MAX_TEXT_BYTES) for p in wanted[uid]) + 1
            if chunk and budget + cost > MAX_COMMAND_BYTES:
                _fetch_text_chunk(client, chunk, items, sections, result)
                chunk, budget = [], 0
            chunk.append(uid)
            budget += cost
        if chunk:
            _fetch_text_chunk(client, chunk, items, sections, result)
    return result


def _fetch_text_chunk(client: IMAPClient, uids: list[int], items: str,
                      sections: tuple[str, ...], into: dict[int, dict[str, bytes]]) -> None:
    for uid, values in raw_uid_fetch(client, uids, items).items():
        for section in sections:
            payload = values.get(_section_key(section))
            if isinstance(payload, bytes):
                into[uid][section] = payload


def _enclosed_subject(raw: bytes | None) -> str:
    return enclosed_subject(raw.decode("utf-8", "replace") if raw else "")


def _body_text(parts: list[Part], payloads: dict[str, bytes]) -> str:
    texts = []
    for part in parts:
        if part.enclosed_subject is not None:
            texts.append(forwarded_heading(_enclosed_subject(part.enclosed_subject)))
        payload = payloads.get(part.section, b"")
        if not payload:
            continue
        text = decode_body_part(
            payload,
            content_type=part.content_type,
            charset=part.params.get("charset"),
            transfer_encoding=part.encoding or None,
        )
        if text.strip():
            texts.append(text)
    return "\n\n".join(texts)


def _attachment(part: Part) -> tuple[str, str, int]:
    name = decode_header_value(part.filename)[:255] if part.filename else ""
    if part.content_type == "message/rfc822":
        name = enclosed_file_name(_enclosed_subject(part.enclosed_subject))
    return (name, part.content_type, part.size)


def _fallback_raw(client: IMAPClient, uid: int) -> bytes | None:
    data = raw_uid_fetch(client, [uid], f"(BODY.PEEK[]<0.{MAX_FALLBACK_BYTES}>)").get(uid, {})
    raw = data.get(b"BODY[]")
    return raw if isinstance(raw, bytes) else None


def _fallback(uid: int, meta: dict[bytes, object], raw: bytes) -> NewMessage:
    seen, answered, flagged, draft = _flags(meta.get(b"FLAGS"))
    flags = [name for name, on in (("\\Seen", seen), ("\\Answered", answered),
                                    ("\\Flagged", flagged), ("\\Draft", draft)) if on]
    msg = parse_message(raw, uid=uid, flags=flags,
                        fallback_date_utc=_internaldate(meta.get(b"INTERNALDATE")))
    return replace(msg, size=_int(meta.get(b"RFC822.SIZE")) or len(raw))


@dataclass
class RawBatch:
    """What the server sent for a batch, before any header or body decoding."""

    uids: list[int]
    metas: dict[int, dict[bytes, object]]
    structures: dict[int, tuple[list[Part], list[Part]]]
    payloads: dict[int, dict[str, bytes]]
    whole: dict[int, bytes | None] = field(default_factory=dict)


def fetch_raw(client: IMAPClient, uids: Sequence[int]) -> RawBatch:
    """The network half: metadata, structure, chosen text parts (and whole unreadable ones).

    `build_messages` is the CPU half; `fetch_new` runs both.
    """
    gmail = client.has_capability("X-GM-EXT-1")
    metas = raw_uid_fetch(client, uids, GMAIL_META_ITEMS if gmail else META_ITEMS)
    structures: dict[int, tuple[list[Part], list[Part]]] = {}
    whole: dict[int, bytes | None] = {}
    for uid in uids:
        meta = metas.get(uid)
        if meta is None:
            continue  # expunged between SEARCH and FETCH: nothing to store
        try:
            structure = parse_bodystructure(meta.get(b"BODYSTRUCTURE"))
            structures[uid] = (structure.texts, structure.attachments)
        except (ValueError, IndexError, TypeError, AttributeError, RecursionError):
            whole[uid] = None
    wanted = {uid: texts for uid, (texts, _a) in structures.items() if texts}
    payloads = _fetch_texts(client, wanted) if wanted else {}
    for uid in whole:
        whole[uid] = _fallback_raw(client, uid)
    return RawBatch(list(uids), metas, structures, dict(payloads), whole)


def build_messages(raw: RawBatch, skip: Skip) -> list[NewMessage]:
    """The CPU half: NewMessages (ascending UID); unreadable ones go to `skip(uid, reason)`."""
    messages: list[NewMessage] = []
    for uid in raw.uids:
        meta = raw.metas.get(uid)
        if meta is None:
            continue
        try:
            if uid in raw.structures:
                if not isinstance(meta.get(HEADER_KEY), bytes):
                    skip(uid, NO_HEADERS)  # never an empty message with a made-up id
                    continue
                messages.append(_build(uid, meta, raw.structures[uid], raw.payloads.get(uid, {})))
                continue
            content = raw.whole.get(uid)
            if content is None:
                skip(uid, "the server returned no content for it")
            else:
                messages.append(_fallback(uid, meta, content))
        except Exception as exc:  # hostile mail must not stop the sync: report it instead
            skip(uid, f"unreadable ({type(exc).__name__}: {str(exc)[:120]})")
    return messages


def read_bounces(client: IMAPClient, messages: list[NewMessage], raw: RawBatch) -> list[NewMessage]:
    """`messages`, the bounces among them carrying their failed recipients: those that hold a
    delivery report or come from a mailer daemon are fetched whole (capped) for flufl.bounce."""
    from rapport.mail.message.bounces import MAX_BOUNCE_BYTES, looks_like_bounce, with_bounces

    wanted = [m.uid for m in messages
              if looks_like_bounce(m.from_addr, [kind for _n, kind, _s in m.attachments])]
    if not wanted:
        return messages
    whole = {uid: raw.whole[uid] for uid in wanted if raw.whole.get(uid)}
    missing = [uid for uid in wanted if uid not in whole]
    if missing:
        for uid, values in raw_uid_fetch(client, missing,
                                         f"(BODY.PEEK[]<0.{MAX_BOUNCE_BYTES}>)").items():
            content = values.get(b"BODY[]<0>")
            if isinstance(content, bytes):
                whole[uid] = content
    return [with_bounces(m, whole[m.uid]) if whole.get(m.uid) else m for m in messages]


def fetch_new(client: IMAPClient, uids: Sequence[int], skip: Skip) -> list[NewMessage]:
    """NewMessages for `uids`, fetched and decoded in one go (no pipelining)."""
    return build_messages(fetch_raw(client, uids), skip)


def _build(uid: int, meta: dict[bytes, object], structure: tuple[list[Part], list[Part]],
           payloads: dict[str, bytes]) -> NewMessage:
    texts, attachments = structure
    internal = _internaldate(meta.get(b"INTERNALDATE"))
    header_block = meta.get(HEADER_KEY)
    headers = parse_header_block(header_block if isinstance(header_block, bytes) else b"",
                                 fallback_date_utc=internal)
    gmail_id = meta.get(b"X-GM-MSGID")
    body = _body_text(texts, payloads)
    seen, answered, flagged, draft = _flags(meta.get(b"FLAGS"))
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
        attachments=tuple(_attachment(p) for p in attachments),
        size=_int(meta.get(b"RFC822.SIZE")),
        seen=seen,
        answered=answered,
        flagged=flagged,
        draft=draft,
        server_id=gmail_id.decode() if isinstance(gmail_id, bytes) and gmail_id.isdigit() else "",
    )
