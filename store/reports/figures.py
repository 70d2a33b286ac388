"""Provides `build_report`: every figure of the monthly report, computed in SQL over the store.

Definitions (the README's "Reports" section repeats them for users):
- pipeline by stage: every deal in the workspace, whatever the period, per configured stage;
  weighted value uses Pipeline.win_probability (won 100 %, lost 0 %, else the deal's own
  probability or its stage's default), the rule the pipeline pane uses too;
- won / lost in the period: deals whose stage-change history has them enter a stage of kind
  won / lost from a stage of another kind during the period (created in one counts as entering
  it at creation); once each, at the last such entry, whatever happened to the deal since;
- forecast: open deals by month of expected close ("no date" last);
- activity per account: linked mail in/out (drafts excluded, one count per Message-ID) and
  calls, meetings and notes dated in the period;
- first response: per client wait begun in the period (the first client mail of a thread after
  our last mail in it, follow-ups before our reply included in it) the time until our next mail
  in that thread, whenever it came; median over the answered waits;
- open objections and open complaints (a client's post-contract support issue, resolvable like
  an objection), last contact, stale accounts and key-account figures are taken "as of" the
  end of the period, or now when the period is still running; key accounts see each deal in
  the stage it had then (stage-change history, `deals_as_of`) and only deals created by then;
- contact and stale accounts: store/views/last_contact.py, the one definition Today uses too (mail either
  way, calls, meetings, logged sent mail, objections, complaints; not notes), stale at
  `stale_after_days` or more;
- money: every value is in the base currency (`[money]`, store/money), each deal converted at
  its currency's rate; a deal whose currency has no rate is added to nothing and listed in
  `not_converted` with its own value.

The figures live by concept: pipeline.py (stages, forecast, not converted), closed.py (won and
lost), activity.py (activity, first response), attention.py (objections, complaints) and
key_accounts.py; this module assembles them into one `Report`, read in one snapshot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from rapport.store.book.deals import list_deals
from rapport.store.book.stages import Pipeline
from rapport.store.money.currency import rounded
from rapport.store.money.rates import Exchange, MoneySettings, exchange_for
from rapport.store.reports.activity import (
    AccountActivity,
    FirstResponse,
    activity_per_account,
    first_response,
)
from rapport.store.reports.attention import OpenObjection, open_complaints, open_objections
from rapport.store.reports.closed import ClosedDeal, closed_in_period
from rapport.store.reports.key_accounts import (
    DealAsOf,
    KeyAccount,
    KeyDeal,
    deals_as_of,
    key_accounts,
)
from rapport.store.reports.lost_reasons import LostReason, lost_reasons
from rapport.store.reports.period import Period
from rapport.store.reports.pipeline import (
    NO_DATE,
    ForecastMonth,
    NotConverted,
    StageFigures,
    forecast_by_month,
    not_converted,
    pipeline_by_stage,
)
from rapport.store.timeutil import parse_utc_text, to_utc_text, utc_now
from rapport.store.views.last_contact import StaleAccount, last_contacts, stale_accounts

if TYPE_CHECKING:
    from sqlite_utils import Database

# The figures' types, importable from here as before the split.
__all__ = [
    "NO_DATE", "AccountActivity", "ClosedDeal", "DealAsOf", "FirstResponse", "ForecastMonth",
    "KeyAccount", "KeyDeal", "NotConverted", "OpenObjection", "Report", "StageFigures",
    "build_report", "closed_in_period", "deals_as_of", "forecast_by_month", "key_accounts",
    "pipeline_by_stage", "read_snapshot",
]


@dataclass(frozen=True)
class Report:
    period: Period
    as_of_utc: str
    generated_utc: str
    currencies: tuple[str, ...]
    stale_after_days: int
    stages: tuple[StageFigures, ...]
    won: tuple[ClosedDeal, ...]
    lost: tuple[ClosedDeal, ...]
    forecast: tuple[ForecastMonth, ...]
    activity: tuple[AccountActivity, ...]
    first_response: FirstResponse
    open_objections: tuple[OpenObjection, ...]
    open_complaints: tuple[OpenObjection, ...]
    stale_accounts: tuple[StaleAccount, ...]
    key_accounts: tuple[KeyAccount, ...]
    exchange: Exchange = field(default_factory=Exchange)  # the base currency and rates used
    not_converted: tuple[NotConverted, ...] = ()  # deals whose currency has no rate

    @property
    def base_currency(self) -> str:
        return self.exchange.base

    @property
    def missing_rates(self) -> tuple[str, ...]:
        """The currencies of the book that have no rate (their deals are not converted)."""
        return tuple(sorted({d.currency for d in self.not_converted}))
    lost_reasons: tuple[LostReason, ...] = ()  # most value first

    @property
    def open_stages(self) -> tuple[StageFigures, ...]:
        return tuple(s for s in self.stages if s.kind == "open")

    @property
    def total_deals(self) -> int:
        return sum(s.deals for s in self.stages)

    @property
    def open_deals(self) -> int:
        return sum(s.deals for s in self.open_stages)

    @property
    def open_value(self) -> Decimal:
        return self._total([s.value for s in self.open_stages])

    @property
    def open_weighted(self) -> Decimal:
        return self._total([s.weighted for s in self.open_stages])

    @property
    def won_value(self) -> Decimal:
        return self._total([d.base_value for d in self.won if d.base_value is not None])

    @property
    def lost_value(self) -> Decimal:
        return self._total([d.base_value for d in self.lost if d.base_value is not None])

    def _total(self, amounts: list[Decimal]) -> Decimal:
        return rounded(sum(amounts, Decimal(0)), self.exchange.base)


def build_report(
    db: Database,
    pipeline: Pipeline,
    period: Period,
    *,
    stale_after_days: int,
    now: datetime | None = None,
    money: MoneySettings | None = None,
) -> Report:
    """Every figure of the report for `period`; `now` fixes the clock (tests, reproducible runs).
    `money` is config.toml's `[money]` (default: none, so the book's most used currency is the
    base and no other currency is converted).

    All the queries read one snapshot of the database (a read transaction), so a sync or an
    edit landing meanwhile cannot make one section disagree with another.
    """
    moment = now or utc_now()
    now_text = to_utc_text(moment)
    # Figures "as of" stop at the end of the period, or now while the period is still running.
    as_of = min(period.end_utc, _next_second(now_text))
    with read_snapshot(db):
        exchange = exchange_for(db, money or MoneySettings())
        return _build(db, pipeline, period, stale_after_days, as_of, now_text, exchange)


@contextlib.contextmanager
def read_snapshot(db: Database) -> Iterator[None]:
    """One read transaction around the block: in WAL mode every read in it sees the same
    committed state, while writers carry on. Inside a caller's transaction, that one is used."""
    if db.conn.in_transaction:
        yield
        return
    db.conn.execute("BEGIN DEFERRED")
    try:
        yield
    finally:
        db.conn.execute("COMMIT")  # read only: nothing to keep, nothing to undo


