"""Provides byte-to-text decoding that survives unknown or lying charsets.

Mail declares charsets it does not use, names ones Python does not know, or none at all. The rule
everywhere: the declared charset, then UTF-8, then Windows-1252 with replacement, so decoding
never raises and nothing is lost silently when a better guess exists.
"""

from __future__ import annotations

import codecs
import re

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


def codec_for(charset: str | None) -> str | None:
    """Python's codec for a declared charset name, None when unknown or absent."""
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
    declared = codec_for(charset)
    for candidate in (declared, "utf-8"):
        if candidate is None:
            continue
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
    return data.decode("windows-1252", errors="replace")


_SURROGATE_ESCAPE = re.compile("[\udc80-\udcff]")


def unescape_surrogates(text: str) -> str:
    """Raw 8-bit header bytes that compat32 kept as surrogate escapes, as UTF-8 or 1252 text."""
    if text.isascii() or not _SURROGATE_ESCAPE.search(text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"), None)
