"""Provides the pipeline pane's view, paged: per-stage figures by SQL, deal rows read a page at a time.

A book of 10,000 deals is never read whole for the pane: `pipeline_index` asks SQLite for each
stage's count and sums (grouped by stage, currency and probability override: a few dozen rows),
and `pipeline_page` reads the deals of the lines shown. The figures are the report's
(store/reports/pipeline.py) to the cent; the order is the pane's: stages in pipeline order, each
followed by its deals, soonest next action first.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from rapport.store.book.deals import DEAL_SELECT, Deal, deal_from_row, is_rotting
from rapport.store.book.stages import Pipeline
from rapport.store.money.currency import from_minor, rounded, to_decimal
from rapport.store.money.rates import Exchange, MoneySettings, exchange_for

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class StageSummary:
    """One pipeline stage with its deals' count, total and weighted value in the base currency
    (the deals whose currency has no rate are counted, but in no total: `not_converted`)."""

    name: str
    count: int
    total: Decimal
    weighted: Decimal
    not_converted: int = 0
    base: str = "EUR"
    mixed: bool = False  # the book has deals in other currencies than the base


@dataclass(frozen=True)
class PipelineRow:
    """A line of the pipeline pane: a stage header (deal is None) or a deal under it."""

    stage: StageSummary
    deal: Deal | None = None
    overdue: bool = False
    rotting: bool = False


@dataclass(frozen=True)
class PipelineIndex:
    """Where each stage's header is in the pane, and what the pane needs to read its deals."""

    stages: tuple[StageSummary, ...]
    stored: tuple[tuple[str, ...], ...]  # per stage: the stage texts its deals carry (any case)
    starts: tuple[int, ...]  # the line of each stage's header
    total: int  # lines in all: one header per stage, one line per deal
    pipeline: Pipeline
    today: date
    exchange: Exchange  # the base currency and rates the figures are in
    currencies: tuple[str, ...]  # the currencies the shown deals are in

    @property
    def deals(self) -> int:
        return self.total - len(self.stages)


# The deals the pane shows: not archived, nor of an archived account (list_deals' rule).
_LIVE = "d.archived_utc IS NULL AND a.archived_utc IS NULL"
# Soonest next action first (none last), then the account's name as Python sorts it (BINARY is
# code-point order), then list_deals' order (account, title, id) for the rest of the ties.
_ORDER = ("d.next_action_due IS NULL, d.next_action_due, a.name, a.name COLLATE NOCASE,"
          " d.title COLLATE NOCASE, d.id")
_BOOK = f"FROM deals d JOIN accounts a ON a.id = d.account_id WHERE {_LIVE}"


class _Sums:
    """A stage's count and sums in the base currency, exact until rounded once."""

    def __init__(self) -> None:
        self.count = 0
        self.not_converted = 0
        self.value = Decimal(0)
        self.weighted = Decimal(0)
        self.stored: list[str] = []


def pipeline_index(db: Database, pipeline: Pipeline, today: date,
                   money: MoneySettings | None = None) -> PipelineIndex:
    """Every stage's figures from one grouped query; no deal is read."""
    exchange = exchange_for(db, money or MoneySettings())
    # NOT IN, not the join: the archived accounts are few, and the deals alone are one quick scan.
    groups = db.execute(
        "SELECT d.stage, d.currency, d.probability, count(*), sum(d.value_minor) FROM deals d"
        " WHERE d.archived_utc IS NULL AND d.account_id NOT IN"
        " (SELECT id FROM accounts WHERE archived_utc IS NOT NULL)"
        " GROUP BY d.stage, d.currency, d.probability").fetchall()
    sums: dict[str, _Sums] = {name: _Sums() for name in pipeline.names}
    for stage, currency, probability, count, minor in groups:
        known = pipeline.get(stage)
        _add(sums.setdefault(known.name if known else stage, _Sums()), stage, currency, probability,
             int(count), int(minor or 0), pipeline, exchange)
    # Stages no longer configured (refused at open, so rare) after the configured ones, as the report.
    names = [*pipeline.names, *sorted(name for name in sums if pipeline.get(name) is None)]
    mixed = any(currency != exchange.base for _stage, currency, *_rest in groups)
    stages: list[StageSummary] = []
    starts: list[int] = []
    line = 0
    for name in names:
        stage = sums[name]
        stages.append(StageSummary(name, stage.count, rounded(stage.value, exchange.base),
                                   rounded(stage.weighted, exchange.base), stage.not_converted,
                                   exchange.base, mixed))
        starts.append(line)
        line += 1 + stage.count
    return PipelineIndex(tuple(stages), tuple(tuple(sums[name].stored) for name in names), tuple(starts),
                         line, pipeline, today, exchange, tuple(sorted({str(g[1]) for g in groups})))


