"""Provides the plain dataclass events a sync reports, so a CLI or the TUI can show progress.

The engine calls `report(event)`; the TUI wraps them in Textual messages, the CLI draws bars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FolderStarted:
    """A folder is being synced; `new` messages are to be fetched (0 when only flags move)."""

    mailbox: str
    folder: str
    new: int


@dataclass(frozen=True)
class FolderProgress:
    """`done` of `total` new messages of the folder are stored (a batch was committed)."""

    mailbox: str
    folder: str
    done: int
    total: int


@dataclass(frozen=True)
class FolderDone:
    """The folder matches the server: counts of what this run changed.

    `expunges_via` says how expunges were looked for ("vanished": QRESYNC, "scan": UID set
    difference, "" when none could have happened); `recounted` is how many of `removed` only the
    final count check (local vs EXISTS) found, which a healthy sync keeps at 0.
    """

    mailbox: str
    folder: str
    added: int = 0
    flags_changed: int = 0
    removed: int = 0
    unchanged: bool = False
    expunges_via: str = ""
    recounted: int = 0
    # UIDVALIDITY changed: messages found again by identity (None: it did not change).
    reidentified: int | None = None
    refetched: int = 0


@dataclass(frozen=True)
class FolderFailed:
    """The folder was skipped (it vanished, or the server refused it); others go on."""

    mailbox: str
    folder: str
    message: str


@dataclass(frozen=True)
class MessageSkipped:
    """One message could not be read; it is reported here instead of stopping the sync."""

    mailbox: str
    folder: str
    uid: int
    reason: str


@dataclass(frozen=True)
class MailboxFailed:
    """The mailbox could not be synced (login, TLS, network); `message` is one line."""

    mailbox: str
    message: str


@dataclass(frozen=True)
class FolderSummary:
    folder: str
    added: int = 0
    flags_changed: int = 0
    removed: int = 0
    skipped: int = 0
    error: str = ""


@dataclass(frozen=True)
class SyncSummary:
    """What one mailbox's sync did; `error` set means it failed (others still ran)."""

    mailbox: str
    folders: tuple[FolderSummary, ...] = field(default_factory=tuple)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not any(f.error for f in self.folders)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.folders)


Event = FolderStarted | FolderProgress | FolderDone | FolderFailed | MessageSkipped | MailboxFailed
Report = Callable[[Event], None]
ShouldStop = Callable[[], bool]  # asked between batches: True ends the sync there


def no_report(_event: Event) -> None:
    """The default `report`: the caller did not ask for progress."""


def never() -> bool:
    """The default `should_stop`: sync to the end."""
    return False
