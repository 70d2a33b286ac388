"""Provides `parse_due_date`: the short date forms typed in the TUI and CLI, and how they read back.

The grammar (small on purpose; dateutil does the calendar work):
  today, tomorrow, 2026-12-03, 3 dec, +3d, +2w, in 3 days, in 2 weeks, in 1 month,
  fri / friday / next fri (all: the coming Friday, never today), end of month,
  and any of these followed by a time of day (tomorrow 10am, fri 14:30).
Due dates are days: a time is accepted, shown back, and not stored.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from dateutil import parser as date_parser
from dateutil.relativedelta import FR, MO, SA, SU, TH, TU, WE, relativedelta

from rapport.store.errors import InputError

_WEEKDAYS = {"mon": MO, "tue": TU, "wed": WE, "thu": TH, "fri": FR, "sat": SA, "sun": SU}
_OFFSET = re.compile(r"^\+(\d{1,4})([dw])$")
_IN = re.compile(r"^in (\d{1,4}) (day|week|month)s?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_MONTH = re.compile(r"^\d{1,2} [a-z]{3,9}$")
_TIME = re.compile(r"^(?:at )?(\d{1,2}(?::\d{2})?\s*(?:am|pm)?)$")
HELP = ("use 2026-12-03, 3 dec, +3d, in 3 days, in 2 weeks, fri, next fri, tomorrow 10am, "
        "end of month or today")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _weekday(word: str, today: date) -> date | None:
    key = word[:3]
    if key not in _WEEKDAYS or not _is_weekday_name(word):
        return None
    # "fri" and "next fri" are the coming Friday (never today): what people mean by both.
    return today + relativedelta(days=1, weekday=_WEEKDAYS[key](+1))


def _is_weekday_name(word: str) -> bool:
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return any(name.startswith(word) and len(word) >= 3 for name in names)


def _split_time(word: str) -> tuple[str, time | None]:
    """'tomorrow 10am' -> ('tomorrow', 10:00); the date part alone when no time ends the text."""
    parts = word.rsplit(" ", 2)
    for take in (2, 1):
        if len(parts) > take:
            tail = " ".join(parts[-take:])
            found = _TIME.match(tail)
            if found and (":" in tail or "am" in tail or "pm" in tail):
                try:
                    moment = date_parser.parse(found.group(1), default=datetime(2000, 1, 1))
                except (ValueError, OverflowError):
                    return word, None
                return " ".join(parts[:-take]), moment.time()
    return word, None


def _day(word: str, today: date, text: str) -> date:
    if word == "today":
        return today
    if word == "tomorrow":
        return today + relativedelta(days=1)
    if word == "end of month":
        return today + relativedelta(day=31)
    offset = _OFFSET.match(word)
    if offset:
        count = int(offset.group(1))
        return today + (relativedelta(days=count) if offset.group(2) == "d" else relativedelta(weeks=count))
    within = _IN.match(word)
    if within:
        count, unit = int(within.group(1)), within.group(2)
        step = {"day": relativedelta(days=1), "week": relativedelta(weeks=1),
                "month": relativedelta(months=1), "year": relativedelta(years=1)}[unit]
        return today + step * count
    day = _weekday(word.removeprefix("next "), today)
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


def parse_when(text: str, today: date) -> tuple[date, time | None]:
    """`text` as a day relative to `today` and the time of day it gave, if any; InputError (one line)."""
    word = " ".join(text.strip().lower().split())
    word, moment = _split_time(word)
    return _day(word, today, text), moment


def parse_due_date(text: str, today: date) -> date:
    """`text` as a date relative to `today`; InputError (one line) for anything else."""
    return parse_when(text, today)[0]


def describe_when(text: str, today: date) -> str:
    """How `text` reads back before it is saved: 'Fri 11 Dec 2026 10:00 (in 6 days)'."""
    day, moment = parse_when(text, today)
    shown = f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"
    if moment is not None:
        shown += f" {moment:%H:%M}"
    gap = (day - today).days
    relative = {0: "today", 1: "tomorrow", -1: "yesterday"}.get(
        gap, f"in {gap} days" if gap > 0 else f"{-gap} days ago")
    return f"{shown} ({relative})"
