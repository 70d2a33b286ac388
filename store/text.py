"""Provides text hygiene for everything Rapport stores and later prints in a terminal.

Mail headers, imported cells and typed names all end up on screen, so terminal escape sequences
and control characters are removed when text is written, not when it is shown. The mail parser,
the TUI and the store API all use these one definitions.
"""

from __future__ import annotations

import re

# Whole terminal escape sequences (CSI, OSC with its payload, two-byte ESC forms) go first, so an
# OSC title like "\x1b]0;pwned\x07" leaves nothing behind; then C0/C1 controls, DEL, and bidi
# overrides that reorder text.
ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x1b\x9c]*[\x07\x9c]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r" {2,}")


def clean_line(text: str) -> str:
    """A one-line value (header, name, title): no control characters at all, CR/LF/tab folded to
    spaces, runs of spaces collapsed, trimmed."""
    if text.isascii() and text.isprintable():  # the common case: no escape, control or tab
        return (_SPACES.sub(" ", text) if "  " in text else text).strip()
    text = ESCAPE_SEQUENCE.sub("", text).replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return _SPACES.sub(" ", _CONTROL_LINE.sub("", text)).strip()


def clean_text(text: str) -> str:
    """A body (note, mail text): newlines normalised to \\n; tabs and newlines kept, other
    controls removed."""
    text = ESCAPE_SEQUENCE.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored as it is (a NUL, a lone surrogate), or None when it can.

    Cleaning would silently drop these; in a file being imported they mean the file is damaged
    or not text, which the user should hear about.
    """
    if "\x00" in text:
        return "contains a NUL character"
    if _SURROGATE.search(text):
        return "is not valid Unicode (a lone surrogate)"
    return None
