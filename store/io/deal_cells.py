"""Provides the deal columns of an import row: parsed by the book's field rules, then applied.

An accounts file may carry its account's deal on the same row; a deals file is only deals. Both
read the columns with `parse_deal_cells` and write them with `apply_deal`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from rapport.store.book import deals as dls
from rapport.store.book.fields import parse_amount, parse_date_cell, parse_probability, parse_stage
from rapport.store.book.stages import Pipeline
from rapport.store.errors import RapportError
from rapport.store.io.readers import Row
from rapport.store.money.currency import check_currency

if TYPE_CHECKING:
    from sqlite_utils import Database

_T = TypeVar("_T")

DEAL_COLUMNS = (
    "stage", "value", "currency", "probability", "expected_close", "next_action",
    "next_action_due",
)


def collect(reasons: list[str], func: Callable[[], _T]) -> _T | None:
    """func()'s value, or None with its refusal added to `reasons` (a row names all its faults)."""
    try:
        return func()
    except RapportError as exc:
        reasons.append(exc.message)
        return None


@dataclass
class DealCells:
    """The deal columns of one row, parsed; `present` holds the columns the file has."""

    title: str
    title_given: bool = True
    present: set[str] = field(default_factory=set)
    stage: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    probability: float | None = None
    expected_close: date | None = None
    next_action: str = ""
    next_action_due: date | None = None

    @property
    def empty(self) -> bool:
        return not (self.stage or self.value is not None or self.currency
                    or self.probability is not None or self.expected_close
                    or self.next_action or self.next_action_due)


def parse_deal_cells(row: Row, title: str, pipeline: Pipeline, reasons: list[str], *,
                     european: bool = False) -> DealCells:
    cells = DealCells(title=title, present={c for c in DEAL_COLUMNS if c in row})
    if row.get("stage", ""):
        cells.stage = collect(reasons, lambda: parse_stage(row["stage"], pipeline))
    if row.get("value"):
        cells.value = collect(
            reasons, lambda: parse_amount(row["value"], european=european))
    if row.get("currency"):
        cells.currency = collect(reasons, lambda: check_currency(row["currency"]))
    if row.get("probability"):
        cells.probability = collect(reasons, lambda: parse_probability(row["probability"]))
    for column in ("expected_close", "next_action_due"):
        setattr(cells, column, collect(reasons, partial(parse_date_cell, row.get(column, ""), column)))
    cells.next_action = " ".join(row.get("next_action", "").split())
    return cells


def apply_deal(db: Database, account_id: int, cells: DealCells, pipeline: Pipeline) -> bool:
    """Create or update the account's deal named `cells.title`; True when one was created."""
    row = db.execute(
        "SELECT id FROM deals WHERE account_id = ? AND title = ? COLLATE NOCASE",
        [account_id, cells.title],
    ).fetchone()
    if row is None and not cells.title_given:
        # No deal/title column: the row speaks of "the account's deal" when it has just one.
        only = db.execute(
            "SELECT id FROM deals WHERE account_id = ? LIMIT 2", [account_id]
        ).fetchall()
        row = only[0] if len(only) == 1 else None
    if row is None:
        dls.create_deal(
            db, account_id, cells.title, cells.stage or pipeline.stages[0].name,
            pipeline=pipeline, value=cells.value or 0, currency=cells.currency or "EUR",
            probability=cells.probability, expected_close=cells.expected_close,
            next_action=cells.next_action, next_action_due=cells.next_action_due,
        )
        return True
    deal_id = int(row[0])
    if cells.stage:
        dls.move_deal(db, deal_id, cells.stage, pipeline=pipeline, note="imported")
    changes: dict[str, object] = {}
    if cells.value is not None:
        changes["value"] = cells.value
    if cells.currency:
        changes["currency"] = cells.currency
    # Columns present in the file are authoritative: an empty cell clears the field.
    if "probability" in cells.present:
        changes["probability"] = cells.probability
    if "expected_close" in cells.present:
        changes["expected_close"] = cells.expected_close
    if changes:
        # Only the columns the file has change; each value has its keyword's type.
        dls.update_deal(db, deal_id, **changes)  # type: ignore[arg-type]
    if {"next_action", "next_action_due"} & cells.present:
        current = dls.get_deal(db, deal_id)
        text = cells.next_action if "next_action" in cells.present else current.next_action
        due = cells.next_action_due if "next_action_due" in cells.present else current.next_action_due
        dls.set_next_action(db, deal_id, text, due)
    return False