def _build(
    db: Database,
    pipeline: Pipeline,
    period: Period,
    stale_after_days: int,
    as_of: str,
    now_text: str,
    exchange: Exchange,
) -> Report:
    contacts = last_contacts(db, as_of)
    deals = list_deals(db)  # the book as it is now: pipeline, forecast, currencies
    won, lost = closed_in_period(db, pipeline, period, exchange)
    objections = open_objections(db, as_of)
    complaints = open_complaints(db, as_of)
    return Report(
        period=period,
        as_of_utc=as_of,
        generated_utc=now_text,
        currencies=tuple(sorted({d.currency for d in deals})),
        stale_after_days=stale_after_days,
        stages=pipeline_by_stage(deals, pipeline, exchange),
        won=won,
        lost=lost,
        forecast=forecast_by_month(deals, pipeline, exchange),
        activity=activity_per_account(db, period),
        first_response=first_response(db, period),
        open_objections=objections,
        open_complaints=complaints,
        stale_accounts=stale_accounts(db, as_of, stale_after_days, contacts),
        key_accounts=key_accounts(db, pipeline, as_of, won_in_period=won, objections=objections,
                                  complaints=complaints, contacts=contacts, exchange=exchange),
        exchange=exchange,
        not_converted=not_converted(deals, exchange),
        lost_reasons=lost_reasons(db, lost, exchange.base),
    )


def _next_second(utc_text: str) -> str:
    # `now` itself is included in "as of now": the bound is exclusive.
    return to_utc_text(parse_utc_text(utc_text) + timedelta(seconds=1))
