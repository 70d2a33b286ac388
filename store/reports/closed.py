"""Provides the deals won and lost in a report's period, read from the stage-change history."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rapport.store.book.stages import Pipeline
from rapport.store.money.currency import from_minor, rounded
from rapport.store.money.rates import Exchange
from rapport.store.reports.activity import in_period
from rapport.store.reports.period import Period
from rapport.store.reports.pipeline import stage_kind

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class ClosedDeal:
    deal_id: int
    account_id: int
    account: str
    title: str
    stage: str
    value: Decimal  # in the deal's own currency
    currency: str
    closed_utc: str
    base_value: Decimal | None = None  # in the base currency; None: its currency has no rate


def closed_in_period(
    db: Database, pipeline: Pipeline, period: Period, exchange: Exchange | None = None
) -> tuple[tuple[ClosedDeal, ...], tuple[ClosedDeal, ...]]:
    """(won, lost): deals that entered a stage of that kind from another kind in the period.

    Read from the stage-change history, so a deal won in March stays won in March when it
    moves on later (Won / support -> Referral, or -> Lost). A deal created in such a stage
    enters it at creation. Each deal counts once per kind, at its last entry in the period,
    with its value; `stage` is the stage it entered then. One read of the history for both.
    """
    rows = db.execute(
        """
        SELECT d.id, a.id, a.name, d.title, d.stage, d.value_minor, d.currency, d.created_utc,
               ac.date_utc, ac.from_stage, ac.to_stage
        FROM deals d
        JOIN accounts a ON a.id = d.account_id
        LEFT JOIN activities ac ON ac.deal_id = d.id AND ac.kind = 'stage_change'
        WHERE (d.created_utc >= :start AND d.created_utc < :end)
           OR d.id IN (SELECT deal_id FROM activities WHERE kind = 'stage_change'
                       AND date_utc >= :start AND date_utc < :end)
        ORDER BY d.id, ac.date_utc, ac.id""",
        {"start": period.start_utc, "end": period.end_utc},
    ).fetchall()
    exchange = exchange or Exchange()
    found: dict[str, list[ClosedDeal]] = {"won": [], "lost": []}
    for _, history in itertools.groupby(rows, key=lambda r: r[0]):
        changes = list(history)
        deal_id, account_id, account, title, current, minor, currency, created = changes[0][:8]
        value = from_minor(minor, currency)
        in_base = exchange.to_base(value, currency)
        base_value = None if in_base is None else rounded(in_base, exchange.base)
        for kind, deals in found.items():
            entry = _last_entry(pipeline, period, kind, created, current, changes)
            if entry is not None:
                stage, when = entry
                deals.append(ClosedDeal(int(deal_id), int(account_id), account, title, stage,
                                        value, currency, when, base_value))
    for deals in found.values():
        deals.sort(key=lambda d: (d.closed_utc, d.deal_id))
    return tuple(found["won"]), tuple(found["lost"])


def _last_entry(
    pipeline: Pipeline, period: Period, kind: str, created: str, current: str,
    changes: list[tuple[Any, ...]]
) -> tuple[str, str] | None:
    """(stage, moment) of the deal's last entry into a `kind` stage from another kind within
    the period, or None. `changes` are its stage-change rows, oldest first (one all-NULL row
    when it never moved); before the first it was in that change's origin, else in `current`."""
    moves = [(when, origin, target) for *_, when, origin, target in changes if when is not None]
    first = moves[0][1] if moves else current
    entry = None
    for when, origin, target in [(created, None, first), *moves]:
        entered = stage_kind(pipeline, target) == kind
        if entered and (origin is None or stage_kind(pipeline, origin) != kind) and in_period(period, when):
            known = pipeline.get(target)
            entry = (known.name if known else target, when)
    return entry

