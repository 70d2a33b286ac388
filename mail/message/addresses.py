"""Provides address-list reading for hostile headers and stored address text.

`email.utils.getaddresses` is the base; a lenient reader takes over where its strict grammar
misreads what senders really write (`ACME [Sales] <s@acme.example>`). The decoder and the reply
composer both read addresses here, so a stored `to_addrs` reads back as it was written.
"""

from __future__ import annotations

import email.utils
import re

from rapport.mail.message.charset import unescape_surrogates
from rapport.mail.message.words import decode_header_value
from rapport.store.text import clean_line

AddressList = tuple[tuple[str, str], ...]

# `Name <local@domain>`: the form nearly every sender writes, read without RFC 5322's grammar.
_ANGLE_ADDRESS = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<addr>[^<>\s@]+@[^<>\s@]+)>\s*")
_PLAIN_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")


def _top_level_items(value: str) -> list[str]:
    """`value` split at the commas that are outside double quotes."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
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


# One `Name <local@domain>`, `<local@domain>` or `local@domain` of atoms only (no quotes,
# comments, groups, escapes or domain literals): read directly, as getaddresses would read it
# (tests/test_parse.py compares the two), at a twentieth of its cost; all else goes to it.
_SIMPLE_ATOM = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+"
_SIMPLE_ADDRESS = re.compile(
    rf"[ \t]*(?:(?P<name>{_SIMPLE_ATOM}(?:[ \t]+{_SIMPLE_ATOM})*)[ \t]*)?"
    rf"(?:<(?P<angle>{_SIMPLE_ATOM}@{_SIMPLE_ATOM})>|(?P<bare>{_SIMPLE_ATOM}@{_SIMPLE_ATOM}))[ \t]*")


def _simple_pair(value: str) -> tuple[str, str] | None:
    match = _SIMPLE_ADDRESS.fullmatch(value)
    if match is None or (match["bare"] and match["name"]):
        return None
    if (match["angle"] or match["bare"]).startswith(".") or ".." in value:
        return None  # dot-atom rules: leave the odd cases to the full grammar
    return " ".join((match["name"] or "").split()), match["angle"] or match["bare"]


def address_pairs(values: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs of header values as written: names not yet decoded."""
    raw = [unescape_surrogates(str(v)) for v in values if v is not None]
    simple = [_simple_pair(value) for value in raw]
    if all(pair is not None for pair in simple):
        return [pair for pair in simple if pair is not None]
    try:
        pairs = email.utils.getaddresses(raw)
    except Exception:  # hostile header: keep nothing rather than crash
        pairs = []
    if any("[" in value for value in raw):
        pairs = _lenient_pairs(raw) or pairs
    return pairs


def parse_addresses(values: list[str]) -> AddressList:
    """Header values as unique (decoded name, lower-cased address) pairs; junk dropped."""
    result: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, addr in address_pairs(values):
        addr = clean_line(addr).strip("<>").lower()
        if not addr or "@" not in addr or " " in addr or addr in seen:
            continue
        seen.add(addr)
        result.append((decode_header_value(name).strip('"'), addr))
    return tuple(result)
