"""Tests parse_due_date: every accepted form, and refusals in one line."""

from __future__ import annotations

from datetime import date, time

import pytest

from rapport.store.book.dates import describe_when, parse_due_date, parse_when
from rapport.store.errors import InputError

TODAY = date(2026, 11, 18)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03", date(2026, 12, 3)),
        ("3 dec", date(2026, 12, 3)),
        ("3 jan", date(2027, 1, 3)),
        ("+3d", date(2026, 11, 21)),
        ("+2w", date(2026, 12, 2)),
        ("fri", date(2026, 11, 20)),
        ("next fri", date(2026, 11, 20)),  # the coming Friday, as "fri"
        ("next friday", date(2026, 11, 20)),
        ("in 3 days", date(2026, 11, 21)),
        ("in 2 weeks", date(2026, 12, 2)),
        ("in 1 month", date(2026, 12, 18)),
        ("tomorrow 10am", date(2026, 11, 19)),
        ("fri 14:30", date(2026, 11, 20)),
        ("end of month", date(2026, 11, 30)),
        ("wed", date(2026, 11, 25)),
        ("tomorrow", date(2026, 11, 19)),
        ("today", TODAY),
        ("  Tomorrow ", date(2026, 11, 19)),
    ],
)
def test_accepted_forms(text: str, expected: date) -> None:
    assert parse_due_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["", "soon", "2026-13-40", "+3x", "32 dec", "fr", "next", "[bold]",
                                  "in 3 lightyears", "tomorrow 25pm", "10am"])
def test_refused_in_one_line(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_due_date(text, TODAY)
    assert "\n" not in str(caught.value) and "not a date" in str(caught.value)


def test_times_and_read_back() -> None:
    assert parse_when("tomorrow 10am", TODAY) == (date(2026, 11, 19), time(10, 0))
    assert parse_when("in 2 weeks", TODAY) == (date(2026, 12, 2), None)
    assert describe_when("tomorrow 10am", TODAY) == "Thu 19 Nov 2026 10:00 (tomorrow)"
    assert describe_when("next friday", TODAY) == "Fri 20 Nov 2026 (in 2 days)"
    assert describe_when("end of month", date(2026, 2, 3)) == "Sat 28 Feb 2026 (in 25 days)"
