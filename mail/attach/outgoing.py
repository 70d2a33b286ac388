"""Provides attaching files to what Rapport sends: `load_files` reads them (the size limit is
checked on their sizes first, before a byte is read, written or sent) and `with_attachments`
turns a composed text message into multipart/mixed.

The MIME is the email package's: the text part unchanged first, then one part per file with the
Content-Type `mimetypes` gives (application/octet-stream when unknown), base64, and the file
name in Content-Disposition, RFC 2231-encoded when it is not ASCII.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from rapport.mail.attach.names import clean_filename
from rapport.store.errors import InputError


@dataclass(frozen=True)
class OutgoingFile:
    """A file to attach: the name recipients see, its MIME type and its bytes."""

    name: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def human_size(size: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _checked_path(text: str | Path, base: Path | None) -> Path:
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.exists():
        raise InputError(f"cannot attach {text}: no such file")
    if not path.is_file():
        raise InputError(f"cannot attach {text}: not a regular file")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot attach {text}: not readable")
    return path


def resolve_paths(paths: Iterable[str | Path], base: Path | None = None) -> tuple[Path, ...]:
    """The files named (relative ones against `base`), each checked to be a readable file."""
    return tuple(_checked_path(p, base) for p in paths)


def check_limit(paths: Sequence[Path], limit_bytes: int) -> int:
    """The files' total size; InputError when it is over the limit (nothing read yet)."""
    total = sum(p.stat().st_size for p in paths)
    if total > limit_bytes:
        raise InputError(f"attachments total {human_size(total)}, over the "
                         f"{human_size(limit_bytes)} limit per message (attachment_limit_mb in "
                         "config.toml)")
    return total


def content_type_for(name: str) -> str:
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if guessed is None or encoding is not None:  # .tar.gz is a gzip file, not a tar
        return "application/octet-stream"
    return guessed


def load_files(paths: Iterable[str | Path], limit_bytes: int,
               base: Path | None = None) -> tuple[OutgoingFile, ...]:
    """The files to attach, read once; InputError (one line) for a missing file or the limit."""
    checked = resolve_paths(paths, base)
    check_limit(checked, limit_bytes)
    loaded = []
    for path in checked:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot attach {path}: {exc.strerror}") from exc
        if len(data) > limit_bytes:  # grew since the check
            check_limit([path], 0)
        name = clean_filename(path.name)
        loaded.append(OutgoingFile(name, content_type_for(name), data))
    return tuple(loaded)


def with_attachments(raw: bytes, files: Sequence[OutgoingFile]) -> bytes:
    """`raw` (a single-part text message) as multipart/mixed carrying `files`."""
    if not files:
        return raw
    message = message_from_bytes(raw, _class=EmailMessage, policy=policy.SMTP)
    assert isinstance(message, EmailMessage)
    message.make_mixed()
    for item in files:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(item.data, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=item.name, cte="base64")
    return message.as_bytes(policy=policy.SMTP)
