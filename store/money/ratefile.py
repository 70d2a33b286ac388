"""Provides `set_rate`: writes one exchange rate into config.toml, keeping the rest as it is.

tomlkit edits the parsed document in place, so the user's comments, key order and spacing
survive; the file is then checked by the config loader before it replaces the old one.
"""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable, Table

from rapport.store.errors import ConfigError, InputError
from rapport.store.money.currency import check_currency
from rapport.store.money.rates import check_rate, parse_money
from rapport.store.workspace import write_private_file

_MONEY_COMMENT = (
    "Totals are shown in `base`; each rate is the value of one unit in it\n"
    "(`rapport rates set USD 0.92` writes one, with the day it was set)."
)


def _rate_number(rate: Decimal) -> float | str:
    # A float when its shortest text is the rate itself (0.0061), else the exact text.
    as_float = float(rate)
    return as_float if Decimal(repr(as_float)) == rate else str(rate)


def set_rate(path: Path, currency: str, rate_text: str, *, base: str, day: date) -> str:
    """Write `currency = { rate = ..., date = day }` into [money] rates of `path`; returns the
    code written. `base` (the one in force) is written too when config.toml names none: a rate
    means nothing without the currency it is counted in."""
    code = check_currency(currency)
    rate = check_rate(rate_text, code)
    if code == base:
        raise InputError(f"{code} is the base currency: its rate is 1")
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    money = document.get("money")
    if money is None:
        money = tomlkit.table()
        for line in _MONEY_COMMENT.splitlines():
            money.add(tomlkit.comment(line))
        document.add(tomlkit.nl())
        document.add("money", money)
    elif not isinstance(money, Table | InlineTable):
        raise ConfigError(f"{path}: [money] must be a table")
    if "base" not in money:
        money["base"] = base
    rates = money.get("rates")
    if rates is None:
        rates = tomlkit.table()  # [money.rates]: one line per currency
        money["rates"] = rates
    elif not isinstance(rates, Table | InlineTable):
        raise ConfigError(f"{path}: [money] rates must be a table like {{ USD = 0.92 }}")
    entry = tomlkit.inline_table()
    entry.update({"rate": _rate_number(rate), "date": day})
    rates[code] = entry
    new_text = tomlkit.dumps(document)
    parse_money(tomllib.loads(new_text).get("money"))  # never write what the loader refuses
    write_private_file(path, new_text)
    return code
