"""Provides `prepare_reply`: a stored message + a template name -> the filled reply draft."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlite_utils import Database

from rapport.mail.compose import Thread, reply_draft
from rapport.mail.draft_context import build_context
from rapport.mail.drafting import Draft, load_template, render_draft
from rapport.store.accounts import get_account
from rapport.store.config import Config
from rapport.store.contacts import find_contact_by_email
from rapport.store.messages import Message


@dataclass(frozen=True)
class PreparedReply:
    draft: Draft
    thread: Thread
    account_id: int | None
    contact_id: int | None


def prepare_reply(db: Database, config: Config, templates_dir: Path, message: Message,
                  template_name: str, *, today: date | None = None,
                  account_id: int | None = None) -> PreparedReply:
    """Render `template_name` for a reply to `message` (account: given, linked, or the sender's)."""
    template = load_template(templates_dir, template_name)
    contact = find_contact_by_email(db, message.from_addr) if message.from_addr else None
    if account_id is None:
        account_id = message.accounts[0][0] if message.accounts else (
            contact.account_id if contact else None)
    account = get_account(db, account_id) if account_id is not None else None
    context = build_context(config.me, today=today or date.today(), account=account,
                            contact=contact, message=message)
    draft, thread = reply_draft(render_draft(template, context), message, config.me)
    return PreparedReply(draft, thread, account_id, contact.id if contact else None)
