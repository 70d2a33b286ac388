"""Provides the base currency and its exchange rates: `[money]` in config.toml, and conversion.

`rates` give the value of one unit of a currency in the base currency (USD = 0.92 with base EUR:
one dollar is 0.92 euros). A rate is a number, or `{ rate = 0.92, date = 2026-12-05 }` with the
day it was set (`rapport rates set` writes that form). Without `base`, the base is the book's most
used currency, else EUR. Amounts are Decimals end to end: a converted value is exact, and totals
are rounded once, to the base currency's minor unit, where they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rapport.store.errors import ConfigError, InputError
from rapport.store.money.currency import check_currency, to_decimal

if TYPE_CHECKING:
    from sqlite_utils import Database

DEFAULT_BASE = "EUR"
MONEY_KEYS = ("base", "rates")
RATE_KEYS = ("rate", "date")


@dataclass(frozen=True)
class Rate:
    """One unit of `currency` is worth `rate` in the base currency (set on `set_on`, if known)."""

    currency: str
    rate: Decimal
    set_on: date | None = None


@dataclass(frozen=True)
class MoneySettings:
    """`[money]` as configured: `base` is None when config.toml names none."""

    base: str | None = None
    rates: tuple[Rate, ...] = ()


def check_rate(value: Any, currency: str) -> Decimal:
    """A rate as an exact positive Decimal; InputError otherwise."""
    try:
        rate = to_decimal(value, f"rate for {currency}")
    except InputError:
        raise InputError(f"rate for {currency} must be a number, not {value!r}") from None
    if rate <= 0:
        raise InputError(f"rate for {currency} must be more than 0, not {value!r}")
    return rate


def _rate(code: Any, entry: Any) -> Rate:
    try:
        currency = check_currency(code)
    except InputError as exc:
        raise ConfigError(f"[money] rates: {exc.message}") from None
    set_on = None
    if isinstance(entry, dict):
        unknown = [key for key in entry if key not in RATE_KEYS]
        if unknown:
            raise ConfigError(f"[money] rates: unknown key {unknown[0]!r} in {currency}; "
                              f"known keys: {', '.join(RATE_KEYS)}")
        set_on = entry.get("date")
        if set_on is not None and (not isinstance(set_on, date) or hasattr(set_on, "hour")):
            raise ConfigError(f"[money] rates: {currency} date must be a day like 2026-12-05")
        entry = entry.get("rate")
    if isinstance(entry, bool) or not isinstance(entry, int | float | str):
        raise ConfigError(f"[money] rates: {currency} must be a number, not {entry!r}")
    try:
        return Rate(currency, check_rate(entry, currency), set_on)
    except InputError as exc:
        raise ConfigError(f"[money] {exc.message}") from None


def parse_money(raw: Any) -> MoneySettings:
    """`[money]` from parsed TOML; ConfigError (one line) for anything impossible."""
    if raw is None:
        return MoneySettings()
    if not isinstance(raw, dict):
        raise ConfigError("[money] must be a table")
    unknown = [key for key in raw if key not in MONEY_KEYS]
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [money]; known keys: {', '.join(MONEY_KEYS)}")
    base = None
    if raw.get("base") is not None:
        try:
            base = check_currency(raw["base"])
        except InputError as exc:
            raise ConfigError(f"[money] base: {exc.message}") from None
    rates_raw = raw.get("rates", {})
    if not isinstance(rates_raw, dict):
        raise ConfigError("[money] rates must be a table like { USD = 0.92 }")
    rates = [_rate(code, entry) for code, entry in rates_raw.items()]
    seen: set[str] = set()
    for rate in rates:
        if rate.currency in seen:
            raise ConfigError(f"[money] rates: {rate.currency} is given twice")
        seen.add(rate.currency)
    return MoneySettings(base, tuple(sorted(rates, key=lambda r: r.currency)))


@dataclass(frozen=True)
class Exchange:
    """The base currency in force and the rates into it: converts amounts, or says it cannot."""

    base: str = DEFAULT_BASE
    rates: tuple[Rate, ...] = ()
    base_configured: bool = False  # False: the book's most used currency, or the default

    def rate_of(self, currency: str) -> Decimal | None:
        """The value of one unit of `currency` in the base (1 for the base), None without rate."""
        if currency == self.base:
            return Decimal(1)
        return next((r.rate for r in self.rates if r.currency == currency), None)

    def to_base(self, amount: Decimal, currency: str) -> Decimal | None:
        """`amount` of `currency` in the base currency, exact (unrounded); None without a rate."""
        rate = self.rate_of(currency)
        return None if rate is None else amount * rate

    def missing(self, currencies: set[str] | list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """The ones of `currencies` that have no rate, sorted."""
        return tuple(sorted(c for c in set(currencies) if self.rate_of(c) is None))

    @property
    def used_rates(self) -> tuple[Rate, ...]:
        """The configured rates other than the base's own."""
        return tuple(r for r in self.rates if r.currency != self.base)


def book_currencies(db: Database) -> list[tuple[str, int]]:
    """(currency, deals) of the book, most used first (ties by code)."""
    return [(code, int(n)) for code, n in db.execute(
        "SELECT currency, count(*) AS n FROM deals GROUP BY currency ORDER BY n DESC, currency")]


def exchange_for(db: Database, settings: MoneySettings) -> Exchange:
    """The Exchange for a workspace: the configured base, else the book's most used currency."""
    if settings.base is not None:
        return Exchange(settings.base, settings.rates, True)
    used = book_currencies(db)
    return Exchange(used[0][0] if used else DEFAULT_BASE, settings.rates, False)
