"""Provides `Period`, the span a report covers, and parsing of `--month` / `--from` / `--to`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from rapport.store.errors import InputError

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
# The end bound is exclusive (the day after the period), so it must still be a date.
FIRST_DAY = date.min
LAST_DAY = date.max - timedelta(days=1)
_RANGE = f"reports cover {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"


@dataclass(frozen=True)
class Period:
    """Whole UTC days from `start` to `end`, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end > LAST_DAY:
            raise InputError(f"{self.end.isoformat()} is out of range: {_RANGE}")

    @property
    def start_utc(self) -> str:
        return f"{self.start.isoformat()}T00:00:00Z"

    @property
    def end_utc(self) -> str:
        """The first moment after the period (exclusive bound, same text form as the store)."""
        return f"{(self.end + timedelta(days=1)).isoformat()}T00:00:00Z"

    @property
    def label(self) -> str:
        if self.start.day == 1 and self.end == _month_end(self.start):
            return self.start.strftime("%Y-%m")
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    @property
    def is_month(self) -> bool:
        return self.start.day == 1 and self.end == _month_end(self.start)

    def shifted(self, months: int) -> Period:
        """The month `months` away (for a whole-month period) or the same-length span next to it."""
        if self.is_month:
            return month_period(_add_months(self.start, months))
        length = (self.end - self.start).days + 1
        offset = timedelta(days=length * months)
        try:
            return Period(self.start + offset, self.end + offset)
        except OverflowError:
            raise InputError(f"that period is out of range: {_RANGE}") from None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    if not FIRST_DAY.year <= index // 12 <= LAST_DAY.year:
        raise InputError(f"that month is out of range: {_RANGE}")
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _add_months(day, 1) - timedelta(days=1)


def month_period(day: date) -> Period:
    """The calendar month containing `day`."""
    first = day.replace(day=1)
    return Period(first, _month_end(first))


def parse_month(text: str) -> Period:
    """`YYYY-MM` to that month; anything else is one InputError line."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise InputError(f"--month {text!r}: expected YYYY-MM, e.g. 2026-03")
    try:
        return month_period(date(int(match.group(1)), int(match.group(2)), 1))
    except InputError:
        raise InputError(f"--month {text!r} is out of range: {_RANGE}") from None


def _parse_day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{option} {text!r}: expected a date YYYY-MM-DD") from None


def parse_period(*, month: str | None, start: str | None, end: str | None, today: date) -> Period:
    """The period named by the report options; the current month when none is given."""
    if month is not None and (start is not None or end is not None):
        raise InputError("give either --month or --from/--to, not both")
    if month is not None:
        return parse_month(month)
    if start is None and end is None:
        return month_period(today)
    if start is None or end is None:
        raise InputError("--from and --to go together (or use --month YYYY-MM)")
    first, last = _parse_day("--from", start), _parse_day("--to", end)
    if last > LAST_DAY:
        raise InputError(f"--to {end!r} is out of range: {_RANGE}")
    if last < first:
        raise InputError(f"--to {last.isoformat()} is before --from {first.isoformat()}")
    return Period(first, last)
