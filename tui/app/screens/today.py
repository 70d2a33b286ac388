"""Provides `TodayScreen`: opt-outs and bounces to review, due next actions, open complaints, stale accounts and
unanswered client mail — all of them."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from rapport.store.views.today import TodayItem, today_items
from rapport.tui.app.rapport_app import rapport_app
from rapport.tui.app.safe import notify
from rapport.tui.app.screens.resume import ReloadOnResume
from rapport.tui.app.widgets.rowlist import RowList, line, role
from rapport.tui.app.widgets.status_bar import StatusBar
from rapport.tui.app.widgets.when import WIDTH, short_day

if TYPE_CHECKING:
    from rapport.tui.app.application import RapportApp

# Overdue and due today differ by label and by the "!" mark, not by colour only: 16-colour
# terminals (TERM=screen) and NO_COLOR lose the colour.
_LABEL = {"opt-out": ("  opt-out", role("alert")), "bounce": ("  bounce", role("alert")),
          "overdue": ("! overdue", role("overdue")),
          "due today": ("  due today", role("strong")), "complaint": ("  complaint", role("alert")),
          "stale": ("  stale", role("rotting")), "unanswered": ("  unanswered", role("incoming"))}
# Shown in the title only when there are some: most days there are none.
_WHEN_ANY = ("opt-out", "bounce")
_COUNTED = ("complaint", "opt-out", "bounce")  # nouns: "2 complaints" (not "2 stales")


def today_group(item: TodayItem, today: date) -> str:
    """The item's group: a due next action is 'overdue' before today, else 'due today'."""
    if item.section != "due":
        return item.section
    return "overdue" if item.day < today.isoformat() else "due today"


def render_today_row(item: TodayItem, width: int, today: date | None = None) -> Text:
    today = today or date.today()
    label, style = _LABEL[today_group(item, today)]
    when = short_day(item.day, today)
    return line((f"{label:<13}", style), (f"{when:<{WIDTH}} ", role("muted")),
                (f"{item.account_name[:24]:<25}", role("strong")), item.text)


def today_title(day: date, items: list[TodayItem]) -> Text:
    """' Today 2026-11-18 — 2 overdue · 1 due today · 1 complaint · 12 stale · 454 unanswered'."""
    counts = Counter(today_group(item, day) for item in items)
    parts = " · ".join(f"{counts[group]:,} {group}" + ("s" if group in _COUNTED
                                                      and counts[group] != 1 else "")
                       for group in _LABEL if counts[group] or group not in _WHEN_ANY)
    return Text(f" Today {day.isoformat()} — {parts}", style="bold")


class TodayScreen(ReloadOnResume, Screen[None]):
    """What needs doing today; enter opens the line's account."""

    CSS_PATH = "today.tcss"
    BINDING_GROUP_TITLE = "Today"
    # q goes back, as in the reader (neomutt's way); q quits on the main screen.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", id="today.back"),
        Binding("a", "acknowledge", "Acknowledge opt-out or bounce", show=False,
                id="today.acknowledge"),
    ]

    @property
    def rapport(self) -> RapportApp:
        return rapport_app(self)

    def compose(self) -> ComposeResult:
        yield Static(Text(" Today", style="bold"), id="today-title")
        yield RowList(lambda item, width: render_today_row(item, width, self.rapport.today), id="today")
        yield StatusBar()

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#today", RowList).focus()

    def reload(self) -> None:
        app = self.rapport
        items = today_items(app.opened.db, app.today, app.opened.config.stale_after_days)
        today_list = self.query_one("#today", RowList)
        today_list.set_source(len(items), lambda offset, limit: items[offset:offset + limit],
                              keep_row_key=lambda item: (item.section, item.account_id, item.text, item.day))
        self.query_one("#today-title", Static).update(today_title(app.today, items))

    def mail_changed(self) -> None:
        self.reload()

    def on_row_list_selected(self, event: RowList.Selected) -> None:
        if event.row.account_id:
            self.rapport.open_account(event.row.account_id)
        elif event.row.message_id is not None:
            self.rapport.open_message(event.row.message_id)  # the request or bounce, to review
        else:
            notify(self, "the address is not in the book and its mail is no longer stored: "
                   "add the contact, or acknowledge with a", severity="warning")

    def action_acknowledge(self) -> None:
        """An unsubscribe request seen: it leaves Today (the opt-out itself stays); so do the
        bounces of an address not in the book."""
        item = self.query_one("#today", RowList).current_row
        if item is not None and item.request_id is not None:
            self.rapport.actions.acknowledge_optout(item.request_id)
        elif item is not None and item.bounce_address:
            self.rapport.actions.acknowledge_bounces(item.bounce_address)
        else:
            notify(self, "the cursor is not on an opt-out or a bounce", severity="warning")
            return
        self.reload()
