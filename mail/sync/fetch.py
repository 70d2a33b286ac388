"""Provides `fetch_new`: a batch of UIDs turned into NewMessages with the fewest, cheapest fetches.

One FETCH asks for FLAGS, INTERNALDATE, RFC822.SIZE, BODYSTRUCTURE and the headers we keep as a
literal (cheap to read, unlike ENVELOPE); then only the chosen text parts are fetched, capped,
grouped so messages with the same part layout share one command. Attachments are never
downloaded: BODYSTRUCTURE gives their name, type and size. A message whose structure cannot be
read falls back to one capped whole-message fetch decoded like a Maildir file. Which parts are
text is decided by the one MIME policy (mail/message/mime.py), for IMAP and Maildir alike.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from imapclient import IMAPClient

from rapport.mail.message.decode import assemble, decode_message
from rapport.mail.message.flags import flag_tuple
from rapport.mail.message.headers import KEPT_HEADERS, parse_header_block
from rapport.mail.message.mime import MAX_TEXT_BYTES, MimePart, Plan, plan
from rapport.mail.sync.bodystructure import parse_bodystructure
from rapport.mail.sync.response import item_key, raw_uid_fetch
from rapport.store.mailstore.messages import EPOCH_UTC, NewMessage
from rapport.store.timeutil import to_utc_text

HEADER_FIELDS = " ".join(KEPT_HEADERS)
# Servers spell the item name back in many ways: answers are looked up as item_key spells it.
HEADER_KEY = item_key(f"BODY[HEADER.FIELDS ({HEADER_FIELDS})]".encode())
META_ITEMS = f"(UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})])"
# Gmail's own id of a message, the same in every folder (X-GM-EXT-1).
GMAIL_META_ITEMS = META_ITEMS[:-1] + " X-GM-MSGID)"
NO_HEADERS = "the server sent no readable header block for it (FETCH BODY[HEADER.FIELDS ...])"
# Whole-message fallback when BODYSTRUCTURE is unusable.
MAX_FALLBACK_BYTES = 4 * 1024 * 1024
# Text bytes asked for in one command: bounds memory whatever the batch holds.
MAX_COMMAND_BYTES = 8 * 1024 * 1024

Skip = Callable[[int, str], None]


def internaldate_utc(value: object) -> str:
    """INTERNALDATE as stored (UTC text); the epoch when absent or unreadable."""
    return _internaldate(value)


# INTERNALDATE as servers write it ("05-Dec-2026 17:10:02 +0000"), read without strptime
# (a tenth of its cost); anything else goes to strptime as before.
_INTERNALDATE = re.compile(rb"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\s*")
_MONTHS = {name: number for number, name in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
     b"dec"), start=1)}


def _internaldate(value: object) -> str:
    if not isinstance(value, bytes):
        return EPOCH_UTC
    match = _INTERNALDATE.fullmatch(value)
    month = _MONTHS.get(match[2].lower()) if match else None
    try:
        if match and month and int(match[9]) < 60:
            day, _m, year, hour, minute, second, sign, zh, zm = match.groups()
            offset = timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == b"-" else 1)
            moment = datetime(int(year), month, int(day), int(hour), int(minute), int(second),
                              tzinfo=timezone(offset))
        else:
            moment = datetime.strptime(value.decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return EPOCH_UTC
    return to_utc_text(moment)


def _int(value: object) -> int:
    return int(value) if isinstance(value, bytes) and value.isdigit() else 0


def _section_key(section: str) -> bytes:
    return item_key(f"BODY[{section}]".encode())


def _fetch_texts(client: IMAPClient, wanted: dict[int, list[MimePart]]) -> dict[int, dict[str, bytes]]:
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


def _fallback_raw(client: IMAPClient, uid: int) -> bytes | None:
    data = raw_uid_fetch(client, [uid], f"(BODY.PEEK[]<0.{MAX_FALLBACK_BYTES}>)").get(uid, {})
    raw = data.get(b"BODY[]")
    return raw if isinstance(raw, bytes) else None


def _fallback(uid: int, meta: dict[bytes, object], raw: bytes) -> NewMessage:
    msg = decode_message(raw, uid=uid, flags=meta.get(b"FLAGS"),
                         fallback_date_utc=_internaldate(meta.get(b"INTERNALDATE")))
    return replace(msg, size=_int(meta.get(b"RFC822.SIZE")) or msg.size)


@dataclass
class RawBatch:
    """What the server sent for a batch, before any header or body decoding."""

    uids: list[int]
    metas: dict[int, dict[bytes, object]]
    plans: dict[int, Plan]
    payloads: dict[int, dict[str, bytes]]
    whole: dict[int, bytes | None] = field(default_factory=dict)


def fetch_raw(client: IMAPClient, uids: Sequence[int]) -> RawBatch:
    """The network half: metadata, structure, chosen text parts (and whole unreadable ones).

    `build_messages` is the CPU half; `fetch_new` runs both.
    """
    gmail = client.has_capability("X-GM-EXT-1")
    metas = raw_uid_fetch(client, uids, GMAIL_META_ITEMS if gmail else META_ITEMS)
    plans: dict[int, Plan] = {}
    whole: dict[int, bytes | None] = {}
    for uid in uids:
        meta = metas.get(uid)
        if meta is None:
            continue  # expunged between SEARCH and FETCH: nothing to store
        try:
            plans[uid] = plan(parse_bodystructure(meta.get(b"BODYSTRUCTURE")))
        except (ValueError, IndexError, TypeError, AttributeError, RecursionError):
            whole[uid] = None
    wanted = {uid: p.text_parts for uid, p in plans.items() if p.text_parts}
    payloads = _fetch_texts(client, wanted) if wanted else {}
    for uid in whole:
        whole[uid] = _fallback_raw(client, uid)
    return RawBatch(list(uids), metas, plans, dict(payloads), whole)


def build_messages(raw: RawBatch, skip: Skip) -> list[NewMessage]:
    """The CPU half: NewMessages (ascending UID); unreadable ones go to `skip(uid, reason)`."""
    messages: list[NewMessage] = []
    for uid in raw.uids:
        meta = raw.metas.get(uid)
        if meta is None:
            continue
        try:
            if uid in raw.plans:
                if not isinstance(meta.get(HEADER_KEY), bytes):
                    skip(uid, NO_HEADERS)  # never an empty message with a made-up id
                    continue
                messages.append(_build(uid, meta, raw.plans[uid], raw.payloads.get(uid, {})))
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
            content = values.get(b"BODY[]")
            if isinstance(content, bytes):
                whole[uid] = content
    return [with_bounces(m, content) if (content := whole.get(m.uid)) else m for m in messages]


def fetch_new(client: IMAPClient, uids: Sequence[int], skip: Skip) -> list[NewMessage]:
    """NewMessages for `uids`, fetched and decoded in one go (no pipelining)."""
    return build_messages(fetch_raw(client, uids), skip)


def _build(uid: int, meta: dict[bytes, object], message_plan: Plan,
           payloads: dict[str, bytes]) -> NewMessage:
    header_block = meta.get(HEADER_KEY)
    headers = parse_header_block(header_block if isinstance(header_block, bytes) else b"",
                                 fallback_date_utc=_internaldate(meta.get(b"INTERNALDATE")))
    gmail_id = meta.get(b"X-GM-MSGID")
    return assemble(headers, message_plan, payloads, uid=uid, flags=flag_tuple(meta.get(b"FLAGS")),
                    size=_int(meta.get(b"RFC822.SIZE")),
                    server_id=gmail_id.decode() if isinstance(gmail_id, bytes) and gmail_id.isdigit()
                    else "")
