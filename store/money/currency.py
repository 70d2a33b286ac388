"""Provides ISO 4217 currency codes and exact amounts in them (Decimal, minor units).

The code list and each currency's minor digits (EUR 2, JPY 0, BHD 3) come from the `iso4217`
package, which ships ISO's own table; a hand-written copy would drift as ISO amends it.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from rapport.store.errors import InputError

# Minor digits assumed for a code a workspace holds from before codes were checked.
_FALLBACK_DIGITS = 2


_ENTRY = re.compile(r"<CcyNtry>(.*?)</CcyNtry>", re.S)
_FIELD = re.compile(r"<(Ccy|CcyNbr|CcyMnrUnts)>\s*([^<]*?)\s*</")


def _digits_from_table(xml: str) -> dict[str, int]:
    """ISO's table as the iso4217 package reads it (a code's first entry; entries without a
    number are no currency; 'N.A.' minor units: none), without building its Enum (~10 ms)."""
    first: dict[str, tuple[str | None, str | None]] = {}
    for entry in _ENTRY.finditer(xml):
        fields = dict(_FIELD.findall(entry.group(1)))
        if "Ccy" in fields:
            first.setdefault(fields["Ccy"], (fields.get("CcyNbr"), fields.get("CcyMnrUnts")))
    return {code: int(units) for code, (number, units) in first.items()
            if number is not None and units is not None and units.isdigit()}


@cache
def _digits_by_code() -> dict[str, int]:
    # Funds, precious metals and test codes (XAU, XTS...) have no minor unit: no deal is in them.
    # The package's own table.xml, read directly: importing iso4217 builds an Enum of every
    # currency, 10 ms of each command and of the TUI's launch. tests/test_money.py checks the two
    # agree; the Enum stays the way in when the file cannot be read.
    spec = find_spec("iso4217")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        try:
            table = _digits_from_table(Path(folder, "table.xml").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if table:
            return table
    return _digits_from_enum()


def _digits_from_enum() -> dict[str, int]:
    from iso4217 import Currency

    return {c.code: c.exponent for c in Currency if c.exponent is not None}


def check_currency(currency: Any) -> str:
    """`currency` as an upper-case ISO 4217 code ('usd' -> 'USD'); InputError otherwise."""
    code = str(currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise InputError(f"currency {currency!r} must be a 3-letter ISO 4217 code like EUR")
    if code not in _digits_by_code():
        raise InputError(f"currency {code!r} is not an ISO 4217 currency code")
    return code


def minor_digits(currency: str) -> int:
    """Digits after the decimal mark: EUR 2, JPY 0, BHD 3 (2 for an unchecked old code)."""
    return _digits_by_code().get(currency.upper(), _FALLBACK_DIGITS)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_digits(currency))


def to_decimal(value: Any, what: str = "value") -> Decimal:
    """A number or its text as an exact Decimal (a float by its shortest text: 0.1 is 0.1)."""
    if isinstance(value, bool):
        raise InputError(f"{what} {value!r} is not a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{what} {value!r} is not a finite number")
        value = repr(value)
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise InputError(f"{what} {value!r} is not a number") from exc
    if not number.is_finite():
        raise InputError(f"{what} {value!r} is not a finite number")
    return number


def exact_amount(value: Any, currency: str) -> Decimal:
    """`value` in `currency`, refused (InputError) when negative or finer than its minor unit
    (12.345 EUR, 100.5 JPY): a deal's value is stored exactly, never rounded behind the user's
    back."""
    number = to_decimal(value)
    if number < 0:
        raise InputError(f"value {value!r} must be a positive amount")
    exact = number.quantize(quantum(currency))
    if exact != number:
        digits = minor_digits(currency)
        raise InputError(f"value {value!r} has more decimals than {currency} has ({digits})")
    return exact


def to_minor(amount: Decimal, currency: str) -> int:
    """The whole number of minor units (cents) of an exact amount."""
    return int(amount.scaleb(minor_digits(currency)).to_integral_value())


def from_minor(units: int, currency: str) -> Decimal:
    return Decimal(int(units)).scaleb(-minor_digits(currency)).quantize(quantum(currency))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """`amount` to the minor unit of `currency`, half to even (a total or a weighted value)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN)


def format_amount(amount: Decimal, currency: str, *, digits: int | None = None) -> str:
    """'12,500.50' for EUR, '1,250,000' for JPY; `digits` overrides the currency's (narrow panes)."""
    places = minor_digits(currency) if digits is None else digits
    return f"{amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):,.{places}f}"


def json_amount(amount: Decimal, currency: str) -> int | float:
    """A rounded amount as a JSON number: an int for JPY, else a float whose shortest text is
    the exact decimal figure (12500.5): json has no decimal type."""
    exact = rounded(amount, currency)
    return int(exact) if minor_digits(currency) == 0 else float(exact)
