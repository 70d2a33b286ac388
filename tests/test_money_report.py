"""A book in three currencies and one without a rate: every figure, by hand, in every report
format, `status --json` and the TUI's pipeline pane (Pilot), through real workspace files.

Base EUR; 1 USD = 0.92 EUR (set 2026-03-01); 1 JPY = 0.0061 EUR (no date); GBP has no rate.
Stage defaults: Proposal presented 50 %, Closing 80 %; deals created 10 March 2026.

  Acme (key)      Acme EUR        Proposal presented  10,000.00 EUR -> 10,000.00, weighted 5,000.00
  Acme (key)      Acme USD        Closing              5,000.00 USD ->  4,600.00, weighted 3,680.00
  Borealis (key)  Borealis JPY    Proposal presented  1,000,000 JPY ->  6,100.00, weighted 3,050.00
  Cobalt          Cobalt GBP      Closing              2,000.00 GBP -> not converted
  Acme (key)      Acme won USD    Won / support        1,000.50 USD ->    920.46
  Borealis (key)  Borealis won    Won / support          50,000 JPY ->    305.00
  Cobalt          Cobalt won GBP  Won / support          300.00 GBP -> not converted
  Cobalt          Cobalt lost     Lost                     700.00 EUR ->    700.00

Open: 4 deals, 10,000 + 4,600 + 6,100 = 20,700.00, weighted 5,000 + 3,680 + 3,050 = 11,730.00.
Won in March: 920.46 + 305.00 = 1,225.46 (3 deals, one not converted); lost 700.00.
Revenue share: Acme 920.46 / 1,225.46 = 75.1 %, Borealis 305 / 1,225.46 = 24.9 %.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from rapport.store.book import accounts, deals
from rapport.store.reports.figures import Report, build_report
from rapport.store.reports.period import month_period
from rapport.store.session import open_workspace
from rapport.tui.app.application import RapportApp
from rapport.tui.app.widgets.pipeline_list import PipelineList
from rapport.tui.cli.main import main
from rapport.tui.render.report_formats import render_csv, render_json, render_md
from rapport.tui.render.report_html import render_html

MONEY = """
[money]
base = "EUR"
rates = { USD = { rate = 0.92, date = 2026-03-01 }, JPY = 0.0061 }
"""
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=timezone.utc)
BOOK = [  # account, title, stage, value, currency
    ("Acme", "Acme EUR", "Proposal presented", "10000", "EUR"),
    ("Acme", "Acme USD", "Closing", "5000", "USD"),
    ("Borealis", "Borealis JPY", "Proposal presented", "1000000", "JPY"),
    ("Cobalt", "Cobalt GBP", "Closing", "2000", "GBP"),
    ("Acme", "Acme won USD", "Won / support", "1000.50", "USD"),
    ("Borealis", "Borealis won", "Won / support", "50000", "JPY"),
    ("Cobalt", "Cobalt won GBP", "Won / support", "300", "GBP"),
    ("Cobalt", "Cobalt lost", "Lost", "700", "EUR"),
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    opened = open_workspace(home)
    try:
        ids = {name: accounts.create_account(opened.db, name, tier=tier).id
               for name, tier in (("Acme", "key"), ("Borealis", "key"), ("Cobalt", "standard"))}
        for account, title, stage, value, currency in BOOK:
            deal = deals.create_deal(opened.db, ids[account], title, stage, value=value,
                                     currency=currency, pipeline=opened.config.pipeline)
            when = "2026-03-10T10:00:00Z"
            deals.backdate_deal(opened.db, deal.id, created_utc=when, stage_changed_utc=when,
                                last_activity_utc=when)
    finally:
        opened.close()
    config = home / "config.toml"
    config.write_text(config.read_text() + MONEY)
    return home


def report_of(home: Path) -> Report:
    opened = open_workspace(home)
    try:
        return build_report(opened.db, opened.config.pipeline, month_period(date(2026, 3, 1)),
                            stale_after_days=30, now=NOW, money=opened.config.money)
    finally:
        opened.close()


def test_figures_are_converted_and_the_rateless_left_out(home: Path) -> None:
    report = report_of(home)
    stages = {s.stage: (s.deals, s.value, s.weighted, s.not_converted) for s in report.stages}
    assert stages["Proposal presented"] == (2, Decimal("16100.00"), Decimal("8050.00"), 0)
    assert stages["Closing"] == (2, Decimal("4600.00"), Decimal("3680.00"), 1)
    assert stages["Won / support"] == (3, Decimal("1225.46"), Decimal("1225.46"), 1)
    assert stages["Lost"] == (1, Decimal("700.00"), Decimal("0.00"), 0)
    assert (report.open_deals, report.open_value, report.open_weighted) == (
        4, Decimal("20700.00"), Decimal("11730.00"))
    assert (report.won_value, report.lost_value) == (Decimal("1225.46"), Decimal("700.00"))
    assert [(d.title, d.value, d.currency, d.base_value) for d in report.won] == [
        ("Acme won USD", Decimal("1000.50"), "USD", Decimal("920.46")),
        ("Borealis won", Decimal(50000), "JPY", Decimal("305.00")),
        ("Cobalt won GBP", Decimal("300.00"), "GBP", None),
    ]
    [month] = report.forecast
    assert (month.deals, month.value, month.weighted, month.not_converted) == (
        4, Decimal("20700.00"), Decimal("11730.00"), 1)
    acme, borealis = report.key_accounts
    assert (acme.won_value, acme.revenue_share, acme.open_value) == (
        Decimal("920.46"), 75.1, Decimal("14600.00"))
    assert (borealis.won_value, borealis.revenue_share, borealis.open_value) == (
        Decimal("305.00"), 24.9, Decimal("6100.00"))
    assert [(d.title, d.value, d.currency, d.base_value) for d in acme.open_deals] == [
        ("Acme EUR", Decimal("10000.00"), "EUR", Decimal("10000.00")),
        ("Acme USD", Decimal("5000.00"), "USD", Decimal("4600.00")),
    ]
    assert [(d.title, d.value, d.currency) for d in report.not_converted] == [
        ("Cobalt GBP", Decimal("2000.00"), "GBP"), ("Cobalt won GBP", Decimal("300.00"), "GBP")]
    assert report.missing_rates == ("GBP",)


def test_json_keeps_stages_and_adds_base_rates_and_not_converted(home: Path) -> None:
    data = json.loads(render_json(report_of(home)))
    assert [(s["stage"], s["deals"], s["value"], s["weighted"]) for s in data["stages"]
            if s["deals"]] == [
        ("Proposal presented", 2, 16100.0, 8050.0), ("Closing", 2, 4600.0, 3680.0),
        ("Won / support", 3, 1225.46, 1225.46), ("Lost", 1, 700.0, 0.0)]
    assert data["base_currency"] == "EUR"
    assert data["rates"] == [{"currency": "JPY", "rate": 0.0061, "date": None},
                             {"currency": "USD", "rate": 0.92, "date": "2026-03-01"}]
    assert [(d["title"], d["value"], d["currency"]) for d in data["not_converted"]] == [
        ("Cobalt GBP", 2000.0, "GBP"), ("Cobalt won GBP", 300.0, "GBP")]
    totals = data["totals"]
    assert (totals["open_value"], totals["open_weighted"], totals["won_value"],
            totals["lost_value"], totals["not_converted"]) == (20700.0, 11730.0, 1225.46, 700.0, 2)
    # Each deal keeps its own value and currency beside its value in the base currency.
    assert [(d["title"], d["value"], d["currency"], d["base_value"]) for d in data["won"]] == [
        ("Acme won USD", 1000.5, "USD", 920.46), ("Borealis won", 50000, "JPY", 305.0),
        ("Cobalt won GBP", 300.0, "GBP", None)]
    acme = data["key_accounts"][0]
    assert (acme["won_value"], acme["revenue_share"], acme["open_value"]) == (920.46, 75.1, 14600.0)


def test_csv_carries_the_same_figures(home: Path) -> None:
    rows = [r for r in csv.reader(io.StringIO(render_csv(report_of(home))))]
    assert ["base_currency", "", "", "EUR"] in rows
    assert ["totals", "", "open_value", "20700.0"] in rows
    assert ["totals", "", "won_value", "1225.46"] in rows
    assert ["stages", "Closing", "not_converted", "1"] in rows
    assert ["rates", "USD", "rate", "0.92"] in rows and ["rates", "USD", "date", "2026-03-01"] in rows
    gbp = [r for r in rows if r[0] == "not_converted" and r[2] == "currency"]
    assert [r[3] for r in gbp] == ["GBP", "GBP"]


def test_markdown_states_base_rates_and_lists_the_rateless(home: Path) -> None:
    md = render_md(report_of(home))
    assert ("values in EUR, rates JPY 0.0061 (date not given), USD 0.92 (set 2026-03-01); "
            "2 deals not converted (no rate for GBP), added to no total.") in md
    assert "| Proposal presented | 2 | 16,100.00 | 8,050.00 | 0 |" in md
    assert "| Closing | 2 | 4,600.00 | 3,680.00 | 1 |" in md
    assert "| no date | 4 | 20,700.00 | 11,730.00 | 1 |" in md  # the forecast counts them too
    assert ("Open pipeline: 4 deals worth 20,700.00, weighted 11,730.00; 8 deals in all stages, "
            "won and lost included; 2 deals not converted (no rate for GBP).") in md
    assert "Won 3 deals, 1,225.46; lost 1 deal, 700.00." in md
    assert "| won | Acme | Acme won USD | 1,000.50 USD | 920.46 | 2026-03-10 |" in md
    assert "| won | Borealis | Borealis won | 50,000 JPY | 305.00 | 2026-03-10 |" in md
    assert "| won | Cobalt | Cobalt won GBP | 300.00 GBP | not converted | 2026-03-10 |" in md
    assert "| Cobalt | Cobalt GBP | Closing | 2,000.00 GBP |" in md
    assert "| Acme USD | Closing | 5,000.00 USD |" in md


def test_html_states_base_rates_and_lists_the_rateless(home: Path) -> None:
    html = render_html(report_of(home))
    assert ('<td>Proposal presented</td><td class="num">2</td><td class="num">16,100.00</td>\n'
            '<td class="num">8,050.00</td><td class="num">0</td></tr>') in html
    assert ('<td>Closing</td><td class="num">2</td><td class="num">4,600.00</td>\n'
            '<td class="num">3,680.00</td><td class="num">1</td></tr>') in html
    assert "Rates used (value of one unit in EUR):\nJPY 0.0061 (date not given), USD 0.92" in html
    assert '<table id="not-converted">' in html
    assert '<td>Cobalt GBP</td><td>Closing</td>\n<td class="num">2,000.00 GBP</td>' in html
    assert ('<td class="num">1,000.50 USD</td><td class="num">920.46</td>') in html


def test_cli_report_warns_once_naming_the_missing_rates(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt in ("md", "csv", "json", "html"):
        assert main(["--home", str(home), "report", "--month", "2026-03", "--format", fmt]) == 0
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [
            "rapport: warning: no rate for GBP: 2 deals not converted, left out of every total "
            "(set one with: rapport rates set GBP RATE)"]
        assert "GBP" in captured.out


def test_a_rate_change_moves_the_totals(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(home), "rates", "set", "USD", "1", "--date", "2026-04-01"]) == 0
    assert main(["--home", str(home), "rates", "set", "GBP", "1.15"]) == 0
    report = report_of(home)
    # Closing: 5,000 USD x 1 + 2,000 GBP x 1.15 = 7,300.00; weighted 80 % = 5,840.00.
    closing = next(s for s in report.stages if s.stage == "Closing")
    assert (closing.value, closing.weighted, closing.not_converted) == (
        Decimal("7300.00"), Decimal("5840.00"), 0)
    # Won: 1,000.50 + 305.00 + 300 x 1.15 = 1,650.50.
    assert (report.open_value, report.won_value) == (Decimal("23400.00"), Decimal("1650.50"))
    assert report.not_converted == ()
    capsys.readouterr()
    assert main(["--home", str(home), "report", "--month", "2026-03"]) == 0
    assert capsys.readouterr().err == ""  # every currency has a rate: no warning


def test_status_json_counts_in_the_base_currency(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(home), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["pipeline_value"] == {"base_currency": "EUR", "open_value": 20700.0,
                                        "open_weighted": 11730.0, "not_converted": 2,
                                        "missing_rates": ["GBP"]}
    assert main(["--home", str(home), "status"]) == 0
    assert ("open pipeline 20,700.00 EUR, weighted 11,730.00; 2 not converted (no rate for GBP)"
            in capsys.readouterr().out)


def test_the_pipeline_pane_totals_in_base_and_counts_the_rateless(home: Path) -> None:
    async def run() -> list[str]:
        app = RapportApp(str(home), today=date(2026, 4, 10), sync_on_start=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            pane = app.screen.query_one(PipelineList)
            console = Console(width=160, file=io.StringIO(), record=True)
            console.print(app.screen._compositor.render_update(full=True))
            assert pane.region.width > 60
            return console.export_text(styles=False).splitlines()

    lines = asyncio.run(run())
    screen = "\n".join(lines)
    assert "Proposal presented  2 deals  16,100 EUR  weighted 8,050" in screen
    assert "Closing  2 deals (1 not converted)  4,600 EUR  weighted 3,680" in screen
    # (The 62-column pane cuts this one's end: "weighted…"; the count comes first for that.)
    assert "Won / support  3 deals (1 not converted)  1,225 EUR  weighted" in screen
    # Each deal row keeps its own value and currency.
    assert any("Borealis" in line and "1,000,000 JPY" in line for line in lines)
    assert any("Cobalt" in line and "2,000 GBP" in line for line in lines)


def test_the_reports_screen_states_base_rates_and_what_is_left_out(home: Path) -> None:
    from textual.widgets import Static

    from tests.test_tui_reports import ReportsHost, _rows, _settled

    async def run() -> None:
        opened = open_workspace(home)
        app = ReportsHost(opened)
        try:
            async with app.run_test(size=(160, 48)) as pilot:
                await _settled(app, pilot)
                await pilot.press("left_square_bracket")  # April -> March
                await _settled(app, pilot)
                screen = app.screen
                summary = str(screen.query_one("#summary", Static).render())
                assert summary == ("2026-03 │ EUR │ open 20,700.00 (weighted 11,730.00) │ won 3: "
                                   "1,225.46 │ 2 not converted")
                note = str(screen.query_one("#money-note", Static).render())
                assert note.startswith("Values in EUR, rates JPY 0.0061 (date not given), USD 0.92")
                assert note.endswith(": Cobalt GBP 2,000.00 GBP; Cobalt won GBP 300.00 GBP")
                assert _rows(screen, "stages-table")[3] == [
                    "Proposal presented", "2", "16,100.00", "8,050.00"]
        finally:
            opened.close()

    asyncio.run(run())
