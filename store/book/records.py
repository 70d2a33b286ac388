"""Provides whole-record saves for the forms and `rapport add`: every field checked, errors per field.

A form sends the text of each field; `save_*` checks them all with the field rules the importers
use (store/book/fields.py), raises `FieldErrors` naming each bad field (nothing written), else
creates or updates the record in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from rapport.store.book import accounts as acc
from rapport.store.book import contacts as con
from rapport.store.book import deals as dls
from rapport.store.book.decisions import deal_status, move_open_deal
from rapport.store.book.fields import (
    parse_amount,
    parse_flag,
    parse_probability,
    parse_stage,
    parse_typed_date,
    split_domains,
    split_emails,
)
from rapport.store.book.stages import Pipeline
from rapport.store.errors import InputError, RapportError
from rapport.store.money.currency import check_currency

if TYPE_CHECKING:
    from sqlite_utils import Database

ACCOUNT_FIELDS = ("name", "domains", "tier", "tags", "notes")
CONTACT_FIELDS = ("account", "name", "email", "role", "phone", "opt_out")
DEAL_FIELDS = ("account", "title", "stage", "value", "currency", "probability", "expected_close",
               "next_action", "due")
T = TypeVar("T")


class FieldErrors(InputError):
    """Bad fields of a record: `errors` maps a field to its one-line reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in errors.items()))
        self.errors = errors


