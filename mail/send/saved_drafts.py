"""Provides finding a draft Rapport saved, by its Message-ID (its outbox/ file, or the IMAP
Drafts folder of the mailbox it went to), its editable text, and replacing it with an edited
version: in outbox/ the file is rewritten; on the server the new one is APPENDed first, then
the old UID is deleted and expunged, so a failure in between leaves two drafts, never none.
The Message-ID stays, so the account's 'draft' line keeps pointing at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from sqlite_utils import Database

from rapport.mail.config import mailbox_configs
from rapport.mail.draft.render import Draft
from rapport.mail.errors import MailError
from rapport.mail.send.compose import check_header, draft_from_text, draft_to_text, parse_addresses
from rapport.mail.send.outbox import ImapFolder, Saved, outbox_path
from rapport.store.book.activities import rewrite_draft
from rapport.store.config import Config
from rapport.store.errors import InputError, NotFoundError
from rapport.store.workspace import Workspace, write_private_files

DRAFT_FLAGS = (b"\\Draft",)


@dataclass(frozen=True)
class FoundDraft:
    """A saved draft: where it is, its bytes, and its UID when it is on a server."""

    saved: Saved
    raw: bytes
    uid: int | None = None

    def email(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)  # policy.default builds EmailMessage
        return parsed


def find_saved_draft(workspace: Workspace, config: Config, message_id: str) -> FoundDraft:
    """The draft with this Message-ID in outbox/, else in the Drafts folder of any IMAP mailbox,
    the first configured first (where drafts are saved): a mailbox added or reordered since
    the draft was saved does not hide it. One that cannot be reached is passed over; its error
    is raised when no other has the draft (it may be there)."""
    path = outbox_path(workspace, message_id)
    if path.is_file():
        return FoundDraft(Saved("file", str(path), message_id), path.read_bytes())
    boxes = mailbox_configs(config)
    if not boxes:
        raise NotFoundError(f"draft <{message_id}> is no longer in {workspace.outbox_dir} (sent or deleted?)")
    unreachable: list[MailError] = []
    folder_name = ""
    for cfg in boxes:
        folder = ImapFolder(cfg, "drafts")
        try:
            found = folder.fetch_by_message_id(message_id)
        except MailError as exc:
            unreachable.append(exc)
            continue
        finally:
            folder.close()
        if found is not None:
            return FoundDraft(Saved("imap", cfg.name, message_id, folder.folder), found[1], found[0])
        folder_name = folder.folder or "Drafts"
    if unreachable:
        raise unreachable[0]
    if len(boxes) == 1:
        raise NotFoundError(f"draft <{message_id}> is no longer in the IMAP folder {folder_name} "
                            f"of mailbox {boxes[0].name} (sent or deleted?)")
    raise NotFoundError(f"draft <{message_id}> is no longer in the IMAP Drafts folders of mailboxes "
                        f"{', '.join(cfg.name for cfg in boxes)} (sent or deleted?)")


def editable_text(msg: EmailMessage) -> str:
    """Subject, To, Cc, a blank line and the text: what $EDITOR gets (as for a new draft)."""
    part = msg.get_body(("plain",))
    body = part.get_content() if isinstance(part, EmailMessage) else ""
    return draft_to_text(Draft("", "", str(msg["Subject"] or ""), str(msg["To"] or ""), str(msg["Cc"] or ""),
                               body.replace("\r\n", "\n")))


def apply_text(msg: EmailMessage, text: str) -> EmailMessage:
    """A copy of `msg` with the edited Subject/To/Cc and text, dated now; its Message-ID,
    threading headers and attachments are kept. InputError when the text does not read back."""
    edited = draft_from_text(text, Draft("", "", "", "", "", ""))
    to = parse_addresses(edited.to, "To")
    if not to:
        raise InputError("the edited draft has no To address")
    cc = parse_addresses(edited.cc, "Cc")
    new = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(new, EmailMessage)
    for name, value in (("Subject", check_header("Subject", edited.subject)), ("To", to), ("Cc", cc),
                        ("Date", format_datetime(datetime.now().astimezone()))):
        del new[name]
        if value:
            new[name] = value  # the policy encodes names and subjects (RFC 2047)
    part = new.get_body(("plain",))
    if not isinstance(part, EmailMessage):
        raise InputError("the saved draft has no text part to replace")
    part.set_content(edited.body, charset="utf-8")
    if part is not new:
        del part["MIME-Version"]  # set_content adds it; only the top of a message carries it
    return new


def replace_saved_draft(db: Database, config: Config, found: FoundDraft, msg: EmailMessage) -> Saved:
    """Put `msg` where `found` was, in its place; the 'draft' timeline lines take its text."""
    if found.saved.where == "file":
        write_private_files([(Path(found.saved.location), msg.as_bytes())])
    else:
        # That mailbox only: pick_mailbox would fall back to the first one, a draft put elsewhere.
        cfg = next((box for box in mailbox_configs(config) if box.name == found.saved.location), None)
        if cfg is None:
            raise NotFoundError(f"mailbox {found.saved.location} is no longer in config.toml")
        folder = ImapFolder(cfg, found.saved.folder or "drafts")
        try:
            folder.append(msg.as_bytes(), DRAFT_FLAGS)  # the new one first: never no draft at all
            if found.uid is not None:
                folder.delete(found.uid)
        finally:
            folder.close()
    part = msg.get_body(("plain",))
    body = part.get_content() if isinstance(part, EmailMessage) else ""
    rewrite_draft(db, found.saved.message_id, subject=str(msg["Subject"] or ""), body=body)
    return found.saved
