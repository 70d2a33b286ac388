"""Provides deals: what is being sold to an account, where it stands in the pipeline, what is next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rapport.store.book.activities import insert_activity
from rapport.store.book.stages import Pipeline
from rapport.store.errors import InputError, NotFoundError
from rapport.store.money.currency import (
    check_currency,
    exact_amount,
    from_minor,
    to_decimal,
    to_minor,
)
from rapport.store.text import clean_line
from rapport.store.timeutil import parse_date_text, parse_utc_text, utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database

_UNSET: Any = object()


@dataclass(frozen=True)
class Deal:
    """One opportunity. `probability` is an explicit override in percent (None: stage default).

    `value` is exact, in the deal's own `currency` (store/money): totals convert it first."""

    id: int
    account_id: int
    account_name: str
    title: str
    stage: str
    value: Decimal
    currency: str
    probability: float | None
    expected_close: date | None
    next_action: str
    next_action_due: date | None
    created_utc: str
    updated_utc: str
    stage_changed_utc: str
    last_activity_utc: str
    open_stage: str | None = None  # while won or lost: the open stage it left (reopen goes back)
    lost_reason: str = ""
    lost_note: str = ""
    archived_utc: str | None = None


def effective_probability(deal: Deal, pipeline: Pipeline) -> float:
    """100 won, 0 lost, else the deal's own probability or its stage's default (Pipeline's rule)."""
    return pipeline.win_probability(deal.stage, deal.probability)


def weighted_value(deal: Deal, pipeline: Pipeline) -> Decimal:
    """The deal's value times its win probability, exact, in the deal's own currency."""
    return deal.value * to_decimal(effective_probability(deal, pipeline)) / 100


def is_rotting(deal: Deal, pipeline: Pipeline, today: date) -> bool:
    """Idle (no activity) longer than its stage's rotting limit; a limit of 0 never rots."""
    stage = pipeline.get(deal.stage)
    if stage is None or stage.rotting_days <= 0:
        return False
    idle = today - parse_utc_text(deal.last_activity_utc).date()
    return idle.days > stage.rotting_days


_SELECT = (
    "SELECT d.id, d.account_id, a.name, d.title, d.stage, d.value_minor, d.currency, d.probability,"
    " d.expected_close, d.next_action, d.next_action_due, d.created_utc, d.updated_utc,"
    " d.stage_changed_utc, d.last_activity_utc, d.open_stage, d.lost_reason, d.lost_note,"
    " d.archived_utc FROM deals d JOIN accounts a ON a.id = d.account_id"
)


def _row(row: tuple[Any, ...]) -> Deal:
    values = list(row)
    values[5] = from_minor(values[5], values[6])
    values[8] = parse_date_text(values[8])
    values[10] = parse_date_text(values[10])
    return Deal(*values)


# For the views that read deals in their own order and pages (store/views/pipeline_pane.py).
DEAL_SELECT = _SELECT
deal_from_row = _row


