"""Provides the Jinja2 filters templates use for dates, money and first names."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from dateutil import parser as date_parser

# Symbols for the currencies account managers quote most; others print their ISO code.
from rapport.store.errors import InputError
from rapport.store.money.currency import format_amount, minor_digits, to_decimal

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def _as_date(value: Any) -> date | datetime:
    """Dates and datetimes as they are; text through dateutil (ISO, '2026-11-02T10:00:00Z', RFC 2822)."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date_parser.parse(value)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"date filter: cannot read {value!r} as a date") from exc
    raise ValueError(f"date filter: {value!r} is not a date")


def format_date(value: Any, fmt: str = "%-d %B %Y") -> str:
    """`{{ deal.expected_close | date("%d/%m/%Y") }}`; strftime codes, dateutil parsing."""
    return _as_date(value).strftime(fmt)


def add_days(value: Any, days: int) -> date | datetime:
    """`{{ today | add_days(2) }}`: a date `days` later (negative: earlier)."""
    return _as_date(value) + timedelta(days=int(days))


def money(value: Any, currency: str = "EUR", decimals: int | None = None) -> str:
    """`{{ deal.value | money(deal.currency) }}` -> '€12,500.00', '¥1,250,000' (the currency's
    own minor digits unless `decimals` is given; ISO code when no symbol). Exact: Decimal."""
    code = (currency or "").upper()
    try:
        amount = to_decimal(value or 0)
    except InputError:
        return str(value)
    places = minor_digits(code) if decimals is None else int(decimals)
    number = format_amount(amount, code, digits=places)
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol:
        return f"-{symbol}{number[1:]}" if number.startswith("-") else f"{symbol}{number}"
    return f"{number} {code}".strip()


def first_name(value: Any) -> str:
    """'Jane Doe' -> 'Jane'; 'Doe, Jane' -> 'Jane'; 'jane.doe@x.com' -> 'Jane'; '' -> ''."""
    text = str(value or "").strip().strip('"').strip()
    if not text:
        return ""
    if "@" in text and " " not in text:
        local = text.split("@", 1)[0]
        text = local.replace(".", " ").replace("_", " ").replace("-", " ")
        parts = text.split()
        return parts[0].capitalize() if parts else ""
    if "," in text:
        after = text.split(",", 1)[1].strip()
        text = after or text.split(",", 1)[0]
    return text.split()[0]


FILTERS = {
    "date": format_date,
    "add_days": add_days,
    "money": money,
    "first_name": first_name,
}
