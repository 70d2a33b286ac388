"""Provides `BookActions`: the TUI's forms, decisions and archiving, each one undo step.

Like `Actions` (whose undo journal it shares): text in, one store call, a one-line summary out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapport.store.book import accounts, archive, contacts, deals, decisions
from rapport.store.book.stages import Pipeline
from rapport.store.errors import RapportError
from rapport.tui.app.actions import Actions, ModuleOnFirstUse

if TYPE_CHECKING:
    from rapport.store.book import dates, fields, records
else:
    # The forms' parsers (dateutil's among them) load with the first form, not at launch.
    dates, fields, records = (ModuleOnFirstUse(f"rapport.store.book.{name}")
                              for name in ("dates", "fields", "records"))


@dataclass
class BookActions:
    """Create, edit, decide and archive; `actions` gives the connection, `today` and the journal."""

    actions: Actions

    @property
    def pipeline(self) -> Pipeline:
        return self.actions.opened.config.pipeline

    @property
    def db(self):  # noqa: ANN201 (the store's Database)
        return self.actions.db

    # -- forms --------------------------------------------------------------
    def save_account(self, values: Mapping[str, str], account_id: int | None) -> str:
        label = "new account" if account_id is None else "account edit"
        account = self.actions.undoable(
            f"{label} {values.get('name', '')}".strip(),
            lambda: records.save_account(self.db, values, account_id))
        return f"account {account.name} {'created' if account_id is None else 'saved'}"

    def save_contact(self, values: Mapping[str, str], contact_id: int | None) -> str:
        who = values.get("name") or values.get("email") or ""
        label = "new contact" if contact_id is None else "contact edit"
        contact = self.actions.undoable(f"{label} {who}".strip(),
                                        lambda: records.save_contact(self.db, values, contact_id))
        return f"contact {contact.name or contact.email} {'created' if contact_id is None else 'saved'}"

    def save_deal(self, values: Mapping[str, str], deal_id: int | None) -> str:
        label = "new deal" if deal_id is None else "deal edit"
        deal = self.actions.undoable(f"{label} {values.get('title', '')}".strip(), lambda: records.save_deal(
            self.db, values, pipeline=self.pipeline, today=self.actions.today, deal_id=deal_id))
        return f"deal {deal.title} ({deal.account_name}) {'created' if deal_id is None else 'saved'}"

    def read_back(self, text: str) -> str:
        """A typed date as it will be saved ('Fri 11 Dec 2026 (in 6 days)'), or why it is not a date."""
        if not text.strip():
            return ""
        try:
            return "→ " + dates.describe_when(text, self.actions.today)
        except RapportError as exc:
            return exc.message

    def account_values(self, account_id: int) -> dict[str, str]:
        return records.account_values(accounts.get_account(self.db, account_id))

    def contact_values(self, contact_id: int) -> dict[str, str]:
        return records.contact_values(self.db, contacts.get_contact(self.db, contact_id))

    def deal_values(self, deal_id: int) -> dict[str, str]:
        return records.deal_values(deals.get_deal(self.db, deal_id))

    def contacts_of(self, account_id: int) -> list[contacts.Contact]:
        return contacts.list_contacts(self.db, account_id)

    def deals_of(self, account_id: int) -> list[deals.Deal]:
        return deals.list_deals(self.db, account_id=account_id)

    # -- decisions ----------------------------------------------------------
    def status(self, deal_id: int) -> str:
        return decisions.deal_status(deals.get_deal(self.db, deal_id), self.pipeline)

    def check_value(self, text: str) -> None:
        if text.strip():
            fields.parse_amount(text)

    def win(self, deal_id: int, value_text: str) -> str:
        value = fields.parse_amount(value_text) if value_text.strip() else None
        deal = deals.get_deal(self.db, deal_id)
        won = self.actions.undoable(f"won {deal.title}", lambda: decisions.win_deal(
            self.db, deal_id, pipeline=self.pipeline, value=value))
        return f"{won.account_name}: {won.title} won at {decisions.money_text(won.value)} {won.currency}"

    def lose(self, deal_id: int, reason: str, note: str) -> str:
        deal = deals.get_deal(self.db, deal_id)
        lost = self.actions.undoable(f"lost {deal.title}", lambda: decisions.lose_deal(
            self.db, deal_id, reason, pipeline=self.pipeline, note=note))
        return f"{lost.account_name}: {lost.title} lost ({lost.lost_reason})"

    def reopen(self, deal_id: int) -> str:
        deal = deals.get_deal(self.db, deal_id)
        back = self.actions.undoable(f"reopen {deal.title}", lambda: decisions.reopen_deal(
            self.db, deal_id, pipeline=self.pipeline))
        return f"{back.account_name}: {back.title} reopened in {back.stage}"

    # -- archive and undo ---------------------------------------------------
    def archive(self, kind: str, item_id: int, name: str) -> str:
        changed = self.actions.undoable(f"archive {kind} {name}", lambda: archive.archive(self.db, kind, item_id))
        return f"{kind} {name} archived" if changed else f"{kind} {name} was archived already"

    def undo(self) -> str:
        label = self.actions.undo()
        return "nothing to undo" if label is None else f"undone: {label}"
