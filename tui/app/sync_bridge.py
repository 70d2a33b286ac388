"""Provides `reporter`: the sync engine's events (rapport.mail.sync.events) turned into the TUI's messages.

Runs on the sync worker thread; `post` is the app's thread-safe `post_message`.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message

from rapport.mail.sync.events import (
    Event,
    FolderDone,
    FolderFailed,
    FolderProgress,
    FolderStarted,
    MailboxFailed,
)
from rapport.tui.app.messages import FolderSynced, SyncFailed, SyncProgress


def reporter(post: Callable[[Message], object]) -> Callable[[Event], None]:
    """A `report(event)` callback for `sync_on_this_thread` that posts one message per event."""

    def report(event: Event) -> None:
        if isinstance(event, FolderStarted):
            post(SyncProgress(event.mailbox, event.folder, 0, event.new))
        elif isinstance(event, FolderProgress):
            post(SyncProgress(event.mailbox, event.folder, event.done, event.total))
        elif isinstance(event, FolderDone):
            post(FolderSynced(event.mailbox, event.folder, event.added, event.flags_changed, event.removed))
        elif isinstance(event, (FolderFailed, MailboxFailed)):
            post(SyncFailed(event.message))
        # MessageSkipped: the message is listed by `rapport sync`; the TUI keeps going quietly.

    return report
