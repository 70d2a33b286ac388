"""Provides `clean_filename`: an attachment's own name made safe to create in a folder.

The name comes from mail, which is hostile input: it may hold path separators or `..` (to write
outside the folder), control characters or bidi overrides (`invoice\u202efdp.exe` shows as
`invoiceexe.pdf`), a leading dot (a hidden file), or thousands of characters. What is left is one
plain path component, short enough for any file system, with its real extension visible.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata

# Characters: bytes, not characters, are what file systems limit (255 on ext4, APFS, NTFS).
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 200
MAX_SUFFIX_CHARS = 16
FALLBACK_STEM = "attachment"
# Separators of every platform and what Windows refuses; replaced, never interpreted.
_UNSAFE = re.compile(r'[/\\:<>"|?*]')
_DOTS = re.compile(r"\.{2,}")
_SPACES = re.compile(r"\s+")
# Unicode categories dropped: controls (Cc), format characters (Cf: bidi overrides and
# isolates, zero-width joiners, soft hyphens), line/paragraph separators, surrogates, unassigned.
_DROPPED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"}


def _visible(name: str) -> str:
    kept = "".join(c for c in unicodedata.normalize("NFC", name)
                   if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    return _SPACES.sub(" ", kept)


def _shorten(stem: str, suffix: str) -> str:
    while stem and (len(stem) + len(suffix) > MAX_NAME_CHARS
                    or len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES):
        stem = stem[:-1]
    return stem.rstrip(" .") + suffix


def clean_filename(name: str, content_type: str = "") -> str:
    """One safe path component for `name`; `attachment.EXT` (EXT from `content_type`) when
    nothing usable is left."""
    text = _UNSAFE.sub("_", _visible(name or ""))
    text = _DOTS.sub(".", text).strip(" .")
    stem, dot, suffix = text.rpartition(".")
    if not dot or not stem or len(suffix) > MAX_SUFFIX_CHARS or " " in suffix:
        stem, suffix = text, ""
    else:
        suffix = "." + suffix
    cleaned = _shorten(stem, suffix).lstrip(" .")
    if not cleaned:
        guessed = mimetypes.guess_extension(content_type or "") or suffix or ""
        cleaned = FALLBACK_STEM + guessed
    return cleaned


def numbered(name: str, number: int) -> str:
    """`quote.pdf`, 2 -> `quote (2).pdf` (the first is the name itself)."""
    if number <= 1:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    else:
        suffix = "." + suffix
    return _shorten(stem, f" ({number}){suffix}")

