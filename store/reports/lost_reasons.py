"""Provides the report's "lost reasons": the deals lost in the period, counted and summed per reason.

A deal's reason is the one given when it was lost (the timeline's "Lost: REASON" entry at the
moment the report counts it lost); a deal lost before reasons were asked, or by an import, is
"unspecified". Value is in the report's base currency, as its lost total (a deal whose currency
has no rate counts in `deals` and not in `value`, as it is left out of the lost total).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from rapport.store.money.currency import rounded
from rapport.store.reports.closed import ClosedDeal

if TYPE_CHECKING:
    from sqlite_utils import Database

UNSPECIFIED = "unspecified"
_PREFIX = "Lost: "


@dataclass(frozen=True)
class LostReason:
    reason: str
    deals: int
    value: Decimal


def reason_of(db: Database, deal: ClosedDeal) -> str:
    row = db.execute(
        "SELECT subject FROM activities WHERE deal_id = ? AND kind = 'stage_change'"
        " AND date_utc = ? AND subject LIKE ? ORDER BY id DESC LIMIT 1",
        [deal.deal_id, deal.closed_utc, _PREFIX + "%"],
    ).fetchone()
    if row is not None:
        return row[0][len(_PREFIX):].strip() or UNSPECIFIED
    current = db.execute("SELECT lost_reason FROM deals WHERE id = ?", [deal.deal_id]).fetchone()
    return (current[0] if current else "") or UNSPECIFIED


def lost_reasons(db: Database, lost: tuple[ClosedDeal, ...], base: str) -> tuple[LostReason, ...]:
    """Per reason: how many deals and how much value; most value first, then by name."""
    tally: dict[str, list[Decimal | None]] = {}
    for deal in lost:
        tally.setdefault(reason_of(db, deal), []).append(deal.base_value)
    rows = [LostReason(reason, len(values), rounded(sum((v for v in values if v is not None), Decimal(0)), base))
            for reason, values in tally.items()]
    return tuple(sorted(rows, key=lambda r: (-r.value, r.reason)))
