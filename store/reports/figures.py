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
  `stale_after_days` or more.
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlite_utils import Database

from rapport.store.book.deals import Deal, list_deals, weighted_value
from rapport.store.book.stages import Pipeline
from rapport.store.reports.period import Period
from rapport.store.timeutil import parse_utc_text, to_utc_text, utc_now
from rapport.store.views.last_contact import (
    REAL_MAIL,
    StaleAccount,
    as_of_day,
    last_contacts,
    stale_accounts,
)

NO_DATE = "no date"


@dataclass(frozen=True)
class StageFigures:
    stage: str
    kind: str  # 'open' | 'won' | 'lost'
    deals: int
    value: float
    weighted: float


@dataclass(frozen=True)
class ClosedDeal:
    deal_id: int
    account_id: int
    account: str
    title: str
    stage: str
    value: float
    currency: str
    closed_utc: str


@dataclass(frozen=True)
class ForecastMonth:
    month: str  # 'YYYY-MM' or NO_DATE
    deals: int
    value: float
    weighted: float


@dataclass(frozen=True)
class AccountActivity:
    account_id: int
    account: str
    mails_in: int
    mails_out: int
    calls: int
    meetings: int
    notes: int

    @property
    def total(self) -> int:
        return self.mails_in + self.mails_out + self.calls + self.meetings + self.notes


@dataclass(frozen=True)
class FirstResponse:
    """Client waits that began in the period: how many we answered, and the median wait.

    A wait begins with the first client mail of a thread after our last reply (or the thread's
    start) and ends at our next mail in that thread; client follow-ups before that reply belong
    to the same wait. `inbound` counts the client mails of the period (one per Message-ID).
    """

    inbound: int
    waits: int
    answered: int
    median_hours: float | None

    @property
    def unanswered(self) -> int:
        return self.waits - self.answered


@dataclass(frozen=True)
class OpenObjection:
    """An objection (or, in `open_complaints`, a complaint) still open at the "as of" moment."""

    activity_id: int
    account_id: int
    account: str
    date_utc: str
    subject: str
    age_days: int


@dataclass(frozen=True)
class KeyDeal:
    """An open deal of a key account, in its stage at the end of the period."""

    deal_id: int
    title: str
    stage: str
    value: float
    currency: str
    next_action: str  # '' when none is set
    next_action_due: str | None  # YYYY-MM-DD
    overdue: bool  # the next action was due before the last day of the period


@dataclass(frozen=True)
class KeyAccount:
    account_id: int
    account: str
    won_value: float  # everything won up to the end of the period
    won_in_period: float  # what was won during the period (the report's won list)
    revenue_share: float  # percent of all accounts' won value up to the end of the period
    last_contact_utc: str | None
    open_deals: tuple[KeyDeal, ...]  # next action due first, undated last
    open_objections: tuple[OpenObjection, ...]  # oldest first
    open_complaints: tuple[OpenObjection, ...]  # oldest first

    @property
    def open_value(self) -> float:
        return _money(sum(d.value for d in self.open_deals))

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
    lost_reasons: tuple[Any, ...] = ()  # LostReason (store/reports/lost_reasons.py), most value first

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
    def open_value(self) -> float:
        return _money(sum(s.value for s in self.open_stages))

    @property
    def open_weighted(self) -> float:
        return _money(sum(s.weighted for s in self.open_stages))

    @property
    def won_value(self) -> float:
        return _money(sum(d.value for d in self.won))

    @property
    def lost_value(self) -> float:
        return _money(sum(d.value for d in self.lost))


def _money(amount: float | None) -> float:
    # Every format prints the same two-decimal figure, so round once, here.
    return round(float(amount or 0.0), 2) + 0.0


def pipeline_by_stage(deals: list[Deal], pipeline: Pipeline) -> tuple[StageFigures, ...]:
    """Count, value and weighted value per stage of `deals` (every deal; unknown stages last).

    Weighted as the pipeline pane weighs (store/deals.weighted_value), so the two agree."""
    totals: dict[str, list[float]] = {}
    for deal in deals:
        stage = pipeline.get(deal.stage)
        # A stage removed from config while deals used it is refused at open; still, never drop deals.
        key = stage.name if stage else deal.stage
        count, value_sum, weighted_sum = totals.get(key, [0, 0.0, 0.0])
        totals[key] = [count + 1, value_sum + deal.value,
                       weighted_sum + weighted_value(deal, pipeline)]
    known = [(s.name, s.kind) for s in pipeline.stages]
    unknown = sorted((name, "open") for name in totals if pipeline.get(name) is None)
    return tuple(
        StageFigures(name, kind, int(n), _money(value), _money(weighted))
        for name, kind in [*known, *unknown]
        for n, value, weighted in [totals.get(name, [0, 0.0, 0.0])]
    )


