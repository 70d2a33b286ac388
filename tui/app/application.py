"""Provides `RapportApp`: the Textual app — a small router between screens, plus the sync worker."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from rapport.store.errors import RapportError
from rapport.store.session import OpenWorkspace, open_workspace
from rapport.tui.app.actions import Actions
from rapport.tui.app.messages import (
    FolderSynced,
    StoreChanged,
    SyncFailed,
    SyncFinished,
    SyncProgress,
    SyncStarted,
)
from rapport.tui.app.palette import RapportCommands
from rapport.tui.app.safe import notify
from rapport.tui.app.screens.account_picker import AccountPicker
from rapport.tui.app.screens.prompt import Check, PromptScreen
from rapport.tui.app.sync_bridge import reporter

# Palette entries for app actions without a key; every bound key is in the palette already
# (tui/app/palette.py derives commands from the bindings): (label, action string, help).
PALETTE: tuple[tuple[str, str, str], ...] = (
    ("Sync: cancel", "app.cancel_sync", "stop the running sync after its current batch"),
)


class RapportApp(App[None]):
    """Rapport's terminal workspace."""

    CSS_PATH = "app.tcss"
    TITLE = "Rapport"
    BINDING_GROUP_TITLE = "Rapport"
    PALETTE: ClassVar[tuple[tuple[str, str, str], ...]] = PALETTE

    sync_status: reactive[str] = reactive("sync idle")
    """What the background sync is doing, in a few words; every screen's StatusBar shows it."""
    COMMANDS = App.COMMANDS | {RapportCommands}
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("t", "today", "Today", id="app.today"),
        Binding("g", "goto", "Go to", id="app.goto"),
        Binding("S", "sync", "Sync", id="app.sync"),
        Binding("R", "reports", "Reports", id="app.reports"),
        Binding("N", "announce", "Announce", show=False,
                tooltip="one personalised mail per contact of a segment", id="app.announce"),
    ]

    def __init__(self, home: str | None = None, *, today: date | None = None, sync_interval: float | None = None,
                 sync_on_start: bool = True) -> None:
        super().__init__()
        self.home = home
        # The user's own calendar day: due dates and "overdue" are local, times are stored UTC.
        self.today = today or date.today()
        self.opened: OpenWorkspace = open_workspace(home)
        self.actions = Actions(self.opened, self.today)
        # Seconds between background syncs: config.toml's sync_interval_minutes unless given (0 = never).
        self.sync_interval = (self.opened.config.sync_interval_minutes * 60.0 if sync_interval is None
                              else sync_interval)
        self._sync_on_start = sync_on_start
        self._sync_failures: list[str] = []
        self._notified_failures: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static("")

    def on_mount(self) -> None:
        from rapport.tui.app.screens.main import MainScreen

        self.push_screen(MainScreen())
        if self._has_sources():
            if self._sync_on_start:
                self.action_sync()
            if self.sync_interval > 0:
                self.set_interval(self.sync_interval, self._timed_sync)

    def on_unmount(self) -> None:
        self.workers.cancel_group(self, "imap-sync")  # the thread stops at its next batch boundary
        self.opened.close()

    # -- routing ----------------------------------------------------------
    def prompt(self, question: str, *, value: str = "", check: Check | None = None) -> PromptScreen:
        return PromptScreen(question, value=value, check=check)

    def open_account(self, account_id: int) -> None:
        from rapport.tui.app.screens.account import AccountScreen

        self.push_screen(AccountScreen(account_id))

    def open_message(self, message_id: int) -> None:
        from rapport.store.mailstore.messages import get_message
        from rapport.tui.app.screens.reader import ReaderScreen

        self.push_screen(ReaderScreen(get_message(self.opened.db, message_id)))

    def start_reply(self, account_id: int | None, message_id: int | None) -> None:
        # Imported on first use, as the other sub-screens are: start-up loads none of the drafting code.
        from rapport.tui.app.screens.draft_flow import start_reply

        start_reply(self, account_id=account_id, message_id=message_id)

    def action_announce(self) -> None:
        from rapport.tui.app.screens.announce import start_announce

        start_announce(self)

    def change_store(self, change: Callable[[Actions], str]) -> None:
        """Run `change` (assign, create an account…: they re-link mail) off the UI thread, then refresh."""
        self._store_change_worker(change)

    @work(thread=True, group="store-change", exit_on_error=False)
    def _store_change_worker(self, change: Callable[[Actions], str]) -> None:
        db = self.opened.reopen_db()  # SQLite connections stay on their thread
        try:
            summary = change(self.actions.using(db))
        except RapportError as exc:
            self.post_message(StoreChanged(str(exc), failed=True))
            return
        finally:
            db.close()
        self.post_message(StoreChanged(summary))

    def on_store_changed(self, message: StoreChanged) -> None:
        notify(self, message.summary, severity="error" if message.failed else "information")
        if not message.failed:
            self._refresh_screens()

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

    def account_picker(self, question: str, *, exclude: Iterable[int] = ()) -> AccountPicker:
        return AccountPicker(question, self.actions.search_accounts, exclude=frozenset(exclude))

    def action_today(self) -> None:
        from rapport.tui.app.screens.today import TodayScreen

        self.push_screen(TodayScreen())

    def action_reports(self) -> None:
        from rapport.tui.app.screens.reports import ReportsScreen

        self.push_screen(ReportsScreen(self.opened.reopen_db, self.opened.config))

    def action_help(self) -> None:
        from rapport.tui.app.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen(self.screen))

    @work(exclusive=True, group="goto")
    async def action_goto(self) -> None:
        account_id = await self.push_screen_wait(self.account_picker("Go to account (fuzzy name)"))
        if account_id is not None:
            self.open_account(account_id)

    # -- sync -------------------------------------------------------------
    def _has_sources(self) -> bool:
        raw = self.opened.config.raw
        return bool(raw.get("mailbox") or raw.get("maildir"))

    def _sync_running(self) -> bool:
        return any(w.group == "imap-sync" and w.is_running for w in self.workers)

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

    @work(thread=True, exclusive=True, group="imap-sync", exit_on_error=False)
    def _sync_worker(self) -> None:
        # imapclient and the parser are imported only when a sync runs.
        from rapport.mail.sync.engine import sync_on_this_thread

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
        self.workers.cancel_group(self, "imap-sync")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A crash in the sync thread ends in the status bar and one notification, never a traceback.
        if event.worker.group == "imap-sync" and event.state == WorkerState.ERROR:
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