class _Checker:
    """Runs each field's rule, keeping every failure under the field's name."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.errors: dict[str, str] = {}

    def text(self, name: str) -> str:
        return " ".join(str(self.values.get(name, "") or "").split())

    def check(self, name: str, rule: Callable[[str], T], default: Any = None) -> T:
        try:
            return rule(str(self.values.get(name, "") or ""))
        except RapportError as exc:
            self.errors[name] = exc.message
            result: T = default
            return result

    def done(self) -> None:
        if self.errors:
            raise FieldErrors(self.errors)


def _field_of(exc: RapportError, guesses: dict[str, str]) -> FieldErrors:
    """A store refusal (duplicate name, domain owned elsewhere) shown at the field it is about."""
    for word, field_name in guesses.items():
        if word in exc.message:
            return FieldErrors({field_name: exc.message})
    return FieldErrors({next(iter(guesses.values())): exc.message})


def _account_id(db: Database, text: str, *, required: bool) -> int | None:
    clean = " ".join(text.split())
    if not clean:
        if required:
            raise InputError("needs an account (its name or domain)")
        return None
    found = acc.find_account(db, clean)
    if found is None:
        raise InputError(f"unknown account {clean!r}")
    return found.id


def save_account(db: Database, values: Mapping[str, str], account_id: int | None = None) -> acc.Account:
    form = _Checker(values)
    name = form.text("name")
    if not name:
        form.errors["name"] = "an account needs a name"
    domains = form.check("domains", split_domains, [])
    tier = form.check("tier", lambda t: acc.check_tier(t or "standard"), "standard")
    form.done()
    tags, notes = form.text("tags"), str(values.get("notes", "") or "").strip()
    try:
        with db.atomic(), acc.relinking_once(db):
            if account_id is None:
                return acc.create_account(db, name, domains=domains, tier=tier, tags=tags, notes=notes)
            before = acc.get_account(db, account_id)
            acc.update_account(db, account_id, name=name, tier=tier, tags=tags, notes=notes)
            for gone in set(before.domains) - set(domains):
                acc.remove_domain(db, account_id, gone)
            for added in [d for d in domains if d not in before.domains]:
                acc.add_domain(db, account_id, added)
    except RapportError as exc:
        raise _field_of(exc, {"domain": "domains", "name": "name", "tier": "tier"}) from None
    return acc.get_account(db, account_id)


def save_contact(db: Database, values: Mapping[str, str], contact_id: int | None = None) -> con.Contact:
    form = _Checker(values)
    account_id = form.check("account", lambda t: _account_id(db, t, required=False))
    emails = form.check("email", split_emails, [])
    opted_out = form.check("opt_out", lambda t: parse_flag(t, "opt-out"), False)
    name = form.text("name")
    if not name and not emails and "email" not in form.errors:
        form.errors["email"] = "a contact needs a name or an email address"
    for email in emails:
        owner = con.find_contact_by_email(db, email)
        if owner is not None and owner.id != contact_id:
            form.errors["email"] = f"{email} belongs to another contact ({owner.name or owner.id})"
    form.done()
    fields: dict[str, Any] = {"account_id": account_id, "name": name, "emails": emails,
                              "role": form.text("role"), "phone": form.text("phone"),
                              "opted_out": opted_out}
    try:
        if contact_id is None:
            return con.create_contact(db, **fields)
        return con.update_contact(db, contact_id, **fields)
    except RapportError as exc:
        raise _field_of(exc, {"email": "email", "address": "email", "account": "account"}) from None


def save_deal(db: Database, values: Mapping[str, str], *, pipeline: Pipeline, today: date,
              deal_id: int | None = None) -> dls.Deal:
    """Create a deal (in an open stage) or edit one; a decided deal keeps its stage (reopen it)."""
    form = _Checker(values)
    current = dls.get_deal(db, deal_id) if deal_id is not None else None
    account_id = form.check("account", lambda t: _account_id(db, t, required=True))
    title = form.text("title")
    if not title:
        form.errors["title"] = "a deal needs a title"
    decided = current is not None and deal_status(current, pipeline) != "open"
    default_stage = pipeline.first_of("open") or pipeline.stages[0]
    stage = form.check("stage", lambda t: parse_stage(t or default_stage.name, pipeline, open_only=True))
    if decided and current is not None and form.text("stage").casefold() == current.stage.casefold():
        form.errors.pop("stage", None)  # unchanged: the won/lost stage it is in stays
        stage = current.stage
    value = form.check("value", lambda t: parse_amount(t) if t.strip() else Decimal(0), Decimal(0))
    currency = form.check("currency", lambda t: check_currency(t or "EUR"), "EUR")
    probability = form.check("probability", parse_probability)
    close = form.check("expected_close", lambda t: parse_typed_date(t, today))
    due = form.check("due", lambda t: parse_typed_date(t, today))
    next_action = form.text("next_action")
    if due is not None and not next_action:
        form.errors["next_action"] = "a due date needs a next action"
    form.done()
    try:
        with db.atomic():
            if current is None:
                # required=True: form.done() above refused a form without an account.
                assert account_id is not None
                return dls.create_deal(db, account_id, title, str(stage), pipeline=pipeline,
                                       value=value, currency=currency, probability=probability,
                                       expected_close=close, next_action=next_action, next_action_due=due)
            if account_id != current.account_id:
                raise InputError("a deal stays with its account (create a new deal on the other one)")
            dls.update_deal(db, current.id, title=title, value=value, currency=currency,
                            probability=probability, expected_close=close)
            if stage != current.stage:
                move_open_deal(db, current.id, str(stage), pipeline=pipeline)
            dls.set_next_action(db, current.id, next_action, due)
            return dls.get_deal(db, current.id)
    except RapportError as exc:
        raise _field_of(exc, {"title": "title", "account": "account", "stage": "stage"}) from None


def plain_number(value: Decimal | float) -> str:
    """125000 or 12500.5, never 1.25e+05: a number as one types it back."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def account_values(account: acc.Account) -> dict[str, str]:
    return {"name": account.name, "domains": ", ".join(account.domains), "tier": account.tier,
            "tags": ", ".join(account.tags), "notes": account.notes}


def contact_values(db: Database, contact: con.Contact) -> dict[str, str]:
    account = acc.get_account(db, contact.account_id).name if contact.account_id is not None else ""
    return {"account": account, "name": contact.name, "email": ", ".join(contact.emails),
            "role": contact.role, "phone": contact.phone, "opt_out": "yes" if contact.opted_out else "no"}


def deal_values(deal: dls.Deal) -> dict[str, str]:
    return {"account": deal.account_name, "title": deal.title, "stage": deal.stage,
            "value": plain_number(deal.value), "currency": deal.currency,
            "probability": "" if deal.probability is None else plain_number(deal.probability),
            "expected_close": deal.expected_close.isoformat() if deal.expected_close else "",
            "next_action": deal.next_action,
            "due": deal.next_action_due.isoformat() if deal.next_action_due else ""}
