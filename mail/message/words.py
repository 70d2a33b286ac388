"""Provides `decode_header_value`: one header value (RFC 2047 encoded words, raw 8-bit) as text."""

from __future__ import annotations

import base64
import binascii
import quopri
import re

from rapport.mail.message.charset import codec_for, decode_bytes, unescape_surrogates
from rapport.store.text import clean_line

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
            codec = "ascii" if text.isascii() else (codec_for(charset) or "utf-8")
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
    raw = unescape_surrogates(str(value))
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
