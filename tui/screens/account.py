"""Provides `AccountScreen`: header, contacts and the timeline of one account, with its keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from rapport.store import accounts, contacts, deals, queries
from rapport.store.errors import RapportError
from rapport.tui.safe import notify
from rapport.tui.widgets.rowlist import RowList, line

if TYPE_CHECKING:
    from rapport.tui.app import RapportApp

_KIND_STYLE = {"mail-in": "cyan", "mail-out": "green", "objection": "bold red", "stage_change": "magenta"}


def render_timeline_row(item: queries.TimelineItem, width: int) -> Text:
    kind = item.kind
    if kind == "objection":
        kind = "objection ✓" if item.resolved else "objection !"
    elif kind == "thread":
        kind = f"thread {item.count}"
    text = ("  ↳ " if item.depth else "") + item.text
    return line((f"{item.date_utc[:10]} ", "dim"), (f"{kind:<12} ", _KIND_STYLE.get(item.kind, "")),
                (text, "bold" if item.kind == "thread" else ""))


class Timeline(RowList):
    """The account's timeline; activity keys live here."""

    BINDING_GROUP_TITLE = "Account"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "add('note')", "Note", id="account.note"),
        Binding("c", "add('call')", "Call", id="account.call"),
        Binding("m", "add('meeting')", "Meeting", id="account.meeting"),
        Binding("o", "add('objection')", "Objection", id="account.objection"),
        Binding("x", "resolve", "Resolve", id="account.resolve"),
        Binding("r", "reply", "Reply", id="account.reply"),
        Binding("a", "unassign", "Unassign", id="account.unassign"),
        Binding("p", "pin", "Pin to deal", id="account.pin"),
        Binding("w", "why", "Why here", id="account.why"),
    ]

    @property
    def rapport(self) -> RapportApp:
        return self.app  # type: ignore[return-value]

    @property
    def account_screen(self) -> AccountScreen:
        return self.screen  # type: ignore[return-value]

    @work(exclusive=True, group="account-edit")
    async def action_add(self, kind: str) -> None:
        body = await self.app.push_screen_wait(self.rapport.prompt(kind.capitalize()))
        if body and body.strip():
            deal = self.account_screen.open_deal()
            self.rapport.actions.add_activity(self.account_screen.account_id, kind, body.strip(),
                                              deal.id if deal else None)
            self.account_screen.reload()

    def action_resolve(self) -> None:
        item = self.current_row
        if item is None or item.kind != "objection" or item.resolved:
            notify(self, "the cursor is not on an open objection", severity="warning")
            return
        self.rapport.actions.resolve(item.activity_id)
        self.account_screen.reload()

    def action_reply(self) -> None:
        item = self.current_row
        self.rapport.start_reply(self.account_screen.account_id, item.message_id if item else None)

    def _message(self) -> queries.TimelineItem | None:
        item = self.current_row
        if item is None or item.message_id is None:
            notify(self, "the cursor is not on a message", severity="warning")
            return None
        return item

    def action_unassign(self) -> None:
        item = self._message()
        if item is not None:
            self.rapport.actions.unassign(item.message_id, self.account_screen.account_id)
            notify(self, "message unassigned from this account")
            self.account_screen.reload()

    def action_pin(self) -> None:
        item = self._message()
        deal = self.account_screen.open_deal()
        if item is None:
            return
        if deal is None:
            notify(self, "this account has no open deal", severity="warning")
            return
        try:
            self.rapport.actions.pin(item.thread_id, deal.id)
        except RapportError as exc:
            notify(self, str(exc), severity="error")
            return
        notify(self, f"thread pinned to {deal.title}")

    def action_why(self) -> None:
        item = self._message()
        if item is not None:
            notify(self, "\n".join(self.rapport.actions.why(item.message_id)) or "no rule", timeout=10)


class AccountScreen(Screen[None]):
    """One account."""

    BINDING_GROUP_TITLE = "Account"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back", id="account.back")]

    def __init__(self, account_id: int) -> None:
        super().__init__()
        self.account_id = account_id

    @property
    def rapport(self) -> RapportApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static(id="account-header")
        yield Static(id="account-contacts")
        yield Timeline(render_timeline_row, id="timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#timeline").focus()

    def open_deal(self) -> deals.Deal | None:
        pipeline = self.rapport.opened.config.pipeline
        for deal in deals.list_deals(self.rapport.opened.db, account_id=self.account_id):
            stage = pipeline.get(deal.stage)
            if stage is None or stage.kind == "open":
                return deal
        return None

    def reload(self) -> None:
        db = self.rapport.opened.db
        account = accounts.get_account(db, self.account_id)
        account_deals = deals.list_deals(db, account_id=self.account_id)
        header = line((account.name, "bold"), (f"  [{account.tier}]  ", "dim"), ", ".join(account.domains))
        for deal in account_deals:
            due = f" (due {deal.next_action_due})" if deal.next_action_due else ""
            header.append("\n")
            header.append_text(line((f"{deal.stage}: ", "bold"), f"{deal.title}  {deal.value:,.0f} {deal.currency}",
                                    ("  next: ", "dim"), f"{deal.next_action}{due}"))
        self.query_one("#account-header", Static).update(header)
        people = contacts.list_contacts(db, self.account_id)
        text = Text("Contacts: ", style="bold")
        text.append_text(line("; ".join(f"{c.name} <{c.emails[0] if c.emails else ''}>"
                                        f"{' (' + c.role + ')' if c.role else ''}" for c in people) or "none"))
        self.query_one("#account-contacts", Static).update(text)
        self.query_one("#timeline", Timeline).set_rows(queries.account_timeline(db, self.account_id))

    def on_row_list_selected(self, event: RowList.Selected) -> None:
        item = event.row
        if item.message_id is not None:
            self.rapport.open_message(item.message_id)
