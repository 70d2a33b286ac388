"""Provides showing an attachment inside Rapport (`attachment_text`) and opening it outside
(`open_saved`).

Text (text/*) is decoded like a body part; a PDF becomes text through `pdftotext` (poppler-utils)
when it is installed, and says how to get it when it is not. Anything else is not shown: saving
(or `open_command` on a desktop) is the way.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from rapport.mail.message.body import decode_body_part
from rapport.store.errors import InputError, RapportError
from rapport.store.text import clean_text

PDFTOTEXT_TIMEOUT = 60
PDF_TYPES = ("application/pdf", "application/x-pdf")


class CannotShow(RapportError):
    """The attachment has no text form here; the message says what to do instead."""


def can_show(content_type: str) -> bool:
    return content_type.startswith("text/") or content_type in PDF_TYPES


def pdf_text(data: bytes) -> str:
    """The text of a PDF by pdftotext (layout kept); CannotShow when it is missing or fails."""
    program = shutil.which("pdftotext")
    if program is None:
        raise CannotShow("showing a PDF needs pdftotext (install poppler-utils); "
                         "press s to save it instead")
    try:
        done = subprocess.run([program, "-layout", "-enc", "UTF-8", "-q", "-", "-"], input=data,
                              capture_output=True, timeout=PDFTOTEXT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CannotShow(f"pdftotext failed: {exc}") from exc
    if done.returncode != 0:
        raise CannotShow("pdftotext cannot read this PDF (damaged or encrypted); save it instead")
    return done.stdout.decode("utf-8", "replace")


def attachment_text(data: bytes, content_type: str) -> str:
    """What the reader shows for an attachment; control characters and escapes removed."""
    if content_type in PDF_TYPES:
        return clean_text(pdf_text(data))
    if content_type.startswith("text/"):
        return clean_text(decode_body_part(data, content_type=content_type, charset=None,
                                           transfer_encoding=None))
    raise CannotShow(f"{content_type} is not text: press s to save it")


def open_saved(command: tuple[str, ...], path: Path) -> None:
    """Run `open_command` with the saved file's path, detached (a viewer may stay open)."""
    if not command:
        raise InputError("set open_command in config.toml (e.g. open_command = [\"xdg-open\"]) "
                         "to open attachments; s saves them")
    try:
        subprocess.Popen([*command, str(path)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    except OSError as exc:
        raise InputError(f"open_command {command[0]!r} cannot run: {exc.strerror}") from exc
