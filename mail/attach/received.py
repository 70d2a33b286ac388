"""Provides `fetch_attachment`: one received attachment's bytes, read from its source on demand.

Sync lists attachments (name, type, size) and never downloads them. Asked for one, this goes
back to where the message lives: an IMAP server (its BODYSTRUCTURE again, then only that part,
`BODY.PEEK[n]`, so the message stays unread, decoded from its transfer encoding) or the Maildir
file (parsed with the same rules as sync). The attachment list is walked in the order sync
walked it, so index N is the N-th listed attachment; its type is checked against the stored one,
so a message changed behind our back is refused rather than the wrong part saved.
"""

from __future__ import annotations

import base64
import binascii
import imaplib
import quopri
import re
from dataclasses import dataclass
from email import policy
from email.message import Message as EmailMessage
from email.parser import BytesParser
from pathlib import Path

from rapport.mail.config import MailboxConfig, mailbox_configs, maildir_configs
from rapport.mail.errors import MailError, Scope
from rapport.store.config import Config
from rapport.store.errors import InputError, NotFoundError
from rapport.store.mailstore.messages import Message

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


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


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """A part's bytes from its Content-Transfer-Encoding (lenient, as mail clients are)."""
    encoding = (encoding or "").strip().lower()
    if encoding == "base64":
        clean = _NOT_BASE64.sub(b"", data.split(b"=", 1)[0])
        clean = clean[: len(clean) - len(clean) % 4] if len(clean) % 4 == 1 else clean
        try:
            return base64.b64decode(clean + b"=" * (-len(clean) % 4))
        except (binascii.Error, ValueError):
            return b""
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


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

    from rapport.mail.sync.imap import close, connect
    from rapport.mail.sync.response import parse_bodystructure, raw_uid_fetch

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
            parts = parse_bodystructure(meta.get(b"BODYSTRUCTURE")).attachments
            if len(parts) < info.index:
                _checked(info, "nothing", message)
            part = parts[info.index - 1]
            _checked(info, part.content_type, message)
            items = f"(UID BODY.PEEK[{part.section}])"
            values = raw_uid_fetch(client, [message.uid], items).get(message.uid, {})
        except (ValueError, IndexError, TypeError) as exc:
            raise MailError(f"cannot read the structure of message {message.id}",
                            scope=Scope.FOLDER, mailbox=box.name) from exc
        except (IMAPClientError, imaplib.IMAP4.error, OSError) as exc:
            raise MailError(f"{box.name}: the server refused the fetch: {exc}"[:200],
                            scope=Scope.FOLDER, mailbox=box.name) from exc
        payload = values.get(f"BODY[{part.section}]".encode())
        if not isinstance(payload, bytes):
            raise NotFoundError(f"message {message.id} is gone from the server")
        return decode_transfer(payload, part.encoding)
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


def _from_maildir(root: Path, message: Message, info: AttachmentInfo) -> bytes:
    path = _maildir_file(root, message)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read {path}: {exc.strerror}") from exc
    parts = attachment_parts(raw)
    if len(parts) < info.index:
        _checked(info, "nothing", message)
    content_type, payload = parts[info.index - 1]
    _checked(info, content_type, message)
    return payload


# --- The Maildir walk: the same choices as mail/message/parse.py's, parts kept with bytes. ---

MAX_PARTS = 500
MAX_DEPTH = 12


def _payload(part: EmailMessage) -> bytes:
    try:
        decoded = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - hostile structure: nothing to decode
        return b""
    return decoded if isinstance(decoded, bytes) else b""


def attachment_parts(raw: bytes) -> list[tuple[str, bytes]]:
    """(content type, decoded bytes) of each attachment of a whole message, in listing order."""
    from rapport.mail.message.parse import _repair

    message = BytesParser(policy=policy.compat32).parsebytes(_repair(raw))
    found: list[tuple[str, bytes]] = []
    try:
        _walk(message, found, 0, [0])
    except (RecursionError, Exception):  # noqa: BLE001 - hostile structure: keep what was found
        pass
    return found


def _walk(part: EmailMessage, found: list[tuple[str, bytes]], depth: int, count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_PARTS or depth > MAX_DEPTH:
        return
    content_type = part.get_content_type().lower()
    disposition = (part.get_content_disposition() or "").lower()
    if part.is_multipart():
        children = [c for c in (part.get_payload() or []) if isinstance(c, EmailMessage)]
        if content_type.startswith("message/"):
            for inner in children:
                if disposition == "attachment":
                    found.append(("message/rfc822", inner.as_bytes()))
                else:
                    _walk(inner, found, depth + 1, count)
            return
        for child in children:  # multipart/alternative lists its attachments the same way
            _walk(child, found, depth + 1, count)
        return
    filename = part.get_filename()
    if disposition == "attachment" or filename or not content_type.startswith("text/"):
        found.append((content_type, _payload(part)))
