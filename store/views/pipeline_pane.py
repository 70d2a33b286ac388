"""Provides the pipeline pane's view, paged: per-stage figures by SQL, deal rows read a page at a time.

A book of 10,000 deals is never read whole for the pane: `pipeline_index` (store/views/
pipeline_figures.py) asks SQLite for each stage's count and sums (grouped by stage, currency and
probability override: a few dozen rows), and `pipeline_page` reads the deals of the lines shown. The figures are the report's
(store/reports/pipeline.py) to the cent; the order is the pane's: stages in pipeline order, each
followed by its deals, soonest next action first.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from rapport.store.book.deals import DEAL_SELECT, Deal, deal_from_row, is_rotting
from rapport.store.book.stages import Pipeline
from rapport.store.money.rates import MoneySettings

# The stage figures (what `rapport status` reads) live in pipeline_figures.py; named here too.
from rapport.store.views.pipeline_figures import PipelineIndex as PipelineIndex
from rapport.store.views.pipeline_figures import StageSummary as StageSummary
from rapport.store.views.pipeline_figures import pipeline_index as pipeline_index

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class PipelineRow:
    """A line of the pipeline pane: a stage header (deal is None) or a deal under it."""

    stage: StageSummary
    deal: Deal | None = None
    overdue: bool = False
    rotting: bool = False


# The deals the pane shows: not archived, nor of an archived account (list_deals' rule).
_LIVE = "d.archived_utc IS NULL AND a.archived_utc IS NULL"
# Soonest next action first (none last), then the account's name as Python sorts it (BINARY is
# code-point order), then list_deals' order (account, title, id) for the rest of the ties.
_ORDER = ("d.next_action_due IS NULL, d.next_action_due, a.name, a.name COLLATE NOCASE,"
          " d.title COLLATE NOCASE, d.id")
_BOOK = f"FROM deals d JOIN accounts a ON a.id = d.account_id WHERE {_LIVE}"


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
