"""Tests parse_due_date: every accepted form, and refusals in one line."""

from __future__ import annotations

from datetime import date

import pytest

from rapport.store.book.dates import parse_due_date
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
        ("next fri", date(2026, 11, 27)),
        ("wed", date(2026, 11, 25)),
        ("tomorrow", date(2026, 11, 19)),
        ("today", TODAY),
        ("  Tomorrow ", date(2026, 11, 19)),
    ],
)
def test_accepted_forms(text: str, expected: date) -> None:
    assert parse_due_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["", "soon", "2026-13-40", "+3x", "32 dec", "fr", "next", "[bold]"])
def test_refused_in_one_line(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_due_date(text, TODAY)
    assert "\n" not in str(caught.value) and "not a date" in str(caught.value)
