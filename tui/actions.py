"""Provides `Actions`: the TUI's calls into the store (parsing what was typed, then one store call)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlite_utils import Database

from rapport.store import accounts, activities, deals, matching, messages, queries
from rapport.store.dates import parse_due_date
from rapport.store.errors import InputError
from rapport.store.session import OpenWorkspace


@dataclass
class Actions:
    """Everything the screens change goes through here; `today` is injected (tests fix it)."""

    opened: OpenWorkspace
    today: date

    @property
    def db(self) -> Database:
        return self.opened.db

    # -- pipeline ---------------------------------------------------------
    def pipeline_rows(self) -> list[queries.PipelineRow]:
        return queries.pipeline_rows(self.db, self.opened.config.pipeline, self.today)

    def move_deal(self, deal_id: int, stage: str) -> deals.Deal:
        return deals.move_deal(self.db, deal_id, stage, pipeline=self.opened.config.pipeline)

    def check_due(self, text: str) -> date | None:
        return parse_due_date(text, self.today) if text.strip() else None

    def set_next_action(self, deal_id: int, text: str, due_text: str) -> deals.Deal:
        return deals.set_next_action(self.db, deal_id, text.strip(), self.check_due(due_text))

    def _parse_deal_edit(self, text: str) -> tuple[float, float | None, date | None]:
        parts = [part.strip() for part in text.split(";")]
        if len(parts) != 3:
            raise InputError("expected: value; probability; expected close (blank allowed)")
        try:
            value = float(parts[0].replace(",", "")) if parts[0] else 0.0
            probability = float(parts[1].rstrip("%")) if parts[1] else None
        except ValueError:
            raise InputError(f"not a number: {parts[0]!r} / {parts[1]!r}") from None
        value = deals.check_value(value)
        probability = deals.check_probability(probability)
        close = parse_due_date(parts[2], self.today) if parts[2] else None
        return value, probability, close

    def check_deal_edit(self, text: str) -> None:
        self._parse_deal_edit(text)

    def edit_deal(self, deal_id: int, text: str) -> deals.Deal:
        value, probability, close = self._parse_deal_edit(text)
        return deals.update_deal(self.db, deal_id, value=value, probability=probability, expected_close=close)

    # -- inbox ------------------------------------------------------------
    def set_seen(self, message_id: int, seen: bool) -> None:
        messages.set_flags(self.db, message_id, seen=seen)

    def account_ids(self, message_id: int) -> list[int]:
        return [link[0] for link in messages.get_message(self.db, message_id).accounts]

    def check_account_name(self, text: str) -> None:
        if accounts.find_account(self.db, text.strip()) is None:
            raise InputError(f"no account named {text.strip()!r}")

    def assign(self, message_id: int, name: str) -> None:
        account = accounts.find_account(self.db, name.strip())
        if account is None:
            raise InputError(f"no account named {name.strip()!r}")
        matching.assign_message(self.db, message_id, account.id)

    def unassign(self, message_id: int, account_id: int) -> None:
        matching.unassign_message(self.db, message_id, account_id)

    def create_account_for(self, name: str, domain: str) -> accounts.Account:
        return accounts.create_account(self.db, name.strip(), domains=(domain,) if domain else ())

    # -- account ----------------------------------------------------------
    def add_activity(self, account_id: int, kind: str, body: str, deal_id: int | None) -> None:
        activities.add_activity(self.db, account_id, kind, body=body, deal_id=deal_id)

    def resolve(self, activity_id: int) -> None:
        activities.resolve_objection(self.db, activity_id)

    def pin(self, thread_id: str, deal_id: int) -> None:
        matching.pin_thread(self.db, thread_id, deal_id, pipeline=self.opened.config.pipeline)

    def why(self, message_id: int) -> list[str]:
        return [reason.text for reason in matching.explain(self.db, message_id)]
