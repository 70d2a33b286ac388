"""Provides quote detection: where a reply's own text ends and quoted or forwarded text begins.

The snippet stops there (mail/message/snippet.py) and the reader folds it (`quote_runs`); one
detection serves both, in the languages seen in the reply corpora.
"""

from __future__ import annotations

import re

# Where quoted reply text or a signature starts: the snippet stops there. One pattern, so a
# line (nearly every line checked starts none) costs one match, not six.
_QUOTE_STARTS = re.compile(
    r"^(?:-{2,}\s*original message\s*-{2,}|-{2,}\s*forwarded (message|by)|_{10,}\s*$|from:\s.+"
    r"|begin forwarded message:|sent from my )",
    re.I,
)
_ON = re.compile(r"on\b", re.I)
# "On <date>, <who> wrote:" in the languages seen in the reply corpora.
_ATTRIBUTION = re.compile(
    r"^(on|am|le|el|il|op|em)\b.{0,300}\b(wrote|schrieb|a écrit|escribió|ha scritto|"
    r"geschreven|escreveu|написал|написала)\s*.{0,40}:\s*$",
    re.I,
)
# An Outlook-style header block of the quoted message: two label lines in a row.
QUOTED_HEADER = re.compile(
    r"^(from|sent|date|to|subject|cc|von|gesendet|an|betreff|de|envoyé|à|objet|"
    r"от|отправлено|кому|тема|дата)\s*:\s*\S",
    re.I,
)
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2} \w{3,9},? \d{4}")
_TIME = re.compile(r"\d{1,2}:\d{2}")


def _is_attribution(line: str) -> bool:
    line = line.strip()
    if not line.endswith(":"):
        return False
    if _ATTRIBUTION.match(line):
        return True
    # Localised attributions ("26.06.2014, 14:41, "Ann" <a@b>:"): a date, a time or an address.
    return bool(_DATE.search(line) and (_TIME.search(line) or "@" in line))


def quote_starts(lines: list[str], index: int) -> bool:
    line = lines[index]
    if line in ("--", "-- "):
        return True
    stripped = line.strip()
    following = lines[index + 1].strip() if index + 1 < len(lines) else ""
    if _QUOTE_STARTS.match(stripped):
        return True
    if QUOTED_HEADER.match(stripped) and QUOTED_HEADER.match(following):
        return True
    # Attribution lines, also when the client wrapped them over two lines (then the first
    # half already carries the date or address, and the second is not quoted text). The
    # joined line must end in ":", so the second half must: checked first, it is cheapest.
    return _is_attribution(stripped) or (
        following.endswith(":")
        and not stripped.endswith(":")
        and not following.startswith(">")
        and bool(_DATE.search(stripped) or "@" in stripped or _ON.match(stripped))
        and _is_attribution(f"{stripped} {following}")
    )


def quoted_below(lines: list[str], index: int) -> bool:
    """True when the attribution at `index` introduces a "> "-quoted block (bottom posting)."""
    for line in lines[index + 1 : index + 4]:
        if line.strip():
            return line.lstrip().startswith(">")
    return False


_SIGNATURE = re.compile(r"^(--\s?|sent from my .*)$", re.I)


def quote_runs(text: str) -> list[tuple[str, list[str]]]:
    """The body's lines in runs of kind 'text', 'quote' ('>' lines and their attribution) or
    'history' (from '-----Original Message-----', an Outlook From:/Sent: block, 'On … wrote:'
    or a forward marker to the end: the quoted message below a top-posted reply).

    The same detection the snippets use; signatures are text. A reader folds the non-text runs.
    """
    lines = text.split("\n")
    runs: list[tuple[str, list[str]]] = []

    def add(kind: str, line: str) -> None:
        if runs and runs[-1][0] == kind:
            runs[-1][1].append(line)
        else:
            runs.append((kind, [line]))

    index = 0
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith(">"):
            add("quote", line)
        elif _SIGNATURE.match(line.strip()) or not quote_starts(lines, index):
            # Blank lines between an attribution and its quote, or inside one, stay with it.
            add("quote" if not line.strip() and runs and runs[-1][0] == "quote" and quoted_below(lines, index)
                else "text", line)
        elif quoted_below(lines, index):
            add("quote", line)  # "On … wrote:" over a '>' block (bottom posting)
        elif index + 1 < len(lines) and quoted_below(lines, index + 1):
            add("quote", line)  # the same attribution wrapped over two lines
            add("quote", lines[index + 1])
            index += 1
        else:
            for rest in lines[index:]:
                add("history", rest)
            break
        index += 1
    return runs