def get_deal(db: Database, deal_id: int) -> Deal:
    row = db.execute(f"{_SELECT} WHERE d.id = ?", [deal_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no deal with id {deal_id}")
    return _row(row)


def list_deals(
    db: Database, *, account_id: int | None = None, stage: str | None = None,
    archived: bool = False,
) -> list[Deal]:
    """Deals, optionally of one account and/or one stage, by account name then title.

    Archived deals, and the deals of archived accounts, are left out unless `archived`.
    """
    clauses: list[str] = [] if archived else ["d.archived_utc IS NULL AND a.archived_utc IS NULL"]
    params: list[object] = []
    if account_id is not None:
        clauses.append("d.account_id = ?")
        params.append(account_id)
    if stage is not None:
        clauses.append("d.stage = ? COLLATE NOCASE")
        params.append(stage)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"{_SELECT}{where} ORDER BY a.name COLLATE NOCASE, d.title COLLATE NOCASE, d.id"
    return [_row(row) for row in db.execute(sql, params)]


def _stage_name(stage: str, pipeline: Pipeline) -> str:
    found = pipeline.get(stage)
    if found is None:
        raise InputError(f"unknown stage {stage!r} (stages: {', '.join(pipeline.names)})")
    return found.name


def check_value(value: Any, currency: str = "EUR") -> Decimal:
    """`value` as an exact amount of `currency`: InputError when it is not a number, negative,
    or finer than the currency's minor unit (12.345 EUR, 0.5 JPY)."""
    return exact_amount(value, currency)


def value_columns(value: Decimal, currency: str) -> list[object]:
    """(value, value_minor): the exact minor units, and the REAL kept beside them for hand SQL."""
    return [float(value), to_minor(value, currency)]


def check_probability(probability: Any) -> float | None:
    if probability is None:
        return None
    try:
        number = float(probability)
    except (TypeError, ValueError) as exc:
        raise InputError(f"probability {probability!r} is not a number") from exc
    if not 0 <= number <= 100:
        raise InputError(f"probability {probability!r} must be between 0 and 100 (percent)")
    return number


def _date_text(day: date | None) -> str | None:
    if day is not None and not isinstance(day, date):
        raise InputError(f"{day!r} is not a date")
    return day.isoformat() if day else None


def _check_title_free(db: Database, account_id: int, title: str, deal_id: int | None = None) -> None:
    """InputError when the account has another deal of that title (any case).

    Imports and exports key deals by account and title; two of one title could be created but
    their export would be refused as a duplicate on import.
    """
    row = db.execute(
        "SELECT d.id, a.name FROM deals d JOIN accounts a ON a.id = d.account_id"
        " WHERE d.account_id = ? AND d.title = ? COLLATE NOCASE AND d.id IS NOT ?",
        [account_id, title, deal_id],
    ).fetchone()
    if row:
        raise InputError(f"account {row[1]!r} already has a deal titled {title!r}")


def create_deal(
    db: Database,
    account_id: int,
    title: str,
    stage: str,
    *,
    pipeline: Pipeline,
    value: Decimal | float | int | str = 0,
    currency: str = "EUR",
    probability: float | None = None,
    expected_close: date | None = None,
    next_action: str = "",
    next_action_due: date | None = None,
) -> Deal:
    """Open a deal on an account; InputError on an unknown stage or impossible figures."""
    clean_title = clean_line(title)
    if not clean_title:
        raise InputError("a deal needs a title")
    stage_name = _stage_name(stage, pipeline)
    if not db.execute("SELECT 1 FROM accounts WHERE id = ?", [account_id]).fetchone():
        raise NotFoundError(f"no account with id {account_id}")
    _check_title_free(db, account_id, clean_title)
    now = utc_now_text()
    code = check_currency(currency)
    cursor = db.execute(
        "INSERT INTO deals (account_id, title, stage, value, value_minor, currency, probability,"
        " expected_close, next_action, next_action_due, created_utc, updated_utc,"
        " stage_changed_utc, last_activity_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [account_id, clean_title, stage_name, *value_columns(check_value(value, code), code), code,
         check_probability(probability), _date_text(expected_close), clean_line(next_action),
         _date_text(next_action_due), now, now, now, now],
    )
    return get_deal(db, int(cursor.lastrowid or 0))


def move_deal(db: Database, deal_id: int, to_stage: str, *, pipeline: Pipeline, note: str = "") -> Deal:
    """Move a deal to another stage and record the move on the timeline, in one transaction.

    Any stage (imports set won and lost stages this way); the TUI and `rapport deal ID move`
    use decisions.move_open_deal, which keeps to open stages.
    """
    deal = get_deal(db, deal_id)
    target = _stage_name(to_stage, pipeline)
    if target == deal.stage:
        return deal
    now = utc_now_text()
    with db.atomic():
        db.execute(
            "UPDATE deals SET stage = ?, stage_changed_utc = ?, updated_utc = ? WHERE id = ?",
            [target, now, now, deal_id],
        )
        insert_activity(
            db, deal.account_id, "stage_change", body=note, subject=f"{deal.stage} → {target}",
            deal_id=deal_id, date_utc=now, from_stage=deal.stage, to_stage=target,
        )
    return get_deal(db, deal_id)


def update_deal(
    db: Database,
    deal_id: int,
    *,
    title: str = _UNSET,
    value: Decimal | float | int | str = _UNSET,
    currency: str = _UNSET,
    probability: float | None = _UNSET,
    expected_close: date | None = _UNSET,
) -> Deal:
    """Change the given fields; `probability=None` goes back to the stage default.

    A new currency alone keeps the figure (100 EUR -> 100 USD): it is a correction, not a
    conversion; a figure the new currency cannot hold (100.50 -> JPY) is refused."""
    deal = get_deal(db, deal_id)
    changes: dict[str, object] = {}
    if title is not _UNSET:
        changes["title"] = clean_line(title)
        if not changes["title"]:
            raise InputError("a deal needs a title")
        _check_title_free(db, deal.account_id, str(changes["title"]), deal_id)
    if value is not _UNSET or currency is not _UNSET:
        code = deal.currency if currency is _UNSET else check_currency(currency)
        amount = check_value(deal.value if value is _UNSET else value, code)
        changes["value"], changes["value_minor"] = value_columns(amount, code)
        changes["currency"] = code
    if probability is not _UNSET:
        changes["probability"] = check_probability(probability)
    if expected_close is not _UNSET:
        changes["expected_close"] = _date_text(expected_close)
    if changes:
        changes["updated_utc"] = utc_now_text()
        sets = ", ".join(f"{column} = ?" for column in changes)
        db.execute(f"UPDATE deals SET {sets} WHERE id = ?", [*changes.values(), deal_id])
    return get_deal(db, deal_id)


def set_next_action(db: Database, deal_id: int, text: str, due: date | None) -> Deal:
    """What to do next on the deal and by when (empty text and None clear it)."""
    get_deal(db, deal_id)
    db.execute(
        "UPDATE deals SET next_action = ?, next_action_due = ?, updated_utc = ? WHERE id = ?",
        [clean_line(text), _date_text(due), utc_now_text(), deal_id],
    )
    return get_deal(db, deal_id)


def backdate_deal(
    db: Database, deal_id: int, *, created_utc: str, stage_changed_utc: str, last_activity_utc: str
) -> Deal:
    """Set a deal's history times (imports of old books, the demo): rotting reads these."""
    get_deal(db, deal_id)
    db.execute(
        "UPDATE deals SET created_utc = ?, updated_utc = ?, stage_changed_utc = ?,"
        " last_activity_utc = ? WHERE id = ?",
        [created_utc, last_activity_utc, stage_changed_utc, last_activity_utc, deal_id],
    )
    return get_deal(db, deal_id)
