"""Provides saving a composed draft where the user's mail client sees it, and sending it.

With an IMAP `[[mailbox]]` the draft is APPENDed to its Drafts folder (SPECIAL-USE `\\Drafts`)
with the `\\Draft` flag; without one it becomes an `.eml` file (0600) in the workspace `outbox/`.
Either way the account's timeline gets a 'draft' (or 'sent') activity with the Message-ID.
"""

from __future__ import annotations

import imaplib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import TypedDict

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlite_utils import Database

from rapport.mail.config import MailboxConfig, SmtpSettings, mailbox_configs
from rapport.mail.errors import ConnectionLost, MailError
from rapport.mail.send.compose import message_id_of
from rapport.mail.send.smtp import send_email
from rapport.mail.sync.imap import (
    SPECIAL_USE,
    append_message,
    close,
    connect,
    describe_network_error,
    find_special_folders,
)
from rapport.store.book.activities import add_activity
from rapport.store.book.archive import archived_contact_addresses
from rapport.store.config import Config
from rapport.store.errors import InputError
from rapport.store.workspace import (
    Workspace,
    make_private_dir,
    sweep_temp_files,
    write_private_files,
)


@dataclass(frozen=True)
class Saved:
    """Where a draft went: 'imap' (mailbox name, and the folder) or 'file' (its full path)."""

    where: str
    location: str
    message_id: str
    folder: str = ""  # 'imap': the Drafts folder's name on that server

    @property
    def place(self) -> str:
        """Where to look for it, as the user's mail client or shell names it."""
        if self.where == "imap":
            return f"the IMAP folder {self.folder or 'Drafts'} of mailbox {self.location}"
        return self.location


def _safe_file_name(message_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in message_id)[:120]


def outbox_path(workspace: Workspace, message_id: str) -> Path:
    """Where save_eml writes (wrote) the message with this Message-ID."""
    return workspace.outbox_dir / f"{_safe_file_name(message_id)}.eml"


def save_eml(workspace: Workspace, msg: EmailMessage) -> Saved:
    """Write the draft as outbox/<Message-ID>.eml (0600, folder 0700)."""
    return save_raw_many(workspace, [(message_id_of(msg), msg.as_bytes())])[0]


def save_raw_many(workspace: Workspace, messages: Sequence[tuple[str, bytes]]) -> list[Saved]:
    """Write (Message-ID, bytes) messages as outbox/<Message-ID>.eml files, durably, as a batch
    (store/workspace.write_private_files): a journal row committed after this never lacks its
    file."""
    make_private_dir(workspace.outbox_dir)
    paths = [outbox_path(workspace, message_id) for message_id, _ in messages]
    write_private_files([(path, raw) for path, (_, raw) in zip(paths, messages, strict=True)])
    return [Saved("file", str(path), message_id)
            for path, (message_id, _) in zip(paths, messages, strict=True)]


def sweep_outbox(workspace: Workspace) -> None:
    """Remove temporary files a killed run left in outbox/ (their process is gone)."""
    sweep_temp_files(workspace.outbox_dir, "*.eml")


