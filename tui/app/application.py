"""Provides `RapportApp`: the Textual app — a small router between screens, its keys and store
changes off the UI thread; the background sync is its base class's (background_sync.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from rapport.store.errors import RapportError
from rapport.store.session import OpenWorkspace, open_for_tui
from rapport.tui.app.actions import Actions
from rapport.tui.app.background_sync import SYNC_GROUP, BackgroundSyncApp
from rapport.tui.app.book_actions import BookActions
from rapport.tui.app.book_flows import BookKeys
from rapport.tui.app.messages import StoreChanged
from rapport.tui.app.palette import RapportCommands
from rapport.tui.app.safe import notify
from rapport.tui.app.screens.account_picker import AccountPicker
from rapport.tui.app.screens.prompt import Check, PromptScreen

# Palette entries for app actions without a key; every bound key is in the palette already
# (tui/app/palette.py derives commands from the bindings): (label, action string, help).
PALETTE: tuple[tuple[str, str, str], ...] = (
    ("Sync: cancel", "app.cancel_sync", "stop the running sync after its current batch"),
    ("New account", "app.book('new_account')", "a form: name, domains, tier, tags, notes"),
    ("New contact", "app.book('new_contact')", "at the account on screen, or the sender of the message"),
    ("New deal", "app.book('new_deal')", "at the account on screen or of the focused deal"),
    ("Edit account", "app.book('edit_account')", "the account on screen (else pick one)"),
    ("Edit contact", "app.book('edit_contact')", "one of the contacts of the account on screen"),
    ("Edit deal", "app.book('edit_deal')", "the focused deal, or one of the account's"),
    ("Mark deal won", "app.book('mark_won')", "asks the final value"),
    ("Mark deal lost", "app.book('mark_lost')", "asks the reason ([pipeline] lost_reasons) and a note"),
    ("Reopen deal", "app.book('reopen')", "back to the open stage it left"),
    ("Archive", "app.book('archive')", "hide the deal, account or contact (history kept; ctrl+z undoes)"),
    ("Undo", "app.undo", "undo the last change made in this session"),
)


class RapportApp(BookKeys, BackgroundSyncApp):
    """Rapport's terminal workspace."""

    CSS_PATH = "app.tcss"
    TITLE = "Rapport"
    BINDING_GROUP_TITLE = "Rapport"
    PALETTE: ClassVar[tuple[tuple[str, str, str], ...]] = PALETTE

    COMMANDS = App.COMMANDS | {RapportCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("t", "today", "Today", id="app.today"),
        Binding("g", "goto", "Go to", id="app.goto"),
        Binding("S", "sync", "Sync", id="app.sync"),
        Binding("R", "reports", "Reports", id="app.reports"),
        Binding("N", "announce", "Announce", show=False,
                tooltip="one personalised mail per contact of a segment", id="app.announce"),
        Binding("ctrl+z", "undo", "Undo", show=False, tooltip="the last change of this session, step by step",
                id="app.undo"),
    ]

    def __init__(self, home: str | None = None, *, today: date | None = None, sync_interval: float | None = None,
                 sync_on_start: bool = True) -> None:
        super().__init__()
        self.home = home
        # The user's own calendar day: due dates and "overdue" are local, times are stored UTC.
        self.today = today or date.today()
        self.opened: OpenWorkspace = open_for_tui(home)  # sqlite-utils loads at the first write
        self.actions = Actions(self.opened, self.today)
        self.book = BookActions(self.actions)
        # Seconds between background syncs: config.toml's sync_interval_minutes unless given (0 = never).
        self.sync_interval = (self.opened.config.sync_interval_minutes * 60.0 if sync_interval is None
                              else sync_interval)
        self._sync_on_start = sync_on_start

    def compose(self) -> ComposeResult:
        yield Static("")

    def on_mount(self) -> None:
        from rapport.tui.app.screens.main import MainScreen

        self.push_screen(MainScreen())
        self.start_syncing(now=self._sync_on_start, every=self.sync_interval)

    def on_unmount(self) -> None:
        self.workers.cancel_group(self, SYNC_GROUP)  # the thread stops at its next batch boundary
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
