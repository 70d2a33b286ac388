"""Provides a fast reader for raw IMAP FETCH responses (BODYSTRUCTURE: mail/sync/bodystructure.py).

Why not imapclient's parser: it lexes character by character, and parsing ENVELOPE plus
BODYSTRUCTURE of 20k messages took 5.7 s of a 7.4 s fetch while Dovecot sent them in 0.35 s.
Here one compiled regex tokenises each response line, literals arrive already split out by
imaplib, and headers come as a `BODY[HEADER.FIELDS ...]` literal that the caller decodes.
"""

from __future__ import annotations

import imaplib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imapclient import IMAPClient

# Section specs like BODY[HEADER.FIELDS (A B)]<0> contain spaces and parens: one token.
_TOKEN = re.compile(
    rb'(\()|(\))|"((?:[^"\\]|\\.)*)"|([A-Za-z0-9.\-]+\[[^\]]*\](?:<\d+>)?)|([^\s()"]+)'
)
_LITERAL_TAIL = re.compile(rb"\{(\d+)\+?\}$")
_UNESCAPE = re.compile(rb"\\(.)")

Tree = list[Any]  # nested lists of bytes | None | Literal


class Literal(bytes):
    """A literal's bytes, kept distinct from atoms so they are never reinterpreted."""


def _tokens_into(text: bytes, stack: list[list[Any]]) -> None:
    for opened, closed, quoted, section, atom in _TOKEN.findall(text):
        if opened:
            child: list[Any] = []
            stack[-1].append(child)
            stack.append(child)
        elif closed:
            if len(stack) > 1:
                stack.pop()
        elif section:
            stack[-1].append(section)
        elif atom:
            stack[-1].append(None if atom == b"NIL" else atom)
        else:
            # Quoted string (possibly empty): undo \" and \\ escapes only when present.
            stack[-1].append(_UNESCAPE.sub(rb"\1", quoted) if b"\\" in quoted else quoted)


def parse_response(pieces: list[Any]) -> list[Any]:
    """One untagged response (imaplib pieces: (text, literal) tuples then bytes) as a tree."""
    root: list[Any] = []
    stack = [root]
    for piece in pieces:
        if isinstance(piece, tuple):
            text, literal = piece
            text = _LITERAL_TAIL.sub(b"", text)
            _tokens_into(text, stack)
            stack[-1].append(Literal(literal))
        else:
            _tokens_into(piece, stack)
    return root


def split_responses(data: list[Any]) -> list[list[Any]]:
    """Group imaplib's flat FETCH data into responses: each is tuples followed by one bytes."""
    responses: list[list[Any]] = []
    current: list[Any] = []
    for item in data:
        if item is None:
            continue
        current.append(item)
        if not isinstance(item, tuple):
            responses.append(current)
            current = []
    if current:
        responses.append(current)
    return responses


_SECTION_LIST = re.compile(rb"\s*\(\s*(.*?)\s*\)")
_ORIGIN = re.compile(rb"<\d+>$")


def item_key(name: bytes) -> bytes:
    """One spelling for a FETCH item name, whichever a server sent: upper-case; in a section
    spec no quotes (Courier echoes `HEADER.FIELDS ("MESSAGE-ID" ...)`), single spaces, one space
    before a field list; no partial origin (`BODY[1]<0>` and `BODY[1]` are the same answer)."""
    key = bytes(name).upper()
    if b"[" not in key:
        return key
    head, _, section = key.partition(b"[")
    section, _, _tail = section.partition(b"]")
    section = b" ".join(section.replace(b'"', b"").split())
    section = _SECTION_LIST.sub(lambda m: b" (" + m.group(1) + b")", section)
    return _ORIGIN.sub(b"", head + b"[" + section + b"]")


def fetch_items(data: list[Any]) -> dict[int, dict[bytes, object]]:
    """UID -> {item name (as `item_key` spells it, e.g. b"FLAGS", b"BODY[1]"): value} for
    every response."""
    result: dict[int, dict[bytes, object]] = {}
    for response in split_responses(data):
        tree = parse_response(response)
        # tree: [seq, [k, v, k, v ...]]
        if len(tree) < 2 or not isinstance(tree[1], list):
            continue
        items = tree[1]
        values: dict[bytes, object] = {}
        for i in range(0, len(items) - 1, 2):
            key = items[i]
            if isinstance(key, bytes):
                values[item_key(key) if b"[" in key else bytes(key).upper()] = items[i + 1]
        uid = values.get(b"UID")
        if isinstance(uid, bytes) and uid.isdigit():
            previous = result.get(int(uid))
            if previous is not None:
                previous.update(values)  # unsolicited FLAGS updates merge into the same UID
            else:
                result[int(uid)] = values
    return result


def parse_uid_set(text: bytes | str) -> list[int]:
    """`1:3,7` -> [1, 2, 3, 7] (a VANISHED or ESEARCH set)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    uids: list[int] = []
    for chunk in text.split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        if ":" in chunk:
            a, b = chunk.split(":", 1)
            if a.isdigit() and b.isdigit():
                lo, hi = sorted((int(a), int(b)))
                uids.extend(range(lo, hi + 1))
        elif chunk.isdigit():
            uids.append(int(chunk))
    return uids


def uid_ranges(uids: list[int]) -> str:
    """[1, 2, 3, 7] -> "1:3,7" so a command line stays short."""
    if not uids:
        return ""
    ordered = sorted(set(uids))
    parts = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


class FetchFailed(imaplib.IMAP4.error):
    """The server answered NO/BAD to a FETCH."""


def raw_uid_fetch(client: IMAPClient, uids: Sequence[int] | str, items: str,
                  modifiers: str = "") -> dict[int, dict[bytes, object]]:
    """UID FETCH through imaplib, parsed by our own reader (see this module's docstring)."""
    imap = client._imap  # noqa: SLF001 - the fast path imapclient has no public door for
    # imapclient turns on imaplib's debug logging, which formats every line and literal.
    imap.debug = 0
    uid_set = uids if isinstance(uids, str) else uid_ranges(list(uids))
    args = [uid_set, items] + ([modifiers] if modifiers else [])
    typ, data = imap.uid("FETCH", *args)
    if typ != "OK":
        raise FetchFailed(f"FETCH refused: {data!r}"[:200])
    return fetch_items(data)
