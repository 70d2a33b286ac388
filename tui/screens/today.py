"""Provides `TodayScreen`: due next actions, stale accounts and unanswered client mail."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from rapport.store import queries
from rapport.tui.widgets.rowlist import RowList, line

if TYPE_CHECKING:
    from rapport.tui.app import RapportApp

_LABEL = {"due": ("due", "bold red"), "stale": ("stale", "yellow"), "unanswered": ("unanswered", "cyan")}


def render_today_row(item: queries.TodayItem, width: int) -> Text:
    label, style = _LABEL[item.section]
    return line((f"{label:<11}", style), (f"{item.day:<11}", "dim"), (f"{item.account_name[:24]:<25}", "bold"),
                item.text)


class TodayScreen(Screen[None]):
    """What needs doing today; enter opens the line's account."""

    BINDING_GROUP_TITLE = "Today"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back", id="today.back")]

    def compose(self) -> ComposeResult:
        yield Static(Text(" Today", style="bold"), id="today-title")
        yield RowList(render_today_row, id="today")
        yield Footer()

    def on_mount(self) -> None:
        app: RapportApp = self.app  # type: ignore[assignment]
        items = queries.today_items(app.opened.db, app.today, app.opened.config.stale_after_days)
        today_list = self.query_one("#today", RowList)
        today_list.set_rows(items)
        self.query_one("#today-title", Static).update(
            Text(f" Today {app.today.isoformat()} — {len(items)} items", style="bold"))
        today_list.focus()

    def on_row_list_selected(self, event: RowList.Selected) -> None:
        app: RapportApp = self.app  # type: ignore[assignment]
        app.open_account(event.row.account_id)
