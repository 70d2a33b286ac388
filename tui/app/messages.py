"""Provides the Textual messages the sync worker posts to the app (plain dataclasses, thread-safe to post).

The worker thread never touches widgets: it posts these (STYLE.md guideline 4) and the app routes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class SyncStarted(Message, bubble=False):
    """A background sync of every configured source began."""


@dataclass
class SyncProgress(Message, bubble=False):
    """`done` of `total` new messages of `mailbox`/`folder` are stored (a batch was committed)."""

    mailbox: str
    folder: str
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        # Only the latest progress matters: a queued older one is dropped, not painted.
        return isinstance(message, SyncProgress)


@dataclass
class FolderSynced(Message, bubble=False):
    """A folder matches its source; the counts say what this run changed in the store."""

    mailbox: str
    folder: str
    added: int = 0
    flags_changed: int = 0
    removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.flags_changed or self.removed)


@dataclass
class SyncFailed(Message, bubble=False):
    """A mailbox or folder could not be synced; `reason` is the full one-line message."""

    reason: str


@dataclass
class SyncFinished(Message, bubble=False):
    """The sync run ended (`cancelled` when it was asked to stop between batches)."""

    cancelled: bool = False


@dataclass
class StoreChanged(Message, bubble=False):
    """A change run on a worker thread (it re-links mail) is done; `summary` says what, or why it failed."""

    summary: str
    failed: bool = False
