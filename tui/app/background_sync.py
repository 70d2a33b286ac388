"""Provides `BackgroundSyncApp`: the app's side of the mail sync, which runs on a worker thread
(at start, every `sync_interval_minutes`, on S) while the screens stay usable.

The engine's events come back as messages (sync_bridge.py); they set `sync_status`, which every
screen's StatusBar shows, and make the screens in view re-read their rows.
"""

from __future__ import annotations

from datetime import datetime

from textual import work
from textual.app import App
from textual.reactive import reactive
from textual.worker import Worker, WorkerState, get_current_worker

from rapport.store.errors import RapportError
from rapport.store.session import OpenWorkspace
from rapport.tui.app.messages import (
    FolderSynced,
    SyncFailed,
    SyncFinished,
    SyncProgress,
    SyncStarted,
)
from rapport.tui.app.safe import notify

SYNC_GROUP = "imap-sync"  # the worker group of the sync thread: one at a time


class BackgroundSyncApp(App[None]):
    """An App that syncs the workspace's mailboxes and Maildirs in the background."""

    opened: OpenWorkspace  # the workspace synced, opened by the subclass before it mounts

    sync_status: reactive[str] = reactive("sync idle")
    """What the background sync is doing, in a few words; every screen's StatusBar shows it."""

    def __init__(self) -> None:
        super().__init__()
        self._sync_failures: list[str] = []
        self._notified_failures: set[str] = set()

    def start_syncing(self, *, now: bool, every: float) -> None:
        """Sync at once when `now`, then every `every` seconds (0: never); nothing without sources."""
        if self._has_sources():
            if now:
                self.action_sync()
            if every > 0:
                self.set_interval(every, self._timed_sync)

    def _refresh_screens(self) -> None:
        # Screens pull fresh rows themselves; cursors stay on the row they were on. Only the screens
        # in view re-read now (the top one, and those a modal is drawn over): a hidden one re-reads
        # when it comes back to the front (ReloadOnResume), not at every synced folder as well.
        for screen in reversed(self.screen_stack):
            mail_changed = getattr(screen, "mail_changed", None)
            if mail_changed is not None:
                mail_changed()
            if not screen.is_modal:
                break

    def _has_sources(self) -> bool:
        raw = self.opened.config.raw
        return bool(raw.get("mailbox") or raw.get("maildir"))

    def _sync_running(self) -> bool:
        return any(w.group == SYNC_GROUP and w.is_running for w in self.workers)

    def action_sync(self) -> None:
        if not self._has_sources():
            notify(self, "no [[mailbox]] or [[maildir]] in config.toml", severity="warning")
            return
        if self._sync_running():
            return  # the running sync picks the new mail up; two would race for the same folders
        self._sync_failures = []
        self.sync_status = "syncing…"
        self._sync_worker()

    def _timed_sync(self) -> None:
        if not self._sync_running():
            self.action_sync()

    @work(thread=True, exclusive=True, group=SYNC_GROUP, exit_on_error=False)
    def _sync_worker(self) -> None:
        # imapclient, the parser and the engine's events are imported only when a sync runs.
        from rapport.mail.sync.run import sync_on_this_thread
        from rapport.tui.app.sync_bridge import reporter

        worker = get_current_worker()
        self.post_message(SyncStarted())
        try:
            # Its own database connection (SQLite connections stay on their thread); stops between batches.
            sync_on_this_thread(self.opened, report=reporter(self.post_message),
                                should_stop=lambda: worker.is_cancelled)
        except RapportError as exc:
            self.post_message(SyncFailed(str(exc)))
        self.post_message(SyncFinished(cancelled=worker.is_cancelled))

    def action_cancel_sync(self) -> None:
        if self._sync_running():
            self.sync_status = "sync stopping…"
        self.workers.cancel_group(self, SYNC_GROUP)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A crash in the sync thread ends in the status bar and one notification, never a traceback.
        if event.worker.group == SYNC_GROUP and event.state == WorkerState.ERROR:
            self.post_message(SyncFailed(f"sync crashed: {event.worker.error}"))
            self.post_message(SyncFinished())

    def on_sync_started(self, _message: SyncStarted) -> None:
        self.sync_status = "syncing…"

    def on_sync_progress(self, message: SyncProgress) -> None:
        done = f" {message.done}/{message.total}" if message.total else ""
        self.sync_status = f"syncing {message.folder}{done}"

    def on_folder_synced(self, message: FolderSynced) -> None:
        if message.changed:
            self._refresh_screens()

    def on_sync_failed(self, message: SyncFailed) -> None:
        self._sync_failures.append(message.reason)

    def on_sync_finished(self, message: SyncFinished) -> None:
        stamp = datetime.now().strftime("%H:%M")  # local time: it is read by a person
        failures = list(dict.fromkeys(self._sync_failures))
        if message.cancelled:
            self.sync_status = f"sync stopped {stamp}"
        elif failures:
            self.sync_status = f"sync failed {stamp}" + (f" ({len(failures)})" if len(failures) > 1 else "")
        else:
            self.sync_status = f"synced {stamp}"
        # Each failure's full reason once (the status bar has no room for it), not at every interval.
        for reason in failures:
            if reason not in self._notified_failures:
                notify(self, reason, title="sync failed", severity="error", timeout=30)
        self._notified_failures = set(failures)
