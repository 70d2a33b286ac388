"""Provides the key-account figures of a report: revenue, open deals and what is open, as the
accounts stood at the report's "as of" moment. Values are in the base currency (store/money); a
deal whose currency has no rate is shown with its own value but added to no figure."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from rapport.store.book.stages import Pipeline
from rapport.store.money.currency import from_minor, rounded
from rapport.store.money.rates import Exchange
from rapport.store.reports.attention import OpenObjection
from rapport.store.reports.closed import ClosedDeal
from rapport.store.views.last_contact import as_of_day

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class KeyDeal:
    """An open deal of a key account, in its stage at the end of the period."""

    deal_id: int
    title: str
    stage: str
    value: Decimal  # in the deal's own currency
    currency: str
    next_action: str  # '' when none is set
    next_action_due: str | None  # YYYY-MM-DD
    overdue: bool  # the next action was due before the last day of the period
    base_value: Decimal | None = None  # in the base currency; None: its currency has no rate


@dataclass(frozen=True)
class KeyAccount:
    account_id: int
    account: str
    won_value: Decimal  # everything won up to the end of the period, in the base currency
    won_in_period: Decimal  # what was won during the period (the report's won list)
    revenue_share: float  # percent of all accounts' won value up to the end of the period
    last_contact_utc: str | None
    open_deals: tuple[KeyDeal, ...]  # next action due first, undated last
    open_objections: tuple[OpenObjection, ...]  # oldest first
    open_complaints: tuple[OpenObjection, ...]  # oldest first
    open_value: Decimal = Decimal(0)  # the converted open deals, in the base currency
    not_converted: int = 0  # its deals (open or won) whose currency has no rate

    @property
    def overdue_deals(self) -> tuple[KeyDeal, ...]:
        return tuple(d for d in self.open_deals if d.overdue)

    @property
    def next_action(self) -> str:
        """The open deals' next action due first ('' when none is set)."""
        return self._first_action.next_action if self._first_action else ""

    @property
    def next_action_due(self) -> str | None:
        return self._first_action.next_action_due if self._first_action else None

    @property
    def _first_action(self) -> KeyDeal | None:
        return next((d for d in self.open_deals if d.next_action), None)


@dataclass(frozen=True)
class DealAsOf:
    """A deal as it stood at a moment: its stage then (from the stage-change history)."""

    deal_id: int
    account_id: int
    title: str
    stage: str
    kind: str  # 'open' | 'won' | 'lost' of `stage`
    value: Decimal  # in its own currency
    currency: str
    next_action: str  # the current one: Rapport keeps no history of next actions or values
    next_action_due: str | None


def deals_as_of(db: Database, pipeline: Pipeline, as_of_utc: str) -> tuple[DealAsOf, ...]:
    """Every deal that existed before `as_of_utc`, in the stage it was in at that moment.

    The stage then is the target of its last stage change before the moment, else the origin
    of its first change after it, else (never moved) its current stage.
    """
    rows = db.execute(
        """
        SELECT d.id, d.account_id, d.title, d.stage, d.value_minor, d.currency, d.next_action,
               d.next_action_due,
               (SELECT ac.to_stage FROM activities ac
                WHERE ac.deal_id = d.id AND ac.kind = 'stage_change' AND ac.date_utc < :as_of
                ORDER BY ac.date_utc DESC, ac.id DESC LIMIT 1),
               (SELECT ac.from_stage FROM activities ac
                WHERE ac.deal_id = d.id AND ac.kind = 'stage_change' AND ac.date_utc >= :as_of
                ORDER BY ac.date_utc, ac.id LIMIT 1)
        FROM deals d
        WHERE d.created_utc < :as_of
        ORDER BY d.id""",
        {"as_of": as_of_utc},
    ).fetchall()
    found = []
    for deal_id, account_id, title, current, value, currency, action, due, before, after in rows:
        stage = before or after or current
        known = pipeline.get(stage)
        found.append(
            DealAsOf(
                int(deal_id),
                int(account_id),
                title,
                known.name if known else stage,
                known.kind if known else "open",  # as pipeline_by_stage treats unknown stages
                from_minor(value, currency),
                currency,
                action or "",
                due,
            )
        )
    return tuple(found)


