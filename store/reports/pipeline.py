"""Provides the pipeline figures of a report: value per stage, the forecast by month of expected
close, and the deals left out of both because their currency has no rate.

Every value is in the base currency (store/money): each deal converted exactly at its rate, each
figure rounded once to the base currency's minor unit. A deal without a rate is counted in its
stage or month but never added to a value; it is listed in `not_converted` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rapport.store.book.deals import Deal, weighted_value
from rapport.store.book.stages import Pipeline
from rapport.store.money.currency import rounded
from rapport.store.money.rates import Exchange

NO_DATE = "no date"


@dataclass(frozen=True)
class StageFigures:
    stage: str
    kind: str  # 'open' | 'won' | 'lost'
    deals: int  # every deal in the stage, converted or not
    value: Decimal  # in the base currency, the converted deals only
    weighted: Decimal
    not_converted: int = 0  # deals in the stage whose currency has no rate


@dataclass(frozen=True)
class ForecastMonth:
    month: str  # 'YYYY-MM' or NO_DATE
    deals: int
    value: Decimal
    weighted: Decimal
    not_converted: int = 0


@dataclass(frozen=True)
class NotConverted:
    """A deal whose currency has no rate: shown with its own value, never added to a total."""

    deal_id: int
    account_id: int
    account: str
    title: str
    stage: str
    value: Decimal
    currency: str


class _Sums:
    """Count, value and weighted value of a group of deals, in the base currency (exact)."""

    def __init__(self) -> None:
        self.deals = 0
        self.not_converted = 0
        self.value = Decimal(0)
        self.weighted = Decimal(0)

    def add(self, deal: Deal, pipeline: Pipeline, exchange: Exchange) -> None:
        self.deals += 1
        rate = exchange.rate_of(deal.currency)
        if rate is None:
            self.not_converted += 1
            return
        self.value += deal.value * rate
        self.weighted += weighted_value(deal, pipeline) * rate

    def figures(self, base: str) -> tuple[int, Decimal, Decimal, int]:
        return self.deals, rounded(self.value, base), rounded(self.weighted, base), self.not_converted


def stage_kind(pipeline: Pipeline, stage: str | None) -> str:
    # A stage gone from the config counts as open, as pipeline_by_stage and deals_as_of do.
    known = pipeline.get(stage) if stage else None
    return known.kind if known else "open"


def pipeline_by_stage(
    deals: list[Deal], pipeline: Pipeline, exchange: Exchange | None = None
) -> tuple[StageFigures, ...]:
    """Count, value and weighted value per stage of `deals` (every deal; unknown stages last).

    Weighted as the pipeline pane weighs (store/deals.weighted_value), so the two agree."""
    exchange = exchange or Exchange()
    sums: dict[str, _Sums] = {}
    for deal in deals:
        stage = pipeline.get(deal.stage)
        # A stage removed from config while deals used it is refused at open; still, never drop deals.
        key = stage.name if stage else deal.stage
        sums.setdefault(key, _Sums()).add(deal, pipeline, exchange)
    known = [(s.name, s.kind) for s in pipeline.stages]
    unknown = sorted((name, "open") for name in sums if pipeline.get(name) is None)
    return tuple(
        StageFigures(name, kind, *sums.get(name, _Sums()).figures(exchange.base))
        for name, kind in [*known, *unknown]
    )


def forecast_by_month(
    deals: list[Deal], pipeline: Pipeline, exchange: Exchange | None = None
) -> tuple[ForecastMonth, ...]:
    """The open ones of `deals` grouped by the month of their expected close; undated ones last."""
    exchange = exchange or Exchange()
    months: dict[str | None, _Sums] = {}
    for deal in deals:
        if stage_kind(pipeline, deal.stage) != "open":
            continue
        month = deal.expected_close.isoformat()[:7] if deal.expected_close else None
        months.setdefault(month, _Sums()).add(deal, pipeline, exchange)
    order = sorted(months, key=lambda m: (m is None, m or ""))
    return tuple(ForecastMonth(month or NO_DATE, *months[month].figures(exchange.base))
                 for month in order)


def not_converted(deals: list[Deal], exchange: Exchange) -> tuple[NotConverted, ...]:
    """The deals whose currency has no rate, by currency then account and title."""
    found = [
        NotConverted(d.id, d.account_id, d.account_name, d.title, d.stage, d.value, d.currency)
        for d in deals
        if exchange.rate_of(d.currency) is None
    ]
    found.sort(key=lambda d: (d.currency, d.account.casefold(), d.title.casefold(), d.deal_id))
    return tuple(found)