class ImapFolder:
    """One IMAP connection for many APPENDs to (and Message-ID lookups in) one folder.

    An announcement of 500 drafts logs in once, not 500 times. The folder is a role ("drafts",
    "sent", found by SPECIAL-USE) or an exact name. A dropped connection is reopened by the
    next call; errors are MailError (ConnectionLost for the network), one line each.
    """

    def __init__(self, cfg: MailboxConfig, role_or_name: str) -> None:
        self.cfg = cfg
        self.role_or_name = role_or_name
        self.folder = ""
        self._client: IMAPClient | None = None

    def _connected(self) -> IMAPClient:
        if self._client is None:
            client = connect(self.cfg)
            try:
                self.folder = self._resolve(client)
            except BaseException:
                close(client)
                raise
            self._client = client
        return self._client

    def _resolve(self, client: IMAPClient) -> str:
        role = self.role_or_name.lower()
        if role not in SPECIAL_USE:
            return self.role_or_name
        folder = find_special_folders(client).get(role, "")
        if not folder:
            raise MailError(f"no {role} folder on the server (no SPECIAL-USE flag and no folder "
                            "with a usual name)", mailbox=self.cfg.name)
        return folder

    def _drop(self) -> None:
        if self._client is not None:
            try:
                self._client.shutdown()
            except OSError:
                pass
            self._client = None

    @contextmanager
    def _command(self, doing: str) -> Iterator[IMAPClient]:
        """The connection for one command; a server NO is MailError ('cannot <doing> <folder>'),
        a network error drops the connection (the next call reopens it) as ConnectionLost."""
        client = self._connected()
        try:
            yield client
        except (imaplib.IMAP4.error, IMAPClientError) as exc:
            raise MailError(f"cannot {doing} {self.folder}: {_server_text(exc)}",
                            mailbox=self.cfg.name, folder=self.folder) from exc
        except OSError as exc:
            self._drop()
            raise ConnectionLost(describe_network_error(exc, self.cfg),
                                 mailbox=self.cfg.name) from exc

    def append(self, raw: bytes, flags: Iterable[bytes] = ()) -> None:
        with self._command("append to") as client:
            client.append(self.folder, raw, flags=tuple(flags))

    def append_many(self, raws: Sequence[bytes], flags: Iterable[bytes] = ()) -> bool:
        """APPEND every message in one MULTIAPPEND command (RFC 3502) when the server offers
        it: one round trip instead of one per message. True when they are all stored; False
        when MULTIAPPEND is not offered or the server refused the batch, which it does as a
        whole (then nothing was stored: append them one by one). A dropped connection raises
        ConnectionLost: then any of them may have been stored."""
        client = self._connected()
        if len(raws) < 2 or b"MULTIAPPEND" not in client.capabilities():
            return False
        entries = [{"msg": raw, "flags": tuple(flags)} for raw in raws]
        status: str  # imapclient is untyped; the answer is (status, text)
        try:
            with self._command("append to") as client:
                # imapclient returns a NO or BAD answer here instead of raising it.
                status, _ = client.multiappend(self.folder, entries)
        except ConnectionLost:
            raise
        except MailError:
            return False
        return status == "OK"

    def fetch_by_message_id(self, message_id: str) -> tuple[int, bytes] | None:
        """(UID, whole message) of the newest message with this Message-ID, or None."""
        with self._command("read") as client:
            client.select_folder(self.folder, readonly=True)
            uids = client.search(["HEADER", "Message-ID", f"<{message_id.strip('<>')}>"])
            if not uids:
                return None
            uid = max(uids)
            raw: bytes = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]", b"")
            return (uid, raw) if raw else None

    def delete(self, uid: int) -> None:
        """Delete one message for good: flag it \\Deleted and expunge (only it, with UIDPLUS)."""
        with self._command("delete from") as client:
            client.select_folder(self.folder)
            client.delete_messages([uid])
            client.expunge([uid] if b"UIDPLUS" in client.capabilities() else None)

    def has_message_id(self, message_id: str) -> bool:
        """Whether the folder holds a message with this Message-ID (UID SEARCH HEADER)."""
        with self._command("search") as client:
            client.select_folder(self.folder, readonly=True)
            return bool(client.search(["HEADER", "Message-ID", f"<{message_id.strip('<>')}>"]))

    def close(self) -> None:
        if self._client is not None:
            close(self._client)
            self._client = None


def _server_text(exc: BaseException) -> str:
    text = str(exc)
    if text[:2] in ("b'", 'b"'):
        text = text[2:-1]
    return " ".join(text.split())[:200]


def save_imap(cfg: MailboxConfig, msg: EmailMessage) -> Saved:
    folder = append_message(cfg, "drafts", msg.as_bytes(), flags=(b"\\Draft",))
    return Saved("imap", cfg.name, message_id_of(msg), folder)


def pick_mailbox(config: Config, name: str | None = None) -> MailboxConfig | None:
    """The named IMAP mailbox, else the first one configured, else None (use the outbox)."""
    boxes = mailbox_configs(config)
    if name:
        for box in boxes:
            if box.name == name:
                return box
    return boxes[0] if boxes else None


class TimelineLinks(TypedDict):
    """Where a saved or sent message is noted: the `account_id`, `contact_id` and `deal_id`
    keywords of save_draft and send_and_record (no timeline note without an account)."""

    account_id: int | None
    contact_id: int | None
    deal_id: int | None


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
    """Send through SMTP, APPEND a copy to Sent when an IMAP mailbox exists, note it on the timeline.

    Refused (InputError, nothing sent) when a recipient is an archived contact: those are never mailed.
    """
    refuse_archived_recipients(db, msg)
    send_email(settings, msg)
    cfg = pick_mailbox(config, mailbox)
    if cfg is not None:
        append_message(cfg, "sent", msg.as_bytes(), flags=(b"\\Seen",))
    mid = message_id_of(msg)
    if account_id is not None:
        add_activity(db, account_id, "sent", subject=str(msg["Subject"]), body=_body(msg),
                     deal_id=deal_id, contact_id=contact_id, message_id=mid)
    return mid


def refuse_archived_recipients(db: Database, msg: EmailMessage) -> None:
    archived = archived_contact_addresses(db)
    wanted = [addr.lower() for _name, addr in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", []))]
    blocked = sorted({addr for addr in wanted if addr in archived})
    if blocked:
        raise InputError(f"not sent: {', '.join(blocked)} belongs to an archived contact (never mailed)")


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    return part.get_content() if part is not None else ""
