"""Tests store/money (ISO codes, exact amounts, `[money]`), `rapport rates` and the importers'
currency cells, on real workspace files through the real CLI."""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from rapport.store.book import accounts, deals
from rapport.store.errors import ConfigError, InputError
from rapport.store.money.currency import (
    check_currency,
    exact_amount,
    format_amount,
    json_amount,
    minor_digits,
)
from rapport.store.money.rates import Exchange, Rate, exchange_for, parse_money
from rapport.store.session import open_workspace
from rapport.tui.cli.main import main


def run(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def test_codes_are_iso_4217_and_case_is_forgiven() -> None:
    assert [check_currency(c) for c in ("usd", " Jpy ", "EUR")] == ["USD", "JPY", "EUR"]
    for bad, needle in (("XYZ", "not an ISO 4217"), ("EURO", "3-letter"), ("", "3-letter"),
                        ("XAU", "not an ISO 4217")):  # gold has no minor unit: no deal is in it
        with pytest.raises(InputError, match=needle):
            check_currency(bad)
    assert (minor_digits("EUR"), minor_digits("JPY"), minor_digits("BHD")) == (2, 0, 3)


def test_amounts_are_exact_in_their_currencys_minor_unit() -> None:
    assert exact_amount("0.1", "EUR") + exact_amount(0.2, "EUR") == Decimal("0.30")
    assert exact_amount(1_000_000, "JPY") == Decimal(1_000_000)
    for value, code in (("12.345", "EUR"), ("100.5", "JPY"), (-1, "EUR"), ("abc", "EUR")):
        with pytest.raises(InputError):
            exact_amount(value, code)
    assert format_amount(Decimal("1250000"), "JPY") == "1,250,000"
    assert format_amount(Decimal("12500.5"), "EUR") == "12,500.50"
    assert format_amount(Decimal("1.2345"), "BHD") == "1.234"  # half to even
    assert (json_amount(Decimal("7.10"), "EUR"), json_amount(Decimal(700), "JPY")) == (7.1, 700)


def test_money_config_is_checked() -> None:
    money = parse_money(tomllib.loads(
        '[money]\nbase = "eur"\nrates = { usd = 0.92, JPY = { rate = 0.0061, date = 2026-12-01 } }\n'
    )["money"])
    assert money.base == "EUR"
    assert money.rates == (Rate("JPY", Decimal("0.0061"), date(2026, 12, 1)),
                           Rate("USD", Decimal("0.92"), None))
    for text, needle in (
        ('base = "EURO"', "base"),
        ("rates = { XYZ = 1.0 }", "not an ISO 4217"),
        ("rates = { USD = 0 }", "more than 0"),
        ('rates = { USD = "x" }', "must be a number"),
        ("rates = { USD = { rate = 1.0, when = 2026-01-01 } }", "unknown key 'when'"),
        ("rate = { USD = 1.0 }", r"unknown key 'rate' in \[money\]"),
    ):
        with pytest.raises(ConfigError, match=needle):
            parse_money(tomllib.loads(f"[money]\n{text}\n")["money"])


def test_exchange_converts_exactly_or_says_it_cannot() -> None:
    exchange = Exchange("EUR", (Rate("USD", Decimal("0.92")), Rate("JPY", Decimal("0.0061"))))
    assert exchange.to_base(Decimal("1000.50"), "USD") == Decimal("920.4600")
    assert exchange.to_base(Decimal(1_000_000), "JPY") == Decimal("6100.0000")
    assert exchange.to_base(Decimal(5), "EUR") == Decimal(5)
    assert exchange.to_base(Decimal(5), "GBP") is None
    assert exchange.missing(["EUR", "GBP", "USD", "CHF"]) == ("CHF", "GBP")


def test_base_defaults_to_the_books_most_used_currency(tmp_path: Path) -> None:
    opened = open_workspace(tmp_path / "ws")
    try:
        assert exchange_for(opened.db, parse_money(None)).base == "EUR"  # empty book
        client = accounts.create_account(opened.db, "Tokio").id
        for n, code in enumerate(["JPY", "JPY", "USD"]):
            deals.create_deal(opened.db, client, f"d{n}", "Prospect", value=100, currency=code,
                              pipeline=opened.config.pipeline)
        assert exchange_for(opened.db, parse_money(None)).base == "JPY"
        assert exchange_for(opened.db, parse_money({"base": "USD"})).base == "USD"
    finally:
        opened.close()


def test_a_currency_change_keeps_the_figure_or_refuses_it(tmp_path: Path) -> None:
    opened = open_workspace(tmp_path / "ws")
    try:
        client = accounts.create_account(opened.db, "Acme").id
        deal = deals.create_deal(opened.db, client, "d", "Prospect", value="100.50",
                                 pipeline=opened.config.pipeline)
        assert deals.update_deal(opened.db, deal.id, currency="usd").value == Decimal("100.50")
        with pytest.raises(InputError, match="more decimals than JPY"):
            deals.update_deal(opened.db, deal.id, currency="JPY")
        changed = deals.update_deal(opened.db, deal.id, value=100, currency="JPY")
        assert (changed.value, changed.currency) == (Decimal(100), "JPY")
        assert opened.db.execute("SELECT value_minor FROM deals").fetchall() == [(100,)]
    finally:
        opened.close()


def test_rates_set_writes_the_rate_and_its_day_keeping_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    assert run(home, "init") == 0 and run(home, "rates") == 0
    before = (home / "config.toml").read_text()
    assert run(home, "rates", "set", "usd", "0.92", "--date", "2026-12-01") == 0
    assert run(home, "rates", "set", "JPY", "0.0061", "--date", "2026-12-02") == 0
    assert run(home, "rates", "set", "USD", "0.93", "--date", "2026-12-03") == 0  # replaces
    text = (home / "config.toml").read_text()
    assert text.startswith(before)  # every comment and key of the default config kept
    money = tomllib.loads(text)["money"]
    assert money["base"] == "EUR"  # pinned: a rate means nothing without its base
    assert money["rates"] == {"USD": {"rate": 0.93, "date": date(2026, 12, 3)},
                              "JPY": {"rate": 0.0061, "date": date(2026, 12, 2)}}
    assert (home / "config.toml").stat().st_mode & 0o777 == 0o600
    capsys.readouterr()
    assert run(home, "rates") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Base currency: EUR (set in config.toml)"
    assert out[3].split() == ["JPY", "0.0061", "2026-12-02", "0"]
    assert out[4].split() == ["USD", "0.93", "2026-12-03", "0"]


@pytest.mark.parametrize(("args", "needle"), [
    (("XYZ", "1"), "'XYZ' is not an ISO 4217 currency code"),
    (("EUR", "1"), "EUR is the base currency"),
    (("USD", "-1"), "must be more than 0"),
    (("USD", "abc"), "must be a number"),
    (("USD", "1", "--date", "2026-02-30"), "bad date"),
])
def test_rates_set_refuses_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    home = tmp_path / "ws"
    assert run(home, "init") == 0 and run(home, "rates") == 0
    before = (home / "config.toml").read_text()
    capsys.readouterr()
    assert run(home, "rates", "set", *args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert (home / "config.toml").read_text() == before  # nothing half-written


def test_rates_lists_the_books_currencies_without_a_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    opened = open_workspace(home)
    try:
        client = accounts.create_account(opened.db, "Acme").id
        for n, code in enumerate(["EUR", "EUR", "GBP"]):
            deals.create_deal(opened.db, client, f"d{n}", "Prospect", value=1, currency=code,
                              pipeline=opened.config.pipeline)
    finally:
        opened.close()
    assert run(home, "rates") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Base currency: EUR (the book's most used currency; not set in config.toml)"
    assert out[2].split() == ["EUR", "1", "base", "2"]
    assert out[3].split() == ["GBP", "no", "rate", "1"]
    assert out[4] == "1 deal in GBP is in no total: rapport rates set GBP RATE"


def test_importers_accept_lower_case_codes_and_refuse_unknown_ones_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    good = tmp_path / "good.csv"
    good.write_text("account,title,stage,value,currency\n"
                    "Acme,Yen deal,Prospect,\"1,000,000\",jpy\nAcme,Dollar deal,Prospect,12.5,usd\n")
    opened = open_workspace(home)
    accounts.create_account(opened.db, "Acme")
    opened.close()
    assert run(home, "import", "deals", str(good)) == 0
    opened = open_workspace(home)
    found = {(d.title, d.value, d.currency) for d in deals.list_deals(opened.db)}
    opened.close()
    assert found == {("Yen deal", Decimal(1_000_000), "JPY"), ("Dollar deal", Decimal("12.50"), "USD")}

    bad = tmp_path / "bad.csv"
    bad.write_text("account,title,stage,value,currency\n"
                   "Acme,Fine,Prospect,10,eur\n"
                   "Acme,Unknown,Prospect,10,xyz\n"
                   "Acme,Too fine,Prospect,10.5,JPY\n")
    capsys.readouterr()
    assert run(home, "import", "deals", str(bad)) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: currency 'XYZ' is not an ISO 4217 currency code" in err
    assert f"{bad}:4: value" in err and "more decimals than JPY has (0)" in err
    opened = open_workspace(home)
    assert "Fine" not in {d.title for d in deals.list_deals(opened.db)}  # all or nothing
    opened.close()


def test_the_currency_table_read_directly_is_the_iso4217_packages() -> None:
    """currency.py reads iso4217's table.xml itself (its Enum is slow to build): the same digits."""
    from rapport.store.money.currency import _digits_by_code, _digits_from_enum, _digits_from_table

    assert _digits_by_code() == _digits_from_enum()
    assert (_digits_by_code()["EUR"], _digits_by_code()["JPY"], _digits_by_code()["BHD"]) == (2, 0, 3)
    xml = """<ISO_4217><CcyTbl>
      <CcyNtry><CtryNm>A</CtryNm><Ccy>AAA</Ccy><CcyNbr>1</CcyNbr><CcyMnrUnts>3</CcyMnrUnts></CcyNtry>
      <CcyNtry><CtryNm>B</CtryNm><Ccy>AAA</Ccy><CcyNbr>1</CcyNbr><CcyMnrUnts>2</CcyMnrUnts></CcyNtry>
      <CcyNtry><CtryNm>C</CtryNm><Ccy>XAU</Ccy><CcyNbr>959</CcyNbr><CcyMnrUnts>N.A.</CcyMnrUnts></CcyNtry>
      <CcyNtry><CtryNm>D</CtryNm><Ccy>NON</Ccy><CcyMnrUnts>2</CcyMnrUnts></CcyNtry>
      <CcyNtry><CtryNm>ANTARCTICA</CtryNm><CcyNm>No universal currency</CcyNm></CcyNtry>
    </CcyTbl></ISO_4217>"""
    assert _digits_from_table(xml) == {"AAA": 3}
