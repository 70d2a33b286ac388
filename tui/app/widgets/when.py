"""Provides how lists show dates: `09:30` today, `18 Nov` this year, `2025-11-18` before (as aerc and neomutt do).

Times are stored in UTC (store/timeutil.py) and shown in the terminal's local time: a person reads them.
"""

from __future__ import annotations

from datetime import date, datetime

from rapport.store.timeutil import parse_utc_text

WIDTH = 10  # the widest form, 2025-11-18: list columns are this wide
# Not strftime's %b: that follows the C library's locale, and the lists must not change with it.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _local(utc_text: str) -> datetime | None:
    try:
        return parse_utc_text(utc_text).astimezone()
    except ValueError:
        return None


def short_day(day: date | str | None, today: date) -> str:
    """A date: 'today', '18 Nov' in this year, '2025-11-18' in any other ('' for none)."""
    if isinstance(day, str):
        try:
            parsed = date.fromisoformat(day[:10])
        except ValueError:
            return day
        day = parsed
    if day is None:
        return ""
    if day == today:
        return "today"
    if day.year == today.year:
        return f"{day.day} {_MONTHS[day.month - 1]}"
    return day.isoformat()


def short_moment(utc_text: str, today: date) -> str:
    """A stored UTC time: '09:30' (local) when it is today, else its day as `short_day` shows it."""
    moment = _local(utc_text)
    if moment is None:
        return utc_text[:WIDTH]
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return short_day(moment.date(), today)


def long_moment(utc_text: str) -> str:
    """A stored UTC time in full, local: 'Wed 18 Nov 2026 09:30 +0100' (the reader's header)."""
    moment = _local(utc_text)
    if moment is None:
        return utc_text
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[moment.weekday()]
    return (f"{weekday} {moment.day} {_MONTHS[moment.month - 1]} {moment.year} "
            f"{moment:%H:%M} {moment:%z}")