def closed_in_period(
    db: Database, pipeline: Pipeline, period: Period
) -> tuple[tuple[ClosedDeal, ...], tuple[ClosedDeal, ...]]:
    """(won, lost): deals that entered a stage of that kind from another kind in the period.

    Read from the stage-change history, so a deal won in March stays won in March when it
    moves on later (Won / support -> Referral, or -> Lost). A deal created in such a stage
    enters it at creation. Each deal counts once per kind, at its last entry in the period,
    with its value; `stage` is the stage it entered then. One read of the history for both.
    """
    rows = db.execute(
        """
        SELECT d.id, a.id, a.name, d.title, d.stage, d.value, d.currency, d.created_utc,
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
    found: dict[str, list[ClosedDeal]] = {"won": [], "lost": []}
    for _, history in itertools.groupby(rows, key=lambda r: r[0]):
        changes = list(history)
        deal_id, account_id, account, title, current, value, currency, created = changes[0][:8]
        for kind, deals in found.items():
            entry = _last_entry(pipeline, period, kind, created, current, changes)
            if entry is not None:
                stage, when = entry
                deals.append(ClosedDeal(int(deal_id), int(account_id), account, title, stage,
                                        _money(value), currency, when))
    for deals in found.values():
        deals.sort(key=lambda d: (d.closed_utc, d.deal_id))
    return tuple(found["won"]), tuple(found["lost"])


def _last_entry(
    pipeline: Pipeline, period: Period, kind: str, created: str, current: str, changes: list[tuple]
) -> tuple[str, str] | None:
    """(stage, moment) of the deal's last entry into a `kind` stage from another kind within
    the period, or None. `changes` are its stage-change rows, oldest first (one all-NULL row
    when it never moved); before the first it was in that change's origin, else in `current`."""
    moves = [(when, origin, target) for *_, when, origin, target in changes if when is not None]
    first = moves[0][1] if moves else current
    entry = None
    for when, origin, target in [(created, None, first), *moves]:
        entered = _kind(pipeline, target) == kind
        if entered and (origin is None or _kind(pipeline, origin) != kind) and _in(period, when):
            known = pipeline.get(target)
            entry = (known.name if known else target, when)
    return entry


def _kind(pipeline: Pipeline, stage: str | None) -> str:
    # A stage gone from the config counts as open, as pipeline_by_stage and deals_as_of do.
    known = pipeline.get(stage) if stage else None
    return known.kind if known else "open"


def forecast_by_month(deals: list[Deal], pipeline: Pipeline) -> tuple[ForecastMonth, ...]:
    """The open ones of `deals` grouped by the month of their expected close; undated ones last."""
    months: dict[str | None, list[float]] = {}
    for deal in deals:
        if _kind(pipeline, deal.stage) != "open":
            continue
        month = deal.expected_close.isoformat()[:7] if deal.expected_close else None
        count, value_sum, weighted_sum = months.get(month, [0, 0.0, 0.0])
        months[month] = [count + 1, value_sum + deal.value,
                         weighted_sum + weighted_value(deal, pipeline)]
    order = sorted(months, key=lambda m: (m is None, m or ""))
    return tuple(
        ForecastMonth(month or NO_DATE, int(n), _money(value), _money(weighted))
        for month in order
        for n, value, weighted in [months[month]]
    )


def activity_per_account(db: Database, period: Period) -> tuple[AccountActivity, ...]:
    """Per account with anything in the period: mails in/out, calls, meetings, notes."""
    rows = db.execute(
        f"""
        WITH mail AS (
            SELECT ma.account_id,
                   count(DISTINCT CASE WHEN m.direction = 'in' THEN m.message_id END) AS mails_in,
                   count(DISTINCT CASE WHEN m.direction = 'out' THEN m.message_id END) AS mails_out
            FROM message_accounts ma
            JOIN messages m ON m.id = ma.message_id
            JOIN folders f ON f.id = m.folder_id
            WHERE m.date_utc >= :start AND m.date_utc < :end AND {REAL_MAIL}
            GROUP BY ma.account_id
        ), acts AS (
            SELECT account_id,
                   sum(kind = 'call') AS calls, sum(kind = 'meeting') AS meetings,
                   sum(kind = 'note') AS notes
            FROM activities
            WHERE date_utc >= :start AND date_utc < :end AND kind IN ('call', 'meeting', 'note')
            GROUP BY account_id
        )
        SELECT a.id, a.name, coalesce(mail.mails_in, 0), coalesce(mail.mails_out, 0),
               coalesce(acts.calls, 0), coalesce(acts.meetings, 0), coalesce(acts.notes, 0)
        FROM accounts a
        LEFT JOIN mail ON mail.account_id = a.id
        LEFT JOIN acts ON acts.account_id = a.id
        WHERE mail.account_id IS NOT NULL OR acts.account_id IS NOT NULL""",
        {"start": period.start_utc, "end": period.end_utc},
    ).fetchall()
    found = [AccountActivity(int(r[0]), r[1], *(int(x) for x in r[2:])) for r in rows]
    found.sort(key=lambda a: (-a.total, a.account.casefold()))
    return tuple(found)


def first_response(db: Database, period: Period) -> FirstResponse:
    """Median time from the start of each client wait begun in the period to our reply."""
    params = {"start": period.start_utc, "end": period.end_utc}
    # Whole threads that had client mail in the period: a wait may have begun before it.
    rows = db.execute(
        f"""
        WITH client AS (
            SELECT m.id FROM messages m JOIN folders f ON f.id = m.folder_id
            WHERE m.direction = 'in' AND {REAL_MAIL}
              AND EXISTS (SELECT 1 FROM message_accounts ma WHERE ma.message_id = m.id)
        ), threads AS (
            SELECT DISTINCT m.thread_id FROM messages m JOIN client c ON c.id = m.id
            WHERE m.date_utc >= :start AND m.date_utc < :end
        )
        SELECT m.thread_id, m.direction, min(m.date_utc) AS sent
        FROM messages m JOIN folders f ON f.id = m.folder_id
        WHERE m.thread_id IN (SELECT thread_id FROM threads) AND {REAL_MAIL}
          AND (m.direction = 'out' OR m.id IN (SELECT id FROM client))
        GROUP BY m.thread_id, m.message_id, m.direction
        -- At the same second our mail comes first: it cannot answer what arrived with it.
        ORDER BY m.thread_id, sent, m.direction = 'in'""",
        params,
    ).fetchall()
    inbound = sum(1 for _, direction, sent in rows if direction == "in" and _in(period, sent))
    waits = [w for w in _client_waits(rows) if _in(period, w[0])]
    hours = [
        (parse_utc_text(reply) - parse_utc_text(began)).total_seconds() / 3600
        for began, reply in waits
        if reply is not None
    ]
    median = round(statistics.median(hours), 2) if hours else None
    return FirstResponse(inbound, len(waits), len(hours), median)


def _client_waits(rows: list[tuple[str, str, str]]) -> list[tuple[str, str | None]]:
    """(began, replied or None) per wait, from (thread, direction, sent) rows in thread order."""
    waits: list[tuple[str, str | None]] = []
    thread, waiting_since = None, None
    for thread_id, direction, sent in rows:
        if thread_id != thread:
            if waiting_since is not None:
                waits.append((waiting_since, None))
            thread, waiting_since = thread_id, None
        if direction == "in" and waiting_since is None:
            waiting_since = sent
        elif direction == "out" and waiting_since is not None:
            waits.append((waiting_since, sent))
            waiting_since = None
    if waiting_since is not None:
        waits.append((waiting_since, None))
    return waits


def _in(period: Period, utc_text: str) -> bool:
    return period.start_utc <= utc_text < period.end_utc


def open_objections(db: Database, as_of_utc: str) -> tuple[OpenObjection, ...]:
    """Objections raised before `as_of_utc` and not resolved by then, oldest first."""
    return _still_open(db, as_of_utc, "objection")


def open_complaints(db: Database, as_of_utc: str) -> tuple[OpenObjection, ...]:
    """Complaints made before `as_of_utc` and not resolved by then, oldest first."""
    return _still_open(db, as_of_utc, "complaint")


def _still_open(db: Database, as_of_utc: str, kind: str) -> tuple[OpenObjection, ...]:
    rows = db.execute(
        """
        SELECT ac.id, a.id, a.name, ac.date_utc, coalesce(nullif(ac.subject, ''), ac.body)
        FROM activities ac JOIN accounts a ON a.id = ac.account_id
        WHERE ac.kind = :kind AND ac.date_utc < :as_of
          AND (coalesce(ac.resolved, 0) = 0 OR ac.resolved_utc >= :as_of)
        ORDER BY ac.date_utc, ac.id""",
        {"as_of": as_of_utc, "kind": kind},
    ).fetchall()
    as_of = as_of_day(as_of_utc)
    return tuple(
        OpenObjection(int(i), int(a), name, when, _first_line(text), (as_of - _day(when)).days)
        for i, a, name, when, text in rows
    )


@dataclass(frozen=True)
class DealAsOf:
    """A deal as it stood at a moment: its stage then (from the stage-change history)."""

    deal_id: int
    account_id: int
    title: str
    stage: str
    kind: str  # 'open' | 'won' | 'lost' of `stage`
    value: float
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
        SELECT d.id, d.account_id, d.title, d.stage, d.value, d.currency, d.next_action,
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
                _money(value),
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
) -> tuple[KeyAccount, ...]:
    """Key-tier accounts as they stood at `as_of_utc`: revenue, last contact, what is open.

    The report's own won list, open objections and complaints and last contacts (all as of
    `as_of_utc`) are passed in and split per account, not read again."""
    deals = deals_as_of(db, pipeline, as_of_utc)
    won_total = sum(d.value for d in deals if d.kind == "won")
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
        won = sum(d.value for d in mine if d.kind == "won")
        result.append(
            KeyAccount(
                int(account_id),
                name,
                _money(won),
                _money(sum(d.value for d in won_in_period_of.get(account_id, []))),
                round(100.0 * won / won_total, 1) if won_total else 0.0,
                contacts.get(int(account_id)),
                _open_key_deals(mine, due_before),
                tuple(objections_of.get(account_id, [])),
                tuple(complaints_of.get(account_id, [])),
            )
        )
    return tuple(result)


