"""Provides `Actions`: the TUI's calls into the store (parsing what was typed, then one store call)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from rapport.store.book import accounts, activities, contacts, deals, decisions
from rapport.store.book.undo import UndoJournal
from rapport.store.errors import InputError
from rapport.store.session import OpenWorkspace
from rapport.store.views import queries

T = TypeVar("T")


class ModuleOnFirstUse:
    """A module imported when first used: the mail store's modules (matching, bounces, messages)
    are not needed to paint the launch, and cost it ~10 ms."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


if TYPE_CHECKING:
    from rapport.store.book import dates
    from rapport.store.db import Database
    from rapport.store.mailstore import bounces, corrections, matching, messages, newcomers, why
else:
    bounces, corrections, matching, messages, newcomers, why = (
        ModuleOnFirstUse(f"rapport.store.mailstore.{name}")
        for name in ("bounces", "corrections", "matching", "messages", "newcomers", "why"))
    dates = ModuleOnFirstUse("rapport.store.book.dates")  # dateutil's parser: ~8 ms at launch


@dataclass
class Actions:
    """Everything the screens change goes through here; `today` is injected (tests fix it)."""

    opened: OpenWorkspace
    today: date
    journal: UndoJournal = field(default_factory=UndoJournal)
    """The session's undo history: every change below is one step (ctrl+z undoes the newest)."""

    @property
    def db(self) -> Database:
        return self.opened.db

    def undoable(self, label: str, change: Callable[[], T]) -> T:
        """Run `change` as one undo step named `label` (what the undo notification says)."""
        return self.journal.record(self.db, label, change)

    def undo(self) -> str | None:
        """Undo the newest step of this session; its label, or None when there is nothing to undo."""
        return self.journal.undo(self.db)

    def using(self, db: Database) -> Actions:
        """The same actions on another connection (a worker thread's own)."""
        return replace(self, opened=replace(self.opened, db=db))

    # -- pipeline ---------------------------------------------------------
    def pipeline_index(self) -> queries.PipelineIndex:
        """Each stage's figures and where its deals start in the pane; no deal is read."""
        return queries.pipeline_index(self.db, self.opened.config.pipeline, self.today,
                                      self.opened.config.money)

    def pipeline_page(self, index: queries.PipelineIndex, offset: int, limit: int) -> list[queries.PipelineRow]:
        return queries.pipeline_page(self.db, index, offset, limit)

    def pipeline_position(self, index: queries.PipelineIndex, deal_id: int) -> int | None:
        return queries.pipeline_position(self.db, index, deal_id)

    def pipeline_rows(self) -> list[queries.PipelineRow]:
        """The whole pane at once (tests); the pane itself pages."""
        index = self.pipeline_index()
        return self.pipeline_page(index, 0, index.total)

    def move_deal(self, deal_id: int, stage: str) -> deals.Deal:
        """Among open stages only: won and lost are decisions (BookActions)."""
        deal = deals.get_deal(self.db, deal_id)
        return self.undoable(f"stage move of {deal.title} ({deal.stage} → {stage})",
                             lambda: decisions.move_open_deal(self.db, deal_id, stage,
                                                              pipeline=self.opened.config.pipeline))

    def check_due(self, text: str) -> date | None:
        return dates.parse_due_date(text, self.today) if text.strip() else None

    def set_next_action(self, deal_id: int, text: str, due_text: str) -> deals.Deal:
        due = self.check_due(due_text)
        return self.undoable("next action", lambda: deals.set_next_action(self.db, deal_id, text.strip(), due))

    def _parse_deal_edit(self, text: str, currency: str
                         ) -> tuple[Decimal | None, float | None, date | None]:
        """(value, probability, expected close); a blank value is None: keep the deal's."""
        parts = [part.strip() for part in text.split(";")]
        if len(parts) != 3:
            raise InputError("expected: value; probability; expected close (blank allowed)")
        value = deals.check_value(parts[0].replace(",", ""), currency) if parts[0] else None
        try:
            probability = float(parts[1].rstrip("%")) if parts[1] else None
        except ValueError:
            raise InputError(f"not a number: {parts[1]!r}") from None
        probability = deals.check_probability(probability)
        close = dates.parse_due_date(parts[2], self.today) if parts[2] else None
        return value, probability, close

    def check_deal_edit(self, text: str, currency: str) -> None:
        """InputError for a bad edit; the value is checked against the deal's `currency`."""
        self._parse_deal_edit(text, currency)

    def edit_deal(self, deal_id: int, text: str) -> deals.Deal:
        """`value; probability; close`: a blank value keeps it, blank probability is the stage default."""
        value, probability, close = self._parse_deal_edit(text, deals.get_deal(self.db, deal_id).currency)
        if value is None:
            return self.undoable("deal edit", lambda: deals.update_deal(
                self.db, deal_id, probability=probability, expected_close=close))
        return self.undoable("deal edit", lambda: deals.update_deal(
            self.db, deal_id, value=value, probability=probability, expected_close=close))

    # -- inbox ------------------------------------------------------------
    def set_seen(self, message_id: int, seen: bool) -> None:
        messages.set_flags(self.db, message_id, seen=seen)

    def message_accounts(self, message_id: int) -> list[tuple[int, str]]:
        """(id, name) of the accounts the message belongs to (its links only, not the whole message)."""
        return [(link[0], link[1]) for link in messages.message_accounts(self.db, [message_id]).get(message_id, [])]

    def account_ids(self, message_id: int) -> list[int]:
        return [account_id for account_id, _name in self.message_accounts(message_id)]

    def account_archived(self, account_id: int) -> bool:
        return accounts.get_account(self.db, account_id).archived_utc is not None

    def account_name(self, account_id: int) -> str:
        return accounts.get_account(self.db, account_id).name

    def search_accounts(self, text: str, limit: int = 8) -> list[accounts.Account]:
        return accounts.search_accounts(self.db, text, limit=limit) if text.strip() else []

    def assign(self, message_ids: list[int], account_id: int) -> str:
        def assign_all() -> None:
            for message_id in message_ids:
                corrections.assign_message(self.db, message_id, account_id)

        self.undoable(f"assign to {self.account_name(account_id)}", assign_all)
        return f"{_count(message_ids)} assigned to {self.account_name(account_id)}"

    def unassign(self, message_ids: list[int], account_id: int) -> str:
        def unassign_all() -> None:
            for message_id in message_ids:
                corrections.unassign_message(self.db, message_id, account_id)

        self.undoable(f"unassign from {self.account_name(account_id)}", unassign_all)
        return f"{_count(message_ids)} unassigned from {self.account_name(account_id)}"

    def move(self, message_ids: list[int], account_id: int) -> str:
        """Assign to `account_id` and unassign from every other account the messages had."""
        def change() -> None:
            for message_id in message_ids:
                for old in self.account_ids(message_id):
                    if old != account_id:
                        corrections.unassign_message(self.db, message_id, old)
                corrections.assign_message(self.db, message_id, account_id)

        self.undoable(f"move to {self.account_name(account_id)}", change)
        return f"{_count(message_ids)} moved to {self.account_name(account_id)}"

    def sender_domain(self, from_addr: str) -> tuple[str, bool]:
        """The sender's domain and whether it is freemail (gmail.com cannot identify an account)."""
        domain = matching.domain_of(from_addr)
        return domain, domain in matching.freemail_domains()

    def sender_owner(self, from_addr: str) -> str | None:
        """The account the sender already belongs to (as a contact, or by domain), if any."""
        contact = contacts.find_contact_by_email(self.db, from_addr)
        if contact is not None and contact.account_id is not None:
            return accounts.get_account(self.db, contact.account_id).name
        if "@" not in from_addr:
            return None
        owner = accounts.find_account(self.db, "@" + matching.domain_of(from_addr))
        return owner.name if owner is not None else None

    def create_account_for(self, message_id: int, name: str) -> str:
        account, contact = self.undoable(f"new account {name.strip()}", lambda: newcomers.account_from_sender(
            self.db, message_id, name=name.strip()))
        linked = len(matching.linked_message_ids(self.db, account.id))
        return (f"created account {account.name} ({', '.join(account.domains)}) with contact {contact.name}; "
                f"{linked} message{'s' if linked != 1 else ''} linked")

    # -- account ----------------------------------------------------------
    def open_deals(self, account_id: int) -> list[deals.Deal]:
        """The account's deals that can take a pin or an activity (not won or lost)."""
        pipeline = self.opened.config.pipeline
        return [deal for deal in deals.list_deals(self.db, account_id=account_id)
                if (stage := pipeline.get(deal.stage)) is None or stage.kind == "open"]

    def activity_deals(self, account_id: int, kind: str) -> list[deals.Deal]:
        """The deals a new activity can be for: the open ones; for a complaint the won ones too
        (support after the sale), never the lost ones."""
        if kind != "complaint":
            return self.open_deals(account_id)
        pipeline = self.opened.config.pipeline
        return [deal for deal in deals.list_deals(self.db, account_id=account_id)
                if (stage := pipeline.get(deal.stage)) is None or stage.kind != "lost"]

    def add_activity(self, account_id: int, kind: str, body: str, deal_id: int | None) -> None:
        self.undoable(f"new {kind}", lambda: activities.add_activity(self.db, account_id, kind, body=body,
                                                                    deal_id=deal_id))

    def resolve(self, activity_id: int) -> None:
        kind = activities.get_activity(self.db, activity_id).kind
        self.undoable(f"resolve {kind}", lambda: activities.resolve_objection(self.db, activity_id))

    def pin(self, thread_id: str, deal_id: int) -> str:
        self.undoable("pin", lambda: corrections.pin_thread(self.db, thread_id, deal_id,
                                                          pipeline=self.opened.config.pipeline))
        return f"thread pinned to {deals.get_deal(self.db, deal_id).title}"

    def why(self, message_id: int) -> list[str]:
        return [reason.text for reason in why.explain(self.db, message_id)]


    # -- reachability (issue 17) --------------------------------------------
    def acknowledge_optout(self, request_id: int) -> None:
        bounces.acknowledge_optout(self.db, request_id)

    def acknowledge_bounces(self, address: str) -> None:
        bounces.acknowledge_bounces(self.db, address)

    def clear_bounce(self, email: str) -> str:
        """Clear an address's bounce mark by hand; the status line to show."""
        had = bounces.clear_bounce(self.db, email)
        return f"{email}: bounce cleared" if had else f"{email}: had no bounce mark"


def _count(message_ids: list[int]) -> str:
    return "message" if len(message_ids) == 1 else f"{len(message_ids)} messages"
