"""Provides `RapportApp`: the Textual app — a small router between screens, plus the sync worker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from rapport.store import accounts
from rapport.store.errors import RapportError
from rapport.store.session import OpenWorkspace, open_workspace
from rapport.tui.actions import Actions
from rapport.tui.messages import SyncState
from rapport.tui.palette import RapportCommands
from rapport.tui.safe import notify
from rapport.tui.screens.prompt import Check, PromptScreen

# Palette entries for app actions without a key; every bound key is in the palette already
# (tui/palette.py derives commands from the bindings): (label, action string, help).
PALETTE: tuple[tuple[str, str, str], ...] = (
    ("Sync: cancel", "app.cancel_sync", "stop the running sync after its current batch"),
)


class RapportApp(App[None]):
    """Rapport's terminal workspace."""

    CSS_PATH = "app.tcss"
    TITLE = "Rapport"
    BINDING_GROUP_TITLE = "Rapport"
    PALETTE: ClassVar[tuple[tuple[str, str, str], ...]] = PALETTE
    COMMANDS = App.COMMANDS | {RapportCommands}
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("t", "today", "Today", id="app.today"),
        Binding("g", "goto", "Go to", id="app.goto"),
        Binding("S", "sync", "Sync", id="app.sync"),
        Binding("R", "reports", "Reports", id="app.reports"),
    ]

    def __init__(self, home: str | None = None, *, today: date | None = None, sync_interval: float = 300.0,
                 sync_on_start: bool = True) -> None:
        super().__init__()
        self.home = home
        self.today = today or datetime.now(UTC).date()
        self.opened: OpenWorkspace = open_workspace(home)
        self.actions = Actions(self.opened, self.today)
        self.sync_state = "idle"
        self._sync_interval = sync_interval
        self._sync_on_start = sync_on_start

    def compose(self) -> ComposeResult:
        yield Static("")

    def on_mount(self) -> None:
        from rapport.tui.screens.main import MainScreen

        self.push_screen(MainScreen())
        if self._has_sources():
            if self._sync_on_start:
                self.action_sync()
            if self._sync_interval > 0:
                self.set_interval(self._sync_interval, self.action_sync)

    def on_unmount(self) -> None:
        self.opened.close()

    # -- routing ----------------------------------------------------------
    def prompt(self, question: str, *, value: str = "", check: Check | None = None) -> PromptScreen:
        return PromptScreen(question, value=value, check=check)

    def open_account(self, account_id: int) -> None:
        from rapport.tui.screens.account import AccountScreen

        self.push_screen(AccountScreen(account_id))

    def open_message(self, message_id: int) -> None:
        from rapport.store.messages import get_message
        from rapport.tui.screens.reader import ReaderScreen

        self.push_screen(ReaderScreen(get_message(self.opened.db, message_id)))

    def start_reply(self, account_id: int, message_id: int | None) -> None:
        try:
            from rapport.tui.screens import draft_flow  # helper D's drafting screen
        except ImportError:
            notify(self, "drafting not available yet", severity="warning")
            return
        starter = getattr(draft_flow, "start_reply", None)
        if starter is None:
            notify(self, "drafting not available yet", severity="warning")
            return
        starter(self, account_id=account_id, message_id=message_id)

    def action_today(self) -> None:
        from rapport.tui.screens.today import TodayScreen

        self.push_screen(TodayScreen())

    def action_reports(self) -> None:
        from rapport.tui.screens.reports import ReportsScreen

        self.push_screen(ReportsScreen(self.opened.reopen_db, self.opened.config))

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    @work(exclusive=True, group="goto")
    async def action_goto(self) -> None:
        db = self.opened.db

        def check(text: str) -> None:
            if not accounts.search_accounts(db, text, limit=1):
                raise RapportError(f"no account matches {text.strip()!r}")

        text = await self.push_screen_wait(self.prompt("Go to account (fuzzy name)", check=check))
        if text:
            self.open_account(accounts.search_accounts(db, text, limit=1)[0].id)

    # -- sync -------------------------------------------------------------
    def _has_sources(self) -> bool:
        raw = self.opened.config.raw
        return bool(raw.get("mailbox") or raw.get("maildir"))

    def action_sync(self) -> None:
        if not self._has_sources():
            notify(self, "no [[mailbox]] or [[maildir]] in config.toml", severity="warning")
            return
        self.post_message(SyncState("syncing…"))
        self._sync_worker()

    @work(thread=True, exclusive=True, group="imap-sync", exit_on_error=False)
    def _sync_worker(self) -> None:
        from rapport.mail.config import maildir_configs
        from rapport.mail.maildir import sync_maildir
        from rapport.mail.sync import sync_on_this_thread

        failures: list[str] = []
        mine = self.opened.config.me.all_addresses
        if self.opened.config.raw.get("mailbox"):
            try:
                sync_on_this_thread(self.opened)
            except RapportError as exc:
                failures.append(str(exc))
        db = self.opened.reopen_db()  # SQLite connections stay on their thread
        try:
            for source in maildir_configs(self.opened.config):
                try:
                    sync_maildir(db, mailbox=source.name, path=source.path, my_addresses=mine)
                except RapportError as exc:
                    failures.append(str(exc))
        finally:
            db.close()
        stamp = datetime.now(UTC).strftime("%H:%M")
        text = f"failed: {failures[0]}" if failures else f"synced {stamp}"
        self.post_message(SyncState(text, changed=True))

    def action_cancel_sync(self) -> None:
        self.workers.cancel_group(self, "imap-sync")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A crash in the sync thread is shown in the status line, never a traceback on screen.
        if event.worker.group == "imap-sync" and event.state == WorkerState.ERROR:
            self.post_message(SyncState(f"failed: {event.worker.error}"))

    def on_sync_state(self, message: SyncState) -> None:
        from rapport.tui.screens.main import MainScreen

        self.sync_state = message.text
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                if message.changed:
                    screen.reload_inbox(keep=True)
                    screen.refresh_pipeline()
                else:
                    screen.update_status()

    def list_sources(self) -> Iterable[str]:
        raw = self.opened.config.raw
        return [str(item.get("name", "")) for key in ("mailbox", "maildir") for item in raw.get(key, [])]
