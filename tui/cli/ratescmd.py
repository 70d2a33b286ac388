"""Provides `rapport rates` (the base currency and its exchange rates) and `rapport rates set`."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    """Add `rapport rates [set CODE RATE]` to `subparsers` (it exports nothing)."""
    from rapport.tui.cli.main import add_home_option

    rates = subparsers.add_parser(
        "rates",
        help="the base currency and exchange rates totals are converted with",
        description="Without an action: the base currency, each rate with the day it was set, "
        "and the book's currencies that have none.",
    )
    add_home_option(rates)
    rates.set_defaults(handler=run_rates)
    actions = rates.add_subparsers(dest="rates_action", metavar="ACTION")
    set_rate = actions.add_parser(
        "set",
        help="set the value of one unit of a currency in the base currency",
        description="Write CODE = { rate = RATE, date = DAY } into [money] rates of config.toml "
        "(its comments are kept). The base currency is written too when config.toml names none.",
    )
    add_home_option(set_rate)
    set_rate.add_argument("currency", metavar="CODE", help="ISO 4217 code, e.g. USD")
    set_rate.add_argument("rate", metavar="RATE", help="value of one unit in the base currency")
    set_rate.add_argument("--date", metavar="YYYY-MM-DD", help="the day of the rate (default today)")
    set_rate.set_defaults(handler=run_rates_set)


def run_rates(args: argparse.Namespace) -> int:
    from rapport.store.money.rates import book_currencies, exchange_for
    from rapport.tui.cli.common import open_ws

    opened = open_ws(args)
    try:
        exchange = exchange_for(opened.db, opened.config.money)
        used = dict(book_currencies(opened.db))
    finally:
        opened.close()
    base = exchange.base
    how = "set in config.toml" if exchange.base_configured else (
        "the book's most used currency; not set in config.toml" if used else
        "the default; not set in config.toml")
    print(f"Base currency: {base} ({how})")
    rows = [("Currency", f"1 unit in {base}", "Set on", "Deals"), (base, "1", "base", str(used.get(base, 0)))]
    rows += [(r.currency, str(r.rate), r.set_on.isoformat() if r.set_on else "not given",
              str(used.get(r.currency, 0))) for r in exchange.used_rates]
    missing = exchange.missing(list(used))
    rows += [(code, "no rate", "", str(used[code])) for code in missing]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip())
    if missing:
        deals = sum(used[code] for code in missing)
        print(f"{deals} deal{'s' if deals != 1 else ''} in {', '.join(missing)} "
              f"{'is' if deals == 1 else 'are'} in no total: rapport rates set {missing[0]} RATE")
    return 0


def run_rates_set(args: argparse.Namespace) -> int:
    from rapport.store.errors import InputError
    from rapport.store.money.ratefile import set_rate
    from rapport.store.money.rates import exchange_for
    from rapport.tui.cli.common import open_ws

    day = date.today()
    if args.date:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            raise InputError(f"bad date {args.date!r} (use YYYY-MM-DD)") from None
    opened = open_ws(args)
    try:
        base = exchange_for(opened.db, opened.config.money).base
        path = opened.workspace.config_path
        code = set_rate(path, args.currency, args.rate, base=base, day=day)
    finally:
        opened.close()
    print(f"1 {code} = {args.rate.strip()} {base} (set {day.isoformat()}) in {path}")
    return 0
