"""Provides `clean`: hostile mail text made safe to show (control characters and escapes removed)."""

from __future__ import annotations

import re

from rapport.mail.parse import ESCAPE_SEQUENCE

# Escape sequences first (so their payload goes too), then any C0/C1 control left.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str, *, keep_newlines: bool = False) -> str:
    """`text` without terminal escapes or control characters (tabs become spaces)."""
    text = ESCAPE_SEQUENCE.sub("", text).replace("\t", "    ")
    if not keep_newlines:
        text = text.replace("\r", " ").replace("\n", " ")
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)
