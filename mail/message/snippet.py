"""Provides `make_snippet`: the first words of a body, without quotes, forwards or signature."""

from __future__ import annotations

import re

from rapport.mail.message.quotes import QUOTED_HEADER, quote_starts, quoted_below
from rapport.store.text import clean_text

_SUBJECT_LINE = re.compile(r"^\s*(subject|betreff|objet|тема)\s*:", re.I)


def make_snippet(text: str, length: int = 200, *, cleaned: bool = False) -> str:
    """The first words of a body, without quoted replies, forwards or the signature.

    A message that is only a forward ("---- Forwarded by ...", a header block, the text) gets
    the forwarded text instead of an empty snippet. `cleaned`: `text` has been through
    `clean_text` already (as the decoder's bodies have), which would change nothing.
    """
    lines = (text if cleaned else clean_text(text)).split("\n")
    for _ in range(4):  # forwards of forwards: look a few levels deep, no further
        snippet, stop = _snippet_lines(lines, length)
        if snippet or stop is None:
            return snippet
        # Nothing before the quote: skip the quoted message's header block (up to its Subject
        # line when there is one close by) and summarise what was forwarded.
        lines = lines[stop + 1 :]
        for index, line in enumerate(lines[:25]):
            if _SUBJECT_LINE.match(line):
                lines = lines[index + 1 :]
                break
        lines = [line for line in lines if not QUOTED_HEADER.match(line.strip())]
    return ""


def _snippet_lines(lines: list[str], length: int) -> tuple[str, int | None]:
    """The snippet of `lines` and the index where quoted text stopped it (None: not stopped)."""
    kept: list[str] = []
    kept_chars = 0  # sum(len(k) + 1 for k in kept)
    stop: int | None = None
    skip_next = False
    for index, line in enumerate(lines):
        if skip_next or line.lstrip().startswith(">"):
            skip_next = False
            continue
        if quote_starts(lines, index):
            if quoted_below(lines, index):
                continue  # bottom-posted reply: skip the quote, the answer comes after it
            if index + 1 < len(lines) and quoted_below(lines, index + 1):
                skip_next = True  # the same, with the attribution wrapped over two lines
                continue
            stop = index
            break
        if line.strip():
            kept.append(line.strip())
            kept_chars += len(kept[-1]) + 1
        if kept_chars > length * 2:
            break
    snippet = re.sub(r"\s+", " ", " ".join(kept)).strip()
    if len(snippet) > length:
        snippet = snippet[: length - 1].rstrip() + "…"
    return snippet, stop
