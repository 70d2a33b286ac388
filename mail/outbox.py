"""Provides saving a composed draft where the user's mail client sees it, and sending it.

With an IMAP `[[mailbox]]` the draft is APPENDed to its Drafts folder (SPECIAL-USE `\\Drafts`)
with the `\\Draft` flag; without one it becomes an `.eml` file (0600) in the workspace `outbox/`.
Either way the account's timeline gets a 'draft' (or 'sent') activity with the Message-ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from sqlite_utils import Database

from rapport.mail.compose import message_id_of
from rapport.mail.config import MailboxConfig, mailbox_configs
from rapport.mail.imap import append_message
from rapport.mail.smtp import SmtpSettings, send_email
from rapport.store.activities import add_activity
from rapport.store.config import Config
from rapport.store.workspace import Workspace, make_private_dir, write_private_file


@dataclass(frozen=True)
class Saved:
    """Where a draft went: 'imap' (mailbox name) or 'file' (path)."""

    where: str
    location: str
    message_id: str


def _safe_file_name(message_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in message_id)[:120]


def save_eml(workspace: Workspace, msg: EmailMessage) -> Saved:
    """Write the draft as outbox/<Message-ID>.eml (0600, folder 0700)."""
    mid = message_id_of(msg)
    make_private_dir(workspace.outbox_dir)
    path = workspace.outbox_dir / f"{_safe_file_name(mid)}.eml"
    write_private_file(path, msg.as_bytes())
    return Saved("file", str(path), mid)


def save_imap(cfg: MailboxConfig, msg: EmailMessage) -> Saved:
    append_message(cfg, "drafts", msg.as_bytes(), flags=(b"\\Draft",))
    return Saved("imap", cfg.name, message_id_of(msg))


def pick_mailbox(config: Config, name: str | None = None) -> MailboxConfig | None:
    """The named IMAP mailbox, else the first one configured, else None (use the outbox)."""
    boxes = mailbox_configs(config)
    if name:
        for box in boxes:
            if box.name == name:
                return box
    return boxes[0] if boxes else None


def save_draft(db: Database, workspace: Workspace, config: Config, msg: EmailMessage, *,
               account_id: int | None, contact_id: int | None = None, deal_id: int | None = None,
               mailbox: str | None = None) -> Saved:
    """Save `msg` as a draft (IMAP Drafts or outbox .eml) and note it on the account timeline."""
    cfg = pick_mailbox(config, mailbox)
    saved = save_imap(cfg, msg) if cfg is not None else save_eml(workspace, msg)
    if account_id is not None:
        add_activity(db, account_id, "draft", subject=str(msg["Subject"]), body=_body(msg),
                     deal_id=deal_id, contact_id=contact_id, message_id=saved.message_id)
    return saved


def send_and_record(db: Database, config: Config, settings: SmtpSettings, msg: EmailMessage, *,
                    account_id: int | None, contact_id: int | None = None,
                    deal_id: int | None = None, mailbox: str | None = None) -> str:
    """Send through SMTP, APPEND a copy to Sent when an IMAP mailbox exists, note it on the timeline."""
    send_email(settings, msg)
    cfg = pick_mailbox(config, mailbox)
    if cfg is not None:
        append_message(cfg, "sent", msg.as_bytes(), flags=(b"\\Seen",))
    mid = message_id_of(msg)
    if account_id is not None:
        add_activity(db, account_id, "sent", subject=str(msg["Subject"]), body=_body(msg),
                     deal_id=deal_id, contact_id=contact_id, message_id=mid)
    return mid


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    return part.get_content() if part is not None else ""