def _add(sums: _Sums, stage: str, currency: str, probability: float | None, count: int, minor: int,
         pipeline: Pipeline, exchange: Exchange) -> None:
    """One group of deals (same stage text, currency and probability) into its stage's sums."""
    sums.count += count
    if stage not in sums.stored:
        sums.stored.append(stage)
    rate = exchange.rate_of(currency)
    if rate is None:
        sums.not_converted += count
        return
    value = from_minor(minor, currency)
    # weighted_value's rule (store/book/deals.py) on the group's sum: the same exact figure.
    probability_percent = to_decimal(pipeline.win_probability(stage, probability))
    sums.value += value * rate
    sums.weighted += value * probability_percent / 100 * rate


def _stage_deals(db: Database, stored: tuple[str, ...], offset: int, limit: int) -> list[Deal]:
    if not stored or limit <= 0:
        return []
    marks = ", ".join("?" * len(stored))
    rows = db.execute(
        f"{DEAL_SELECT} WHERE {_LIVE} AND d.stage IN ({marks}) ORDER BY {_ORDER} LIMIT ? OFFSET ?",
        [*stored, limit, offset]).fetchall()
    return [deal_from_row(row) for row in rows]


def _deal_row(index: PipelineIndex, stage: StageSummary, deal: Deal) -> PipelineRow:
    overdue = deal.next_action_due is not None and deal.next_action_due < index.today
    rotting = index.pipeline.get(deal.stage) is not None and is_rotting(deal, index.pipeline, index.today)
    return PipelineRow(stage, deal, overdue, rotting)


def pipeline_page(db: Database, index: PipelineIndex, offset: int, limit: int) -> list[PipelineRow]:
    """Lines `offset`..`offset+limit` of the pane `index` describes (deals read from the store now)."""
    end = min(offset + limit, index.total)
    rows: list[PipelineRow] = []
    position = max(bisect_right(index.starts, offset) - 1, 0)
    while offset < end and position < len(index.stages):
        start, stage = index.starts[position], index.stages[position]
        if offset == start:
            rows.append(PipelineRow(stage))
            offset += 1
        first = offset - start - 1  # the stage's deal at `offset`
        wanted = min(end, start + 1 + stage.count) - offset
        deals = _stage_deals(db, index.stored[position], first, wanted)
        rows.extend(_deal_row(index, stage, deal) for deal in deals)
        if len(deals) < wanted:
            break  # deals changed since the index was read: the next reload has them
        offset += wanted
        position += 1
    return rows


def pipeline_position(db: Database, index: PipelineIndex, deal_id: int) -> int | None:
    """The line of the deal in the pane, or None when it is not shown (archived, gone)."""
    found = db.execute(f"SELECT d.stage {_BOOK} AND d.id = ?", [deal_id]).fetchone()
    if found is None:
        return None
    for position, stored in enumerate(index.stored):
        if found[0] in stored:
            marks = ", ".join("?" * len(stored))
            rank = db.execute(
                f"SELECT n FROM (SELECT d.id, row_number() OVER (ORDER BY {_ORDER}) AS n {_BOOK}"
                f" AND d.stage IN ({marks})) WHERE id = ?", [*stored, deal_id]).fetchone()
            return None if rank is None else index.starts[position] + int(rank[0])
    return None


def pipeline_rows(db: Database, pipeline: Pipeline, today: date,
                  money: MoneySettings | None = None) -> list[PipelineRow]:
    """The whole pane at once (tests, small books); the TUI pages it instead."""
    index = pipeline_index(db, pipeline, today, money)
    return pipeline_page(db, index, 0, index.total)
