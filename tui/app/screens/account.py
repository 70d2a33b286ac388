"""Provides `AccountScreen`: header, contacts and the timeline of one account."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from rapport.store.book import accounts, activities, contacts, deals
from rapport.store.money.currency import format_amount
from rapport.tui.app.book_flows import BookContext
from rapport.tui.app.rapport_app import rapport_app
from rapport.tui.app.safe import notify
from rapport.tui.app.screens.pick import PickScreen
from rapport.tui.app.screens.resume import ReloadOnResume
from rapport.tui.app.widgets.rowlist import RowList, line
from rapport.tui.app.widgets.status_bar import StatusBar
from rapport.tui.app.widgets.timeline import Timeline
from rapport.tui.app.widgets.when import long_moment, short_day

if TYPE_CHECKING:
    from rapport.tui.app.application import RapportApp

# The contacts line gets this many terminal lines; whoever does not fit is counted, not cut off.
_CONTACT_LINES = 2


def reach_mark(contact: contacts.Contact) -> str:
    """' ✗bounced' / ' ✗opted out' beside a contact announcements skip, else ''."""
    marks = [m for m, on in (("bounced", contact.bounced_utc), ("opted out", contact.opted_out)) if on]
    return " ✗" + ", ".join(marks) if marks else ""


def contacts_line(people: list[contacts.Contact], width: int) -> Text:
    """'Contacts (n): Name <email> (role); …' fitted to `_CONTACT_LINES` lines of `width`, '+k more' if not."""
    room = max(width, 20) * _CONTACT_LINES
    head = f"Contacts ({len(people)}): "
    shown: list[str] = []
    for index, c in enumerate(people):
        entry = f"{c.name} <{c.emails[0] if c.emails else ''}>" + (f" ({c.role})" if c.role else "")
        entry += reach_mark(c)
        rest = len(people) - index - 1
        tail = f"; +{rest} more" if rest else ""
        if len(head) + len("; ".join([*shown, entry])) + len(tail) > room:
            shown.append(f"+{len(people) - index} more")
            break
        shown.append(entry)
    text = Text(head, style="bold")
    text.append_text(line("; ".join(shown) or "none"))
    return text


class AccountScreen(ReloadOnResume, Screen[None]):
    """One account."""

    CSS_PATH = "account.tcss"
    BINDING_GROUP_TITLE = "Account"
    # q goes back, as in the reader (neomutt's way); q quits on the main screen.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", id="account.back"),
        Binding("B", "clear_bounce", "Clear a bounce", show=False, id="account.clear_bounce"),
        Binding("e", "edit", "Edit", tooltip="the account; on a draft line of the timeline: the draft, in $EDITOR "
                "(it replaces the saved one)", id="account.edit"),
        Binding("plus", "app.book('new_contact')", "New contact", show=False, id="account.new_contact"),
        Binding("D", "app.book('new_deal')", "New deal", show=False, id="account.new_deal"),
        Binding("W", "app.book('mark_won')", "Won", show=False, id="account.won"),
        Binding("L", "app.book('mark_lost')", "Lost", show=False, id="account.lost"),
        Binding("O", "app.book('reopen')", "Reopen", show=False, id="account.reopen"),
        Binding("X", "app.book('archive')", "Archive", show=False, id="account.archive"),
    ]

    def __init__(self, account_id: int) -> None:
        super().__init__()
        self.account_id = account_id
        self._people: list[contacts.Contact] = []  # read by reload(); a resize only lays them out again

    @property
    def rapport(self) -> RapportApp:
        return rapport_app(self)

    @property
    def timeline(self) -> Timeline:
        return self.query_one("#timeline", Timeline)

    def compose(self) -> ComposeResult:
        yield Static(id="account-header")
        yield Static(id="account-contacts")
        yield Timeline(self.account_id, id="timeline")
        yield StatusBar()

    def on_mount(self) -> None:
        self.reload()
        self.timeline.focus()

    def reload(self) -> None:
        db = self.rapport.opened.db
        account = accounts.get_account(db, self.account_id)
        header = line((account.name, "bold"), (f"  [{account.tier}]  ", "dim"), ", ".join(account.domains))
        for deal in deals.list_deals(db, account_id=self.account_id):
            due = f" (due {short_day(deal.next_action_due, self.rapport.today)})" if deal.next_action_due else ""
            header.append("\n")
            # No bare "next:": a deal without a next action says so.
            header.append_text(line((f"{deal.stage}: ", "bold"), f"{deal.title}  {format_amount(deal.value, deal.currency)} {deal.currency}",
                                    ("  next: ", "dim") if deal.next_action else ("  no next action", "dim"),
                                    f"{deal.next_action}{due}"))
        self.query_one("#account-header", Static).update(header)
        self._people = contacts.list_contacts(db, self.account_id)
        self._show_contacts()
        self.timeline.reload()

    def _show_contacts(self) -> None:
        box = self.query_one("#account-contacts", Static)
        box.update(contacts_line(self._people, (box.size.width or self.app.size.width) - 2))

    def on_resize(self) -> None:
        self._show_contacts()

    def mail_changed(self) -> None:
        if self.rapport.actions.account_archived(self.account_id):
            return  # archived from here: the screen is being closed
        self.reload()

    def book_context(self) -> BookContext:
        return BookContext(account_id=self.account_id)

    @on(Timeline.Changed)
    def _timeline_changed(self, event: Timeline.Changed) -> None:
        event.stop()
        self.reload()

    async def action_edit(self) -> None:
        """On a draft line: re-edit the draft (screens/drafts.py); anywhere else: the account's form."""
        item = self.timeline.current_row if self.timeline.has_focus else None
        if item is not None and item.kind == "draft" and item.activity_id is not None:
            message_id = activities.get_activity(self.rapport.opened.db, item.activity_id).message_id
            if message_id:
                from rapport.tui.app.screens.drafts import reedit_draft

                reedit_draft(self.app, message_id)
                return
        await self.run_action("app.book('edit_account')")

    def _open_activity(self, activity_id: int) -> None:
        """A note, call, meeting… in full on its own screen; a draft in the reader (screens/drafts.py)."""
        from rapport.tui.app.screens.full_text import FullTextScreen, full_text

        db = self.rapport.opened.db
        entry = activities.get_activity(db, activity_id)
        if entry.kind == "draft" and entry.message_id:
            from rapport.tui.app.screens.drafts import open_draft

            account = accounts.get_account(db, self.account_id)
            open_draft(self.app, entry.message_id, (account.id, account.name))
            return
        deal = deals.get_deal(db, entry.deal_id).title if entry.deal_id else ""
        body = (f"{entry.from_stage} → {entry.to_stage}" if entry.kind == "stage_change"
                else entry.body if entry.body != entry.subject else "")
        self.app.push_screen(FullTextScreen(full_text(
            f"{entry.kind.replace('_', ' ').capitalize()} — {accounts.get_account(db, self.account_id).name}",
            [("When", long_moment(entry.date_utc)), ("Deal", deal), ("Subject", entry.subject)], body)))

    @work(exclusive=True, group="account-edit")
    async def action_clear_bounce(self) -> None:
        """The address delivers again: the only bounced contact's, or the one picked."""
        bounced = [c for c in self._people if c.bounced_utc]
        if not bounced:
            notify(self, "no contact of this account has bounced", severity="warning")
            return
        chosen: str | None = bounced[0].email
        if len(bounced) > 1:
            chosen = await self.app.push_screen_wait(PickScreen(
                "Clear whose bounce?", [(f"{c.name} <{c.email}> — {c.bounce_reason}", c.email)
                                        for c in bounced]))
        if chosen:
            notify(self, self.rapport.actions.clear_bounce(chosen))
            self.reload()

    def on_row_list_selected(self, event: RowList.Selected) -> None:
        item = event.row
        if item.activity_id is not None:
            self._open_activity(item.activity_id)
        elif item.message_id is not None:
            self.rapport.open_message(item.message_id)
            # Read here as in the inbox: the flag is stored and goes back to the server at the next sync.
            self.rapport.actions.set_seen(item.message_id, True)
