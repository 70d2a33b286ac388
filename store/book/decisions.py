"""Provides the decisions on a deal: mark it won or lost, reopen it, move it among open stages.

Won and lost are decisions, not stage moves: a decided deal sits in the pipeline's first won or
lost stage, remembers the open stage it left (reopen goes back there) and, when lost, why. Each
decision is one transaction and one timeline entry (a stage change with the reason in it).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from rapport.store.book.activities import insert_activity
from rapport.store.book.deals import Deal, check_value, get_deal, move_deal, value_columns
from rapport.store.book.stages import Pipeline
from rapport.store.errors import InputError
from rapport.store.text import clean_text
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database

Status = Literal["open", "won", "lost"]


def deal_status(deal: Deal, pipeline: Pipeline) -> Status:
    """open, won or lost: the kind of the deal's stage (an unknown stage counts as open)."""
    return pipeline.kind(deal.stage)


def check_lost_reason(reason: str, pipeline: Pipeline) -> str:
    """`reason` as configured in `[pipeline] lost_reasons` (any case); InputError listing them."""
    wanted = " ".join(reason.split()).casefold()
    for known in pipeline.lost_reasons:
        if known.casefold() == wanted:
            return known
    raise InputError(f"unknown lost reason {reason.strip()!r} (one of: {', '.join(pipeline.lost_reasons)})")


def _close(db: Database, deal: Deal, target: str, subject: str, body: str, **columns: object) -> Deal:
    now = utc_now_text()
    sets = "".join(f", {column} = ?" for column in columns)
    with db.atomic():
        db.execute(
            f"UPDATE deals SET stage = ?, stage_changed_utc = ?, updated_utc = ?{sets} WHERE id = ?",
            [target, now, now, *columns.values(), deal.id],
        )
        insert_activity(db, deal.account_id, "stage_change", subject=subject, body=body,
                        deal_id=deal.id, date_utc=now, from_stage=deal.stage, to_stage=target)
    return get_deal(db, deal.id)


def _open_deal(db: Database, deal_id: int, pipeline: Pipeline, doing: str) -> Deal:
    deal = get_deal(db, deal_id)
    status = deal_status(deal, pipeline)
    if status != "open":
        raise InputError(f"deal {deal_id} is already {status}; reopen it before {doing}")
    return deal


def win_deal(db: Database, deal_id: int, *, pipeline: Pipeline,
             value: Decimal | float | None = None) -> Deal:
    """Mark an open deal won at `value` (default: its own), into the first won stage."""
    deal = _open_deal(db, deal_id, pipeline, "marking it won")
    stage = pipeline.first_of("won")
    if stage is None:
        raise InputError("the pipeline has no stage of kind won (see [pipeline] stages)")
    final = deal.value if value is None else check_value(value, deal.currency)
    real, minor = value_columns(final, deal.currency)
    return _close(db, deal, stage.name, f"Won at {money_text(final)} {deal.currency}", "",
                  value=real, value_minor=minor, open_stage=deal.stage, lost_reason="",
                  lost_note="")


def lose_deal(db: Database, deal_id: int, reason: str, *, pipeline: Pipeline, note: str = "") -> Deal:
    """Mark an open deal lost for `reason` (one of `[pipeline] lost_reasons`) and an optional note."""
    deal = _open_deal(db, deal_id, pipeline, "marking it lost")
    known = check_lost_reason(reason, pipeline)
    stage = pipeline.first_of("lost")
    if stage is None:
        raise InputError("the pipeline has no stage of kind lost (see [pipeline] stages)")
    text = clean_text(note).strip()
    return _close(db, deal, stage.name, f"Lost: {known}", text,
                  open_stage=deal.stage, lost_reason=known, lost_note=text)


def reopen_target(deal: Deal, pipeline: Pipeline) -> str:
    """The open stage a decided deal goes back to: the one it left, else the last open stage."""
    left = pipeline.get(deal.open_stage) if deal.open_stage else None
    if left is not None and left.kind == "open":
        return left.name
    open_stages = [stage for stage in pipeline.stages if stage.kind == "open"]
    if not open_stages:
        raise InputError("the pipeline has no open stage to reopen the deal in")
    return open_stages[-1].name


def reopen_deal(db: Database, deal_id: int, *, pipeline: Pipeline) -> Deal:
    """Put a won or lost deal back in the open stage it left; its lost reason is cleared."""
    deal = get_deal(db, deal_id)
    if deal_status(deal, pipeline) == "open":
        raise InputError(f"deal {deal_id} is open already")
    target = reopen_target(deal, pipeline)
    return _close(db, deal, target, f"Reopened in {target}", "",
                  open_stage=None, lost_reason="", lost_note="")


def move_open_deal(db: Database, deal_id: int, stage: str, *, pipeline: Pipeline) -> Deal:
    """Move an open deal to another open stage; winning and losing are decisions of their own."""
    deal = _open_deal(db, deal_id, pipeline, "moving it")
    found = pipeline.get(stage)
    if found is None:
        raise InputError(f"unknown stage {stage!r} (stages: {', '.join(pipeline.names)})")
    if found.kind != "open":
        raise InputError(f"{found.name!r} is a {found.kind} stage: use `won` or `lost` to decide a deal")
    if found.name == deal.stage:
        return deal
    return move_deal(db, deal_id, found.name, pipeline=pipeline)


def money_text(value: Decimal | float) -> str:
    """40,000 or 12,500.50: the amount as the timeline and notifications show it."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
