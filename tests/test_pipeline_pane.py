"""The pipeline pane, paged (issue 15): the grouped figures equal the report's, every page and every
deal's position agree with the whole pane as it was read before (every deal, sorted in Python)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from rapport.store.book import accounts, deals
from rapport.store.book.deals import Deal, is_rotting, list_deals
from rapport.store.money.rates import MoneySettings, exchange_for, parse_money
from rapport.store.reports.pipeline import not_converted, pipeline_by_stage
from rapport.store.session import OpenWorkspace, open_workspace
from rapport.store.views.pipeline_pane import (
    PipelineRow,
    StageSummary,
    pipeline_index,
    pipeline_page,
    pipeline_position,
    pipeline_rows,
)
from rapport.store.views.status import pipeline_value

TODAY = date(2026, 4, 10)
MONEY = parse_money({"base": "EUR", "rates": {"USD": {"rate": 0.92, "date": date(2026, 3, 1)}, "JPY": 0.0061}})


def reference_rows(opened: OpenWorkspace, money: MoneySettings) -> list[PipelineRow]:
    """The pane as it was built before paging: every deal read, grouped and sorted in Python."""
    db, pipeline = opened.db, opened.config.pipeline
    book = list_deals(db)
    exchange = exchange_for(db, money)
    figures = {s.stage: s for s in pipeline_by_stage(book, pipeline, exchange)}
    mixed = any(d.currency != exchange.base for d in book)
    by_stage: dict[str, list[Deal]] = {name: [] for name in pipeline.names}
    for deal in book:
        known = pipeline.get(deal.stage)
        by_stage.setdefault(known.name if known else deal.stage, []).append(deal)
    rows: list[PipelineRow] = []
    for name, stage_deals in by_stage.items():
        stage_deals.sort(key=lambda d: (d.next_action_due is None, d.next_action_due or date.max, d.account_name))
        stage = figures[name]
        summary = StageSummary(name, len(stage_deals), stage.value, stage.weighted, stage.not_converted,
                               exchange.base, mixed)
        rows.append(PipelineRow(summary))
        for deal in stage_deals:
            overdue = deal.next_action_due is not None and deal.next_action_due < TODAY
            rows.append(PipelineRow(summary, deal, overdue, is_rotting(deal, pipeline, TODAY)))
    return rows


@pytest.fixture
def book(tmp_path: Path) -> OpenWorkspace:
    """Deals in every stage, four currencies (GBP without a rate), probability overrides, equal and
    missing due dates, names whose order differs by case and accent, archived deals and an archived account."""
    opened = open_workspace(tmp_path / "ws")
    db, pipeline = opened.db, opened.config.pipeline
    rng = random.Random(15)
    names = ["Acme", "acorn", "Borealis", "beta", "Émile", "emu", "Zeta", "Ångström", "zinc", "ÉCLAIR"]
    ids = [accounts.create_account(db, f"{name} {n}" if n else name).id
           for n in range(3) for name in names]
    for number in range(300):
        currency = rng.choice(["EUR", "EUR", "EUR", "USD", "JPY", "GBP"])
        value = str(rng.randint(1, 900) * (100 if currency == "JPY" else 1)) + ("" if currency == "JPY" else ".35")
        deal = deals.create_deal(
            db, rng.choice(ids), f"Deal {number:03d} {rng.choice(['x', 'X', 'y'])}", rng.choice(pipeline.names),
            pipeline=pipeline, value=value, currency=currency,
            probability=rng.choice([None, None, 12.5, 33.3, 70]),
            next_action="call", next_action_due=rng.choice([None, TODAY, TODAY + timedelta(days=rng.randint(-9, 9))]))
        when = f"2026-0{rng.randint(1, 4)}-0{rng.randint(1, 9)}T10:00:00Z"
        deals.backdate_deal(db, deal.id, created_utc=when, stage_changed_utc=when, last_activity_utc=when)
    # A stage stored in another case still counts in its configured stage (Pipeline.get's rule).
    db.execute("UPDATE deals SET stage = lower(stage) WHERE id % 7 = 0")
    db.execute("UPDATE deals SET archived_utc = '2026-04-01T00:00:00Z' WHERE id % 11 = 0")
    db.execute("UPDATE accounts SET archived_utc = '2026-04-01T00:00:00Z' WHERE id = ?", [ids[3]])
    db.conn.commit()
    return opened


def test_the_paged_pane_is_the_whole_pane_as_before(book: OpenWorkspace) -> None:
    expected = reference_rows(book, MONEY)
    rows = pipeline_rows(book.db, book.config.pipeline, TODAY, MONEY)
    assert rows == expected
    assert sum(1 for row in rows if row.deal is None) == len(book.config.pipeline.names)
    assert {row.deal.currency for row in rows if row.deal} == {"EUR", "USD", "JPY", "GBP"}
    assert any(row.stage.not_converted for row in rows) and rows[0].stage.mixed


def test_the_figures_without_an_archived_account_are_the_whole_pane_s(book: OpenWorkspace) -> None:
    """pipeline_index leaves out its archived-account condition when no account is archived:
    the figures stay the whole pane's, which then shows the formerly hidden deals too."""
    before = pipeline_index(book.db, book.config.pipeline, TODAY, MONEY)
    book.db.execute("UPDATE accounts SET archived_utc = NULL")
    book.db.conn.commit()
    expected = reference_rows(book, MONEY)
    index = pipeline_index(book.db, book.config.pipeline, TODAY, MONEY)
    assert [row.stage for row in expected if row.deal is None] == list(index.stages)
    assert index.deals == sum(1 for row in expected if row.deal is not None) > before.deals


