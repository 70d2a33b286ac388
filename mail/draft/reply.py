"""Provides `prepare_reply` and `prepare_new`: what a template renders into, ready for compose.

A reply sees the message, its sender's contact and account, and the deal the thread is about:
the deal the thread is pinned to, else the account's open deal (`account_deal`). A new mail sees
the contact it is for, the contact's account and a deal (given, else the account's).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from sqlite_utils import Database

from rapport.mail.draft.context import account_deal, build_context, display_address
from rapport.mail.draft.render import Draft, DraftTemplate, load_template, render_draft
from rapport.mail.send.compose import Thread, new_draft, reply_draft
from rapport.store.book.accounts import find_account, get_account
from rapport.store.book.contacts import Contact, find_contact_by_email, normalize_email
from rapport.store.book.deals import Deal, get_deal
from rapport.store.config import Config
from rapport.store.errors import InputError, NotFoundError
from rapport.store.mailstore.corrections import deal_for_message
from rapport.store.mailstore.messages import Message


@dataclass(frozen=True)
class PreparedReply:
    draft: Draft
    thread: Thread
    account_id: int | None
    contact_id: int | None
    deal_id: int | None = None


@dataclass(frozen=True)
class PreparedNew:
    draft: Draft
    account_id: int | None
    contact_id: int | None
    deal_id: int | None


def load_kind(templates_dir: Path, name: str, kind: str, command: str) -> DraftTemplate:
    """The template `name`, refused with one line when it is not of `kind`."""
    template = load_template(templates_dir, name)
    if template.kind != kind:
        article = "an" if template.kind[0] in "aeiou" else "a"
        raise InputError(f"template {name!r} is {article} {template.kind} template; {command} "
                         f"needs kind = {kind!r}")
    return template


def _thread_deal(db: Database, config: Config, message: Message,
                 account_id: int | None) -> Deal | None:
    pinned = deal_for_message(db, message.id)
    if pinned is not None:
        return get_deal(db, pinned)
    return account_deal(db, config.pipeline, account_id)


def prepare_reply(db: Database, config: Config, templates_dir: Path, message: Message,
                  template_name: str, *, today: date | None = None,
                  account_id: int | None = None) -> PreparedReply:
    """Render `template_name` for a reply to `message` (account: given, linked, or the sender's)."""
    template = load_kind(templates_dir, template_name, "reply", "a reply")
    contact = find_contact_by_email(db, message.from_addr) if message.from_addr else None
    if account_id is None:
        account_id = message.accounts[0][0] if message.accounts else (
            contact.account_id if contact else None)
    account = get_account(db, account_id) if account_id is not None else None
    deal = _thread_deal(db, config, message, account_id)
    context = build_context(config.me, today=today or date.today(), account=account,
                            contact=contact, deal=deal, message=message)
    draft, thread = reply_draft(render_draft(template, context), message, config.me)
    return PreparedReply(draft, thread, account_id, contact.id if contact else None,
                         deal.id if deal else None)


def _recipient(db: Database, to: str) -> tuple[Contact, int | None]:
    """The contact with this address, else a bare one of the account owning its domain; an
    address neither knows is refused (a template would only fail on the missing account)."""
    try:
        email = normalize_email(to)
    except InputError as exc:
        raise InputError(f"--to: {exc.message}") from exc
    contact = find_contact_by_email(db, email)
    if contact is not None:
        return contact, contact.account_id
    account = find_account(db, email)
    if account is None:  # nobody to write as: no name, no account, no deal to render
        raise InputError(f"no contact {email} (and no account with its domain); add it with "
                         "rapport import contacts FILE")
    return Contact(0, account.id if account else None, "", (email,), "", "", False), (
        account.id if account else None)


def prepare_new(db: Database, config: Config, templates_dir: Path, template_name: str, *,
                to: str, deal_id: int | None = None, today: date | None = None) -> PreparedNew:
    """Render a `kind = "new"` template for the contact at address `to`."""
    template = load_kind(templates_dir, template_name, "new", "rapport draft new")
    contact, account_id = _recipient(db, to)
    deal: Deal | None
    if deal_id is not None:
        try:
            deal = get_deal(db, deal_id)
        except NotFoundError as exc:
            raise InputError(exc.message) from exc
        if account_id is not None and deal.account_id != account_id:
            raise InputError(f"deal {deal_id} ({deal.title}) belongs to {deal.account_name}, "
                             f"not to the account of {contact.email}")
        account_id = deal.account_id
    else:
        deal = account_deal(db, config.pipeline, account_id)
    account = get_account(db, account_id) if account_id is not None else None
    context = build_context(config.me, today=today or date.today(), account=account,
                            contact=contact, deal=deal)
    draft = new_draft(render_draft(template, context), config.me)
    if not draft.to:
        draft = replace(draft, to=display_address(contact.name, contact.email))
    return PreparedNew(draft, account_id, contact.id or None, deal.id if deal else None)
