"""Provides the field rules of the book: one parser per field, shared by the importers and the forms.

A CSV cell and a form field of the same name go through the same function here, so `rapport
import`, `rapport add` and the TUI's forms accept and refuse the same things with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from dateutil import parser as dateparser

from rapport.store.book.accounts import normalize_domain
from rapport.store.book.contacts import normalize_email
from rapport.store.book.dates import parse_due_date
from rapport.store.book.deals import check_probability
from rapport.store.book.stages import Pipeline
from rapport.store.errors import InputError
from rapport.store.money.currency import to_decimal

_TRUE = {"1", "yes", "y", "true", "t", "x", "opted out", "opt-out", "optout"}
_FALSE = {"", "0", "no", "n", "false", "f"}
# Two defaults that differ in year, month and day: a part the text leaves out shows as a
# difference between the two readings (dateutil fills missing parts from the default).
_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))
# A '.' then groups of exactly three digits, nothing else: '12.500', '1.234.567'.
_DOT_THOUSANDS = re.compile(r"\d+(\.\d{3})+")


def parse_date_cell(text: str, column: str) -> date | None:
    """A calendar date with year, month and day: 2026-03-01, 1 Mar 2026, 03/01/2026, 1.3.2026
    or an ISO date-time; '' is None. '1 Mar', 'March', 'monday', '12:30' or '99' are refused."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    # 01.02.2026 is 1 February wherever dots are written (Germany, Poland...).
    dayfirst = re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{2,4}", text) is not None
    try:
        first, second = (dateparser.parse(text, default=d, dayfirst=dayfirst).date()
                         for d in _DEFAULTS)
    except (ValueError, OverflowError, TypeError):
        raise InputError(f"bad date {text!r} in {column}") from None
    if first != second:
        raise InputError(f"bad date {text!r} in {column} (needs a day, a month and a year)")
    return first


def parse_typed_date(text: str, today: date) -> date | None:
    """A date typed by hand (forms, `rapport add`): the due-date grammar (`fri`, `in 2 weeks`,
    `2026-12-03`...), else any full date a file may hold (`03/01/2026`); '' is None."""
    if not text.strip():
        return None
    try:
        return parse_due_date(text, today)
    except InputError as first:
        try:
            return parse_date_cell(text, "date")
        except InputError:
            raise first from None


def parse_amount(text: str, column: str = "value", *, european: bool = False) -> Decimal:
    """`12500`, `12,500.50`, `12.500,50`, `€ 1 200` -> an exact Decimal (whether the deal's
    currency has that many decimals is checked with the currency, when the deal is written).

    `european` (a ';'-separated file, as spreadsheets write where ',' is the decimal mark):
    `12.500` is 12500 and a lone ',' is the decimal mark (`12,5`, `1,234`). Elsewhere a '.'
    is the decimal mark and ',' before three digits groups thousands (`1,234` is 1234).
    """
    clean = re.sub(r"[\s_'€$£]|[A-Za-z]{3}$|^[A-Za-z]{3}", "", text.strip())
    if "," in clean and "." in clean:
        if clean.rfind(",") > clean.rfind("."):
            clean = clean.replace(".", "").replace(",", ".")
        else:
            clean = clean.replace(",", "")
    elif "," in clean:
        head, _, tail = clean.rpartition(",")
        decimal = european or len(tail) != 3
        clean = f"{head.replace(',', '')}.{tail}" if decimal else clean.replace(",", "")
    elif european and _DOT_THOUSANDS.fullmatch(clean):
        clean = clean.replace(".", "")
    try:
        amount = to_decimal(clean)
    except InputError:
        raise InputError(f"bad amount {text!r} in {column}") from None
    if amount < 0:
        raise InputError(f"bad amount {text!r} in {column} (must be positive)")
    return amount


def parse_flag(text: str, column: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"bad {column} {text!r} (use yes or no)")


def parse_probability(text: str) -> float | None:
    """`40`, `40 %` -> 40.0; '' is None (the stage's default)."""
    clean = text.strip().rstrip("% ")
    return check_probability(clean) if clean else None


def parse_stage(text: str, pipeline: Pipeline, *, open_only: bool = False) -> str:
    """The configured stage named `text` (any case); `open_only` refuses won and lost stages."""
    found = pipeline.get(text)
    if found is None:
        raise InputError(f"unknown stage {text.strip()!r} (stages: {', '.join(pipeline.names)})")
    if open_only and found.kind != "open":
        raise InputError(f"{found.name!r} is a {found.kind} stage: mark the deal {found.kind} instead")
    return found.name


def _split(text: str, pattern: str, normalize: Callable[[str], str]) -> list[str]:
    found: list[str] = []
    problems: list[str] = []
    for part in re.split(pattern, text):
        if not part:
            continue
        try:
            value = normalize(part)
        except InputError as exc:
            problems.append(exc.message)
            continue
        if value not in found:
            found.append(value)
    if problems:
        raise InputError("; ".join(problems))
    return found


def split_domains(text: str) -> list[str]:
    """'acme.example; acme.co.uk' -> both, normalized; every bad one named."""
    return _split(text, r"[;,\s]+", normalize_domain)


def split_emails(text: str) -> list[str]:
    return _split(text, r"[;,\s]+", normalize_email)