@pytest.mark.parametrize("page", [1, 2, 7, 50, 200])
def test_every_page_is_its_slice_of_the_pane(book: OpenWorkspace, page: int) -> None:
    expected = reference_rows(book, MONEY)
    index = pipeline_index(book.db, book.config.pipeline, TODAY, MONEY)
    assert index.total == len(expected)
    assert index.deals == sum(1 for row in expected if row.deal is not None)
    pages = [pipeline_page(book.db, index, offset, page) for offset in range(0, index.total, page)]
    assert [row for rows in pages for row in rows] == expected
    rng = random.Random(page)
    for _ in range(20):
        offset = rng.randrange(index.total + 3)
        assert pipeline_page(book.db, index, offset, page) == expected[offset:offset + page]


def test_each_deal_is_found_at_its_line_and_hidden_ones_nowhere(book: OpenWorkspace) -> None:
    expected = reference_rows(book, MONEY)
    index = pipeline_index(book.db, book.config.pipeline, TODAY, MONEY)
    for line, row in enumerate(expected):
        if row.deal is not None:
            assert pipeline_position(book.db, index, row.deal.id) == line
    shown = {row.deal.id for row in expected if row.deal}
    hidden = [d.id for d in list_deals(book.db, archived=True) if d.id not in shown]
    assert hidden and all(pipeline_position(book.db, index, deal_id) is None for deal_id in hidden)
    assert pipeline_position(book.db, index, 10_000) is None


def test_status_counts_the_open_pipeline_as_the_report(book: OpenWorkspace) -> None:
    db, pipeline = book.db, book.config.pipeline
    book_deals = list_deals(db)
    exchange = exchange_for(db, MONEY)
    open_stages = [s for s in pipeline_by_stage(book_deals, pipeline, exchange) if s.kind == "open"]
    left_out = not_converted(book_deals, exchange)
    value = pipeline_value(db, pipeline, MONEY)
    assert value["open_value"] == float(sum((s.value for s in open_stages), Decimal(0)))
    assert value["open_weighted"] == float(sum((s.weighted for s in open_stages), Decimal(0)))
    assert value["not_converted"] == len(left_out) > 0
    assert value["missing_rates"] == ["GBP"]


def test_an_empty_book_has_its_stage_headers_only(tmp_path: Path) -> None:
    opened = open_workspace(tmp_path / "ws")
    try:
        index = pipeline_index(opened.db, opened.config.pipeline, TODAY)
        rows = pipeline_page(opened.db, index, 0, 500)
        assert index.deals == 0 and [row.stage.name for row in rows] == opened.config.pipeline.names
        assert all(row.deal is None and row.stage.total == 0 for row in rows)
    finally:
        opened.close()


def test_utc_text_is_parsed_as_strptime_parses_it() -> None:
    """parse_utc_text's fast path for the stored form: the same datetimes, the same refusals."""
    from datetime import UTC, datetime

    from rapport.store.timeutil import UTC_FORMAT, parse_utc_text

    # A full-width digit is strptime's to judge (it takes it): the fast path leaves it alone.
    for text in ("2026-01-01T00:00:00Z", "2024-02-29T23:59:59Z", "1999-12-31T01:02:03Z", "\uff12026-01-01T00:00:00Z"):
        assert parse_utc_text(text) == datetime.strptime(text, UTC_FORMAT).replace(tzinfo=UTC)
    for text in ("2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-W01-1T00:00:00Z", "2026-01-01T24:00:00Z",
                 "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+00:00", ""):
        with pytest.raises(ValueError):
            parse_utc_text(text)
