"""Provides MailError: one-line, scoped errors of the mail layer (after offlineimap's severities).

The scope says how far a failure reaches: a MESSAGE is skipped and reported, a FOLDER is skipped
while the rest of the mailbox syncs, a MAILBOX stops that mailbox only, FATAL stops everything.
"""

from __future__ import annotations

from enum import IntEnum

from rapport.store.errors import RapportError


class Scope(IntEnum):
    MESSAGE = 1
    FOLDER = 2
    MAILBOX = 3
    FATAL = 4


class MailError(RapportError):
    """A mail failure with a one-line message naming the mailbox (and folder) and the cause."""

    def __init__(self, message: str, *, scope: Scope = Scope.MAILBOX, mailbox: str = "",
                 folder: str = "") -> None:
        where = f"mailbox {mailbox!r}" if mailbox else ""
        if folder:
            where = f"{where}, folder {folder!r}" if where else f"folder {folder!r}"
        super().__init__(f"{where}: {message}" if where else message)
        self.cause = message
        self.scope = scope
        self.mailbox = mailbox
        self.folder = folder


class ConnectionLost(MailError):
    """The network dropped mid-sync: drop the connection without logout and retry later."""


class CredentialsUnavailable(MailError):
    """The password or token could not be had (password_command failed, no keyring backend,
    no entry): retrying will not help until the user fixes it, so a watcher gives up."""
