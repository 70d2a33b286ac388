"""Provides what the CLI and the reader do with a received attachment: save it, show it as
text, open it with `open_command`. Each fetches the attachment from its source then, or reads it
from `source`, the whole message, for one not in the store (a saved draft)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlite_utils import Database

from rapport.mail.attach.names import clean_filename
from rapport.mail.attach.received import Fetched, attachment_from_source, fetch_attachment
from rapport.mail.attach.saving import save_bytes, target_for
from rapport.mail.attach.settings import attachment_settings
from rapport.mail.attach.viewing import attachment_text, can_show, open_saved
from rapport.store.config import Config
from rapport.store.mailstore.messages import Message, get_folder


def fetch(db: Database, config: Config, message: Message, index: int,
          source: bytes | None = None) -> Fetched:
    """Attachment `index` of `message`, from the server or the Maildir now (from `source` when
    given)."""
    if source is not None:
        return attachment_from_source(message, index, source)
    uidvalidity = get_folder(db, message.folder_id).uidvalidity
    return fetch_attachment(config, message, index, uidvalidity)


def save_attachment(db: Database, config: Config, message: Message, index: int,
                    destination: Path | None = None, source: bytes | None = None) -> Path:
    """Save attachment `index` into `destination` (a folder or a file path; default
    attachments_dir); the path written, never an existing file's."""
    settings = attachment_settings(config)
    info = message.attachments[index - 1] if 0 < index <= len(message.attachments) else None
    folder, name = target_for(destination, settings.directory, info[0] if info else "",
                              info[1] if info else "")
    fetched = fetch(db, config, message, index, source)
    return save_bytes(folder, name, fetched.data)


def show_attachment(db: Database, config: Config, message: Message, index: int,
                    source: bytes | None = None) -> str:
    """The attachment as text (text/*, a PDF through pdftotext); CannotShow otherwise."""
    kind = message.attachments[index - 1][1] if 0 < index <= len(message.attachments) else ""
    if kind and not can_show(kind):
        # Said before anything is fetched: a 20 MB zip is not downloaded to say it is no text.
        attachment_text(b"", kind)
    fetched = fetch(db, config, message, index, source)
    return attachment_text(fetched.data, fetched.info.type)


def open_attachment(db: Database, config: Config, message: Message, index: int,
                    source: bytes | None = None) -> Path:
    """Save into a private temporary folder and run `open_command` on it; the path."""
    settings = attachment_settings(config)
    if not settings.open_command:
        open_saved((), Path())
    fetched = fetch(db, config, message, index, source)
    folder = Path(tempfile.mkdtemp(prefix="rapport-open-"))
    path = save_bytes(folder, clean_filename(fetched.info.filename, fetched.info.type),
                      fetched.data)
    open_saved(settings.open_command, path)
    return path
