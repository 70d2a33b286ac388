"""Provides MailError: one-line errors of the mail layer, naming the mailbox and folder.

How far a failure reaches is decided where it is caught: the sync engine reports a folder's
failure and goes on with the next folder; ConnectionLost and CredentialsUnavailable say what
the caller should do about the whole mailbox.
"""

from __future__ import annotations

from rapport.store.errors import RapportError


class MailError(RapportError):
    """A mail failure with a one-line message naming the mailbox (and folder) and the cause."""

    def __init__(self, message: str, *, mailbox: str = "", folder: str = "") -> None:
        where = f"mailbox {mailbox!r}" if mailbox else ""
        if folder:
            where = f"{where}, folder {folder!r}" if where else f"folder {folder!r}"
        super().__init__(f"{where}: {message}" if where else message)
        self.cause = message
        self.mailbox = mailbox
        self.folder = folder


class ConnectionLost(MailError):
    """The network dropped mid-sync: drop the connection without logout and retry later."""


class CredentialsUnavailable(MailError):
    """The password or token could not be had (password_command failed, no keyring backend,
    no entry): retrying will not help until the user fixes it, so a watcher gives up."""
