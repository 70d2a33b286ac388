"""Provides `InboxList`: the inbox pane (virtualised over the store), its filters and message keys."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive

from rapport.store.views import queries
from rapport.tui.app.rapport_app import rapport_app
from rapport.tui.app.safe import notify
from rapport.tui.app.screens.pick import PickScreen
from rapport.tui.app.widgets.rowlist import PAGE, RowList, line, role
from rapport.tui.app.widgets.when import WIDTH, short_moment

if TYPE_CHECKING:
    from rapport.tui.app.application import RapportApp


def render_inbox_row(row: queries.InboxRow, width: int, today: date | None = None) -> Text:
    """● unread, date (09:30 today, 18 Nov, 2025-11-18), sender, accounts (or 'unassigned'), subject."""
    who = row.from_name or row.from_addr
    when = short_moment(row.date_utc, today or date.today())
    return line(
        ("●" if not row.seen else " ", role("unread")),
        (f" {when:<{WIDTH}} ", role("muted")),
        (f"{who[:18]:<18} ", role("unread") if not row.seen else ""),
        (f"{(row.accounts or 'unassigned')[:16]:<16} ", role("account") if row.accounts else role("unassigned")),
        (row.subject, role("unread") if not row.seen else ""),
    )


class InboxList(RowList):
    """The inbox pane; filters and message actions live here."""

    BINDING_GROUP_TITLE = "Inbox"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Most used first: the bottom bar shows what fits, in this order (? and ctrl+p list them all).
        Binding("r", "reply", "Reply", id="inbox.reply"),
        Binding("a", "assign", "Assign", id="inbox.assign"),
        Binding("u", "toggle_unassigned", "Unassigned", id="inbox.unassigned"),
        Binding("space", "toggle_seen", "Read/unread", id="inbox.seen"),
        Binding("U", "toggle_unread", "Unread", show=False, id="inbox.unread"),
        Binding("f", "filter_account", "This account", show=False, id="inbox.account"),
        Binding("A", "unassign", "Unassign", show=False, id="inbox.unassign"),
        Binding("M", "move", "Move to account", show=False, id="inbox.move"),
        Binding("c", "create_account", "Account from sender", show=False, id="inbox.create_account"),
        Binding("plus", "app.book('new_contact')", "New contact", show=False,
                tooltip="the sender, at its account (freemail: pick one)", id="inbox.new_contact"),
    ]

    filter: reactive[queries.InboxFilter] = reactive(queries.InboxFilter, init=False)
    """What the inbox shows (unassigned, unread, one account, a search); a change reloads from the top."""

    @dataclass
    class Reloaded(Message):
        """The rows were re-read (filter change, sync, an edit): the screen updates its status line."""

        inbox_list: InboxList

        @property
        def control(self) -> InboxList:
            return self.inbox_list

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(lambda row, width: render_inbox_row(row, width, self.rapport.today), id=id)

    @property
    def rapport(self) -> RapportApp:
        return rapport_app(self)

    # -- data -------------------------------------------------------------
    counted = True
    """False from the first paint until the count is in (`show_first_page`): the title waits for it."""

    def show_first_page(self) -> None:
        """The newest page now, for the first paint; the count, which reads every message (a scan
        of 100k rows is ~15 ms), once that paint is on screen."""
        first = queries.inbox_page(self.rapport.opened.db, 0, PAGE, self.filter)
        self.counted = False
        self.set_source(len(first), lambda offset, limit: first[offset:offset + limit])
        self.call_after_refresh(self.reload)

    def reload(self, keep: bool = True) -> None:
        """Re-read the rows; with `keep` the cursor stays on the same message when mail arrives above it."""
        db = self.rapport.opened.db
        flt = self.filter
        self.counted = True
        self.set_source(queries.inbox_count(db, flt), lambda offset, limit: queries.inbox_page(db, offset, limit, flt),
                        keep_row_key=(lambda row: row.id) if keep else None)
        self.post_message(self.Reloaded(self))

    def watch_filter(self) -> None:
        self.cursor = 0
        self.reload(keep=False)

    # -- filters ----------------------------------------------------------
    def action_toggle_unassigned(self) -> None:
        self.filter = replace(self.filter, unassigned=not self.filter.unassigned)

    def action_toggle_unread(self) -> None:
        self.filter = replace(self.filter, unread=not self.filter.unread)

    def action_filter_account(self) -> None:
        if self.filter.account_id is not None:
            self.filter = replace(self.filter, account_id=None)
            return
        row = self.current_row
        ids = self.rapport.actions.account_ids(row.id) if row else []
        if not ids:
            notify(self, "this message belongs to no account", severity="warning")
            return
        self.filter = replace(self.filter, account_id=ids[0])

    # -- message keys -----------------------------------------------------
    def action_reply(self) -> None:
        row = self.current_row
        self.rapport.start_reply(None, row.id if row else None)

    def action_toggle_seen(self) -> None:
        row = self.current_row
        if row is None:
            return
        self.rapport.actions.set_seen(row.id, not row.seen)
        self.reload()

    @work(exclusive=True, group="inbox-edit")
    async def action_assign(self) -> None:
        row = self.current_row
        if row is None:
            return
        account_id = await self.app.push_screen_wait(self.rapport.account_picker(
            "Assign to account", exclude=self.rapport.actions.account_ids(row.id)))
        if account_id is not None:
            self.rapport.change_store(lambda actions: actions.assign([row.id], account_id))

    @work(exclusive=True, group="inbox-edit")
    async def action_unassign(self) -> None:
        row = self.current_row
        linked = self.rapport.actions.message_accounts(row.id) if row else []
        if row is None or not linked:
            notify(self, "this message belongs to no account", severity="warning")
            return
        account_id = linked[0][0]
        if len(linked) > 1:
            account_id = await self.app.push_screen_wait(PickScreen(
                "Unassign from which account?", [(name, ident) for ident, name in linked]))
        if account_id is not None:
            self.rapport.change_store(lambda actions: actions.unassign([row.id], account_id))

    @work(exclusive=True, group="inbox-edit")
    async def action_move(self) -> None:
        row = self.current_row
        if row is None:
            return
        account_id = await self.app.push_screen_wait(self.rapport.account_picker(
            "Move to account (and off its current ones)"))
        if account_id is not None:
            self.rapport.change_store(lambda actions: actions.move([row.id], account_id))

    @work(exclusive=True, group="inbox-edit")
    async def action_create_account(self) -> None:
        row = self.current_row
        if row is None:
            return
        domain, freemail = self.rapport.actions.sender_domain(row.from_addr)
        owner = self.rapport.actions.sender_owner(row.from_addr)
        if owner is not None:
            # Asked before the name, not after it: nothing typed is thrown away.
            notify(self, f"{row.from_addr} already belongs to account {owner}: assign the message with a",
                   severity="warning", timeout=10)
            return
        if freemail:
            notify(self, f"{domain} is a freemail domain: it cannot identify an account. Assign the message "
                         "to an account with a, or add the sender as a contact with +.", severity="warning", timeout=10)
            return
        name = await self.app.push_screen_wait(self.rapport.prompt(
            f"New account for {domain} (its mail and this sender as a contact) — name",
            value=domain.split(".")[0].title()))
        if name and name.strip():
            self.rapport.change_store(lambda actions: actions.create_account_for(row.id, name))
