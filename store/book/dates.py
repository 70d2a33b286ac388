"""Provides `parse_due_date`: the short due-date forms typed in the TUI and CLI."""

from __future__ import annotations

import re
from datetime import date, datetime

from dateutil import parser as date_parser
from dateutil.relativedelta import FR, MO, SA, SU, TH, TU, WE, relativedelta

from rapport.store.errors import InputError

_WEEKDAYS = {"mon": MO, "tue": TU, "wed": WE, "thu": TH, "fri": FR, "sat": SA, "sun": SU}
_OFFSET = re.compile(r"^\+(\d{1,4})([dw])$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_MONTH = re.compile(r"^\d{1,2} [a-z]{3,9}$")
HELP = "use 2026-12-03, 3 dec, +3d, +2w, fri, next fri, tomorrow or today"


def _weekday(word: str, today: date, *, skip_week: bool) -> date | None:
    key = word[:3]
    if key not in _WEEKDAYS or not _is_weekday_name(word):
        return None
    # "fri" is the coming Friday (never today); "next fri" the one after it.
    day = today + relativedelta(days=1, weekday=_WEEKDAYS[key](+1))
    return day + relativedelta(weeks=1) if skip_week else day


def _is_weekday_name(word: str) -> bool:
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return any(name.startswith(word) and len(word) >= 3 for name in names)


def parse_due_date(text: str, today: date) -> date:
    """`text` as a date relative to `today`; InputError (one line) for anything else."""
    word = " ".join(text.strip().lower().split())
    if word == "today":
        return today
    if word == "tomorrow":
        return today + relativedelta(days=1)
    offset = _OFFSET.match(word)
    if offset:
        count = int(offset.group(1))
        return today + (relativedelta(days=count) if offset.group(2) == "d" else relativedelta(weeks=count))
    skip = word.startswith("next ")
    day = _weekday(word[5:] if skip else word, today, skip_week=skip)
    if day is not None:
        return day
    if _ISO.match(word) or _DAY_MONTH.match(word):
        try:
            if _DAY_MONTH.match(word) and int(word.split()[0]) > 31:
                raise ValueError(word)
            result = date_parser.parse(word, default=datetime(today.year, 1, 1), dayfirst=not _ISO.match(word)).date()
        except (ValueError, OverflowError):
            raise InputError(f"not a date: {text.strip()!r} ({HELP})") from None
        # "3 dec" without a year means the next 3 Dec, not one already past.
        if _DAY_MONTH.match(word) and result < today:
            result = result.replace(year=result.year + 1)
        return result
    raise InputError(f"not a date: {text.strip()!r} ({HELP})")
