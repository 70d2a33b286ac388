"""Provides `Timeline`: one account's threads, messages and activities, and the keys that act on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message

from rapport.store.book.activities import RESOLVABLE
from rapport.store.book.deals import Deal
from rapport.store.money.currency import format_amount
from rapport.store.views import queries
from rapport.tui.app.rapport_app import rapport_app
from rapport.tui.app.safe import notify
from rapport.tui.app.screens.pick import PickScreen
from rapport.tui.app.widgets.rowlist import RowList, line, role
from rapport.tui.app.widgets.when import WIDTH, short_moment

if TYPE_CHECKING:
    from rapport.tui.app.application import RapportApp

_KIND_ROLE = {"mail-in": "incoming", "mail-out": "outgoing", "mail-draft": "muted", "objection": "alert", "complaint": "alert",
              "bounce": "alert", "opt_out": "alert",
              "stage_change": "stage", "thread": "heading"}
_LOG = Binding.Group("Log")
ACCOUNT_ONLY = 0  # the deal picker's "no deal" choice (deal ids start at 1)


def deal_choice(deal: Deal) -> tuple[str, int]:
    """A deal as the pickers list it: title, stage and value."""
    return f"{deal.title} — {deal.stage}, {format_amount(deal.value, deal.currency)} {deal.currency}", deal.id


def render_timeline_row(item: queries.TimelineItem, width: int, today: date | None = None) -> Text:
    """Date, kind (thread with its size, objection/complaint open ! or resolved ✓), text; thread messages indented."""
    kind = item.kind
    if kind in RESOLVABLE:
        kind = f"{kind} ✓" if item.resolved else f"{kind} !"
    elif kind == "thread":
        kind = f"thread {item.count}"
    elif kind == "stage_change":
        kind = "stage"  # a word, not the store's identifier
    text = ("  ↳ " if item.depth else "") + item.text
    if item.attachments:  # a paperclip and the names: the PO or the contract is in this one
        text += "  📎 " + ", ".join(item.attachments)
    room = width - WIDTH - 1 - 13  # the date and kind columns
    if room > 1 and len(text) > room:  # what fits, and a mark that there is more (enter shows it all)
        text = text[:room - 1] + "…"
    kind_role = "muted" if item.kind in RESOLVABLE and item.resolved else _KIND_ROLE.get(item.kind, "strong")
    when = short_moment(item.date_utc, today or date.today())
    return line((f"{when:<{WIDTH}} ", role("muted")), (f"{kind:<12} ", role(kind_role)),
                (text, role("strong") if item.kind == "thread" else ""))


class Timeline(RowList):
    """The account's timeline; activity and message keys live here (on a thread line: its messages)."""

    BINDING_GROUP_TITLE = "Account"
    BINDINGS: ClassVar[list[BindingType]] = [
        # One footer entry 'n c m o C Log' (the footer is narrow at 80 columns); ? lists each in full.
        Binding("n", "add('note')", "Note", group=_LOG, id="account.note"),
        Binding("c", "add('call')", "Call", group=_LOG, id="account.call"),
        Binding("m", "add('meeting')", "Meeting", group=_LOG, id="account.meeting"),
        Binding("o", "add('objection')", "Objection", group=_LOG, id="account.objection"),
        Binding("C", "add('complaint')", "Complaint", tooltip="a client's support issue after the sale",
                group=_LOG, id="account.complaint"),
        Binding("x", "resolve", "Resolve", id="account.resolve"),
        Binding("r", "reply", "Reply", id="account.reply"),
        Binding("a", "assign", "Assign", show=False, id="account.assign"),
        Binding("A", "unassign", "Unassign", show=False, id="account.unassign"),
        Binding("M", "move", "Move to account", show=False, id="account.move"),
        Binding("p", "pin", "Pin to deal", show=False, id="account.pin"),
        Binding("w", "why", "Why here", show=False, id="account.why"),
    ]

    @dataclass
    class Changed(Message):
        """An activity was added or resolved: the screen re-reads the account."""

        timeline: Timeline

        @property
        def control(self) -> Timeline:
            return self.timeline

    def __init__(self, account_id: int, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(lambda item, width: render_timeline_row(item, width, self.rapport.today), id=id)
        self.account_id = account_id

    @property
    def rapport(self) -> RapportApp:
        return rapport_app(self)

    def reload(self) -> None:
        """Re-read the timeline's index; lines are read a page at a time as they are shown."""
        db = self.rapport.opened.db
        index = queries.timeline_index(db, self.account_id)
        self.set_source(index.total, lambda offset, limit: queries.timeline_page(db, index, offset, limit),
                        keep_row_key=lambda item: (item.kind, item.message_id, item.activity_id))

    # -- activities -------------------------------------------------------
    @work(exclusive=True, group="account-edit")
    async def action_add(self, kind: str) -> None:
        """Which deal it is for (asked when there are several; the only one is taken), then its text."""
        candidates = self.rapport.actions.activity_deals(self.account_id, kind)
        deal_id: int | None = candidates[0].id if len(candidates) == 1 else ACCOUNT_ONLY
        if len(candidates) > 1:
            deal_id = await self.app.push_screen_wait(PickScreen(
                f"{kind.capitalize()} for which deal?",
                [*(deal_choice(d) for d in candidates), ("the account only (no deal)", ACCOUNT_ONLY)]))
            if deal_id is None:
                return
        target = next((d.title for d in candidates if d.id == deal_id), "the account only")
        body = await self.app.push_screen_wait(self.rapport.prompt(f"{kind.capitalize()} — for {target}"))
        if body and body.strip():
            self.rapport.actions.add_activity(self.account_id, kind, body.strip(), deal_id or None)
            self.post_message(self.Changed(self))

    @work(exclusive=True, group="account-edit")
    async def action_resolve(self) -> None:
        """Asked first (no is the default): resolving cannot be undone from here."""
        item = self.current_row
        if item is None or item.kind not in RESOLVABLE or item.resolved:
            notify(self, "the cursor is not on an open objection or complaint", severity="warning")
            return
        shown = item.text if len(item.text) <= 60 else item.text[:59] + "…"
        sure = await self.app.push_screen_wait(PickScreen(
            f"Resolve the {item.kind} “{shown}”?", [("no, keep it open", False), ("yes, resolve it", True)]))
        if sure:
            self.rapport.actions.resolve(item.activity_id)
            self.post_message(self.Changed(self))

    def action_reply(self) -> None:
        item = self.current_row
        self.rapport.start_reply(self.account_id, item.message_id if item else None)

    # -- messages ---------------------------------------------------------
    def _message_ids(self) -> list[int]:
        """The message under the cursor; on a thread line, every message of the thread."""
        item = self.current_row
        if item is None or item.message_id is None:
            notify(self, "the cursor is not on a message", severity="warning")
            return []
        if item.kind != "thread":
            return [item.message_id]
        rows = (self.row(index) for index in range(self.cursor + 1, self.cursor + 1 + item.count))
        return [row.message_id for row in rows if row is not None and row.message_id is not None]

    @work(exclusive=True, group="account-edit")
    async def action_assign(self) -> None:
        ids = self._message_ids()
        if ids:
            account_id = await self.app.push_screen_wait(self.rapport.account_picker(
                "Also assign to account", exclude=[self.account_id]))
            if account_id is not None:
                self.rapport.change_store(lambda actions: actions.assign(ids, account_id))

    def action_unassign(self) -> None:
        ids = self._message_ids()
        if ids:
            self.rapport.change_store(lambda actions: actions.unassign(ids, self.account_id))

    @work(exclusive=True, group="account-edit")
    async def action_move(self) -> None:
        ids = self._message_ids()
        if ids:
            account_id = await self.app.push_screen_wait(self.rapport.account_picker(
                "Move to account (off this one)", exclude=[self.account_id]))
            if account_id is not None:
                self.rapport.change_store(lambda actions: actions.move(ids, account_id))

    @work(exclusive=True, group="account-edit")
    async def action_pin(self) -> None:
        item = self.current_row
        if not self._message_ids():
            return
        open_deals = self.rapport.actions.open_deals(self.account_id)
        if not open_deals:
            notify(self, "this account has no open deal", severity="warning")
            return
        deal_id: int | None = open_deals[0].id
        if len(open_deals) > 1:
            deal_id = await self.app.push_screen_wait(PickScreen(
                "Pin the thread to which deal?", [deal_choice(d) for d in open_deals]))
        if deal_id is not None:
            thread_id = item.thread_id
            self.rapport.change_store(lambda actions: actions.pin(thread_id, deal_id))

    def action_why(self) -> None:
        ids = self._message_ids()
        if ids:
            notify(self, "\n".join(self.rapport.actions.why(ids[-1])) or "no rule", timeout=10)
