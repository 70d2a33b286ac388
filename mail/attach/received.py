"""Provides `fetch_attachment`: one received attachment's bytes, read from its source on demand.

Sync lists attachments (name, type, size) and never downloads them. Asked for one, this goes
back to where the message lives: an IMAP server (its BODYSTRUCTURE again, then only that part,
`BODY.PEEK[n]`, so the message stays unread, decoded from its transfer encoding) or the Maildir
file. Both read the attachments through the one MIME policy sync uses (mail/message/mime.py). The attachment list is walked in the order sync
walked it, so index N is the N-th listed attachment; its type is checked against the stored one,
so a message changed behind our back is refused rather than the wrong part saved.
"""

from __future__ import annotations

import imaplib
from dataclasses import dataclass
from pathlib import Path

from rapport.mail.config import MailboxConfig, mailbox_configs, maildir_configs
from rapport.mail.errors import MailError
from rapport.mail.message.body import transfer_decode
from rapport.mail.message.mime import attachment_entry, plan
from rapport.mail.message.structure import parse_structure
from rapport.store.config import Config
from rapport.store.errors import InputError, NotFoundError
from rapport.store.mailstore.messages import Message


@dataclass(frozen=True)
class AttachmentInfo:
    """A listed attachment: `index` counts from 1, as `rapport attachment save` takes it."""

    index: int
    filename: str
    type: str
    size: int


@dataclass(frozen=True)
class Fetched:
    info: AttachmentInfo
    data: bytes


def list_attachments(message: Message) -> list[AttachmentInfo]:
    return [AttachmentInfo(i, name, kind, size)
            for i, (name, kind, size) in enumerate(message.attachments, 1)]


def pick(message: Message, index: int) -> AttachmentInfo:
    listed = list_attachments(message)
    if not listed:
        raise InputError(f"message {message.id} has no attachments")
    if not 1 <= index <= len(listed):
        raise InputError(f"message {message.id} has {len(listed)} attachment"
                         f"{'s' if len(listed) != 1 else ''}: give an index from 1 to {len(listed)}")
    return listed[index - 1]


def fetch_attachment(config: Config, message: Message, index: int,
                     uidvalidity: int | None = None) -> Fetched:
    """The bytes of attachment `index` (from 1) of `message`: InputError for a bad index,
    NotFoundError when the message or its source is gone, MailError when the server fails."""
    info = pick(message, index)
    for box in mailbox_configs(config):
        if box.name == message.mailbox:
            return Fetched(info, _from_imap(box, message, info, uidvalidity))
    for maildir in maildir_configs(config):
        if maildir.name == message.mailbox:
            return Fetched(info, _from_maildir(maildir.path, message, info))
    raise NotFoundError(f"mailbox {message.mailbox!r} of message {message.id} is no longer in "
                        "config.toml")


def _checked(info: AttachmentInfo, content_type: str, message: Message) -> None:
    if content_type.lower() != info.type.lower():
        raise NotFoundError(f"message {message.id} changed since it was synced (attachment "
                            f"{info.index} is {content_type}, not {info.type}); run rapport sync")


def _from_imap(box: MailboxConfig, message: Message, info: AttachmentInfo,
               uidvalidity: int | None) -> bytes:
    from imapclient.exceptions import IMAPClientError

    from rapport.mail.sync.bodystructure import parse_bodystructure
    from rapport.mail.sync.imap import close, connect
    from rapport.mail.sync.response import item_key, raw_uid_fetch

    client = connect(box)
    try:
        try:
            selected = client.select_folder(message.folder, readonly=True)
        except IMAPClientError as exc:
            raise NotFoundError(f"folder {message.folder!r} is gone from {box.name}") from exc
        current = selected.get(b"UIDVALIDITY")
        if uidvalidity is not None and current is not None and int(current) != uidvalidity:
            raise NotFoundError(f"folder {message.folder!r} was rebuilt on the server; run "
                                "rapport sync")
        try:
            meta = raw_uid_fetch(client, [message.uid], "(UID BODYSTRUCTURE)").get(message.uid)
            if meta is None:
                raise NotFoundError(f"message {message.id} is gone from the server")
            parts = plan(parse_bodystructure(meta.get(b"BODYSTRUCTURE"))).attachments
            if len(parts) < info.index:
                _checked(info, "nothing", message)
            part = parts[info.index - 1]
            _checked(info, attachment_entry(part)[1], message)  # the type as sync listed it
            items = f"(UID BODY.PEEK[{part.section}])"
            values = raw_uid_fetch(client, [message.uid], items).get(message.uid, {})
        except (ValueError, IndexError, TypeError) as exc:
            raise MailError(f"cannot read the structure of message {message.id}",
                            mailbox=box.name) from exc
        except (IMAPClientError, imaplib.IMAP4.error, OSError) as exc:
            raise MailError(f"{box.name}: the server refused the fetch: {exc}"[:200],
                            mailbox=box.name) from exc
        payload = values.get(item_key(f"BODY[{part.section}]".encode()))
        if not isinstance(payload, bytes):
            raise NotFoundError(f"message {message.id} is gone from the server")
        return transfer_decode(payload, part.encoding)
    finally:
        close(client)


def _maildir_file(root: Path, message: Message) -> Path:
    from rapport.mail.sync.maildir import find_folders, scan_folder

    folders = dict(find_folders(Path(root).expanduser()))
    directory = folders.get(message.folder)
    found = scan_folder(directory).get(message.uid) if directory is not None else None
    if found is None:
        raise NotFoundError(f"message {message.id} is gone from the Maildir {root}")
    return found.path


def attachment_from_source(message: Message, index: int, raw: bytes) -> Fetched:
    """Attachment `index` of a message not in the store (a saved draft), read from `raw`, its
    whole text already in hand: nothing to fetch."""
    info = pick(message, index)
    return Fetched(info, _part_of(raw, message, info))


def _from_maildir(root: Path, message: Message, info: AttachmentInfo) -> bytes:
    path = _maildir_file(root, message)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read {path}: {exc.strerror}") from exc
    return _part_of(raw, message, info)


def _part_of(raw: bytes, message: Message, info: AttachmentInfo) -> bytes:
    parts = attachment_parts(raw)
    if len(parts) < info.index:
        _checked(info, "nothing", message)
    content_type, payload = parts[info.index - 1]
    _checked(info, content_type, message)
    return payload


def attachment_parts(raw: bytes) -> list[tuple[str, bytes]]:
    """(content type, decoded bytes) of each attachment of a whole message, in listing order:
    the attachments sync listed, by the same MIME tree and policy."""
    try:
        parts = plan(parse_structure(raw)).attachments
    except RecursionError:  # absurd nesting past every cap: sync listed none either
        return []
    return [(attachment_entry(part)[1], transfer_decode(part.payload or b"", part.encoding))
            for part in parts]