_Owned = TypeVar("_Owned", "DealAsOf", OpenObjection, ClosedDeal)


def _by_account(items: tuple[_Owned, ...]) -> dict[int, list[_Owned]]:
    grouped: dict[int, list[_Owned]] = {}
    for item in items:
        grouped.setdefault(item.account_id, []).append(item)
    return grouped


def _open_key_deals(deals: list[DealAsOf], due_before: str) -> tuple[KeyDeal, ...]:
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
        )
        for d in open_deals
    )


def _day(utc_text: str) -> date:
    return parse_utc_text(utc_text).date()




def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0][:120] if (text or "").strip() else ""


def build_report(
    db: Database,
    pipeline: Pipeline,
    period: Period,
    *,
    stale_after_days: int,
    now: datetime | None = None,
) -> Report:
    """Every figure of the report for `period`; `now` fixes the clock (tests, reproducible runs).

    All the queries read one snapshot of the database (a read transaction), so a sync or an
    edit landing meanwhile cannot make one section disagree with another.
    """
    moment = now or utc_now()
    now_text = to_utc_text(moment)
    # Figures "as of" stop at the end of the period, or now while the period is still running.
    as_of = min(period.end_utc, _next_second(now_text))
    with read_snapshot(db):
        return _build(db, pipeline, period, stale_after_days, as_of, now_text)


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
) -> Report:
    contacts = last_contacts(db, as_of)
    deals = list_deals(db)  # the book as it is now: pipeline, forecast, currencies
    won, lost = closed_in_period(db, pipeline, period)
    objections = open_objections(db, as_of)
    complaints = open_complaints(db, as_of)
    return Report(
        period=period,
        as_of_utc=as_of,
        generated_utc=now_text,
        currencies=tuple(sorted({d.currency for d in deals})),
        stale_after_days=stale_after_days,
        stages=pipeline_by_stage(deals, pipeline),
        won=won,
        lost=lost,
        forecast=forecast_by_month(deals, pipeline),
        activity=activity_per_account(db, period),
        first_response=first_response(db, period),
        open_objections=objections,
        open_complaints=complaints,
        stale_accounts=stale_accounts(db, as_of, stale_after_days, contacts),
        key_accounts=key_accounts(db, pipeline, as_of, won_in_period=won, objections=objections,
                                  complaints=complaints, contacts=contacts),
        lost_reasons=_lost_reasons(db, lost),
    )


def _lost_reasons(db: Database, lost: tuple[ClosedDeal, ...]) -> tuple[Any, ...]:
    from rapport.store.reports.lost_reasons import lost_reasons  # it imports ClosedDeal from here

    return lost_reasons(db, lost)


def _next_second(utc_text: str) -> str:
    # `now` itself is included in "as of now": the bound is exclusive.
    return to_utc_text(parse_utc_text(utc_text) + timedelta(seconds=1))