def key_accounts(
    db: Database,
    pipeline: Pipeline,
    as_of_utc: str,
    *,
    won_in_period: tuple[ClosedDeal, ...],
    objections: tuple[OpenObjection, ...],
    complaints: tuple[OpenObjection, ...],
    contacts: dict[int, str | None],
    exchange: Exchange | None = None,
) -> tuple[KeyAccount, ...]:
    """Key-tier accounts as they stood at `as_of_utc`: revenue, last contact, what is open.

    The report's own won list, open objections and complaints and last contacts (all as of
    `as_of_utc`) are passed in and split per account, not read again."""
    exchange = exchange or Exchange()
    deals = deals_as_of(db, pipeline, as_of_utc)
    won_total = _in_base(exchange, [d for d in deals if d.kind == "won"])
    due_before = as_of_day(as_of_utc).isoformat()
    # Grouped once: a book may have thousands of key accounts and deals.
    deals_of = _by_account(deals)
    objections_of = _by_account(objections)
    complaints_of = _by_account(complaints)
    won_in_period_of = _by_account(won_in_period)
    rows = db.execute(
        "SELECT id, name FROM accounts WHERE tier = 'key' ORDER BY name COLLATE NOCASE"
    ).fetchall()
    result = []
    for account_id, name in rows:
        mine = deals_of.get(account_id, [])
        won = _in_base(exchange, [d for d in mine if d.kind == "won"])
        open_deals = _open_key_deals(mine, due_before, exchange)
        result.append(
            KeyAccount(
                int(account_id),
                name,
                rounded(won, exchange.base),
                rounded(sum((d.base_value for d in won_in_period_of.get(account_id, [])
                             if d.base_value is not None), Decimal(0)), exchange.base),
                float(round(100 * won / won_total, 1)) if won_total else 0.0,
                contacts.get(int(account_id)),
                open_deals,
                tuple(objections_of.get(account_id, [])),
                tuple(complaints_of.get(account_id, [])),
                rounded(sum((d.base_value for d in open_deals if d.base_value is not None),
                            Decimal(0)), exchange.base),
                sum(1 for d in mine if d.kind != "lost" and exchange.rate_of(d.currency) is None),
            )
        )
    return tuple(result)


_Owned = TypeVar("_Owned", "DealAsOf", OpenObjection, ClosedDeal)


def _by_account(items: tuple[_Owned, ...]) -> dict[int, list[_Owned]]:
    grouped: dict[int, list[_Owned]] = {}
    for item in items:
        grouped.setdefault(item.account_id, []).append(item)
    return grouped


def _in_base(exchange: Exchange, deals: list[DealAsOf]) -> Decimal:
    """The deals' value in the base currency, exact; those without a rate are left out."""
    converted = (exchange.to_base(d.value, d.currency) for d in deals)
    return sum((v for v in converted if v is not None), Decimal(0))


def _open_key_deals(
    deals: list[DealAsOf], due_before: str, exchange: Exchange
) -> tuple[KeyDeal, ...]:
    """The open ones of `deals`, next action due first (undated, then without action, last)."""
    open_deals = [d for d in deals if d.kind == "open"]
    open_deals.sort(
        key=lambda d: (not d.next_action, d.next_action_due is None, d.next_action_due or "",
                       d.deal_id)
    )
    return tuple(
        KeyDeal(
            d.deal_id,
            d.title,
            d.stage,
            d.value,
            d.currency,
            d.next_action,
            d.next_action_due,
            bool(d.next_action and d.next_action_due and d.next_action_due < due_before),
            _rounded_or_none(exchange, d),
        )
        for d in open_deals
    )


def _rounded_or_none(exchange: Exchange, deal: DealAsOf) -> Decimal | None:
    in_base = exchange.to_base(deal.value, deal.currency)
    return None if in_base is None else rounded(in_base, exchange.base)
