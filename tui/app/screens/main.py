"""Provides `MainScreen`: the pipeline (left) beside the inbox (right); stacked on narrow terminals."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Input, Static

from rapport.store.views import queries
from rapport.tui.app.book_flows import BookContext
from rapport.tui.app.rapport_app import rapport_app
from rapport.tui.app.safe import clean, notify
from rapport.tui.app.screens.resume import ReloadOnResume
from rapport.tui.app.widgets.inbox_list import InboxList
from rapport.tui.app.widgets.pipeline_list import PipelineList
from rapport.tui.app.widgets.rowlist import RowList
from rapport.tui.app.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from rapport.tui.app.application import RapportApp


def _pane_keys(pane: type[RowList], title: str) -> list[Binding]:
    """Hidden screen bindings for `pane`'s own keys: they fire only when the other pane has the
    focus (the focused pane's bindings come first) and say, in one line, where the key works."""
    keys = [key for binding in Binding.make_bindings(pane.__dict__["BINDINGS"]) for key in binding.key.split(",")]
    return [Binding(key, f"other_pane('{title}', '{key}')", "", show=False, system=True) for key in keys]


class MainScreen(ReloadOnResume, Screen[None]):
    """Pipeline and inbox side by side."""

    CSS_PATH = "main.tcss"
    _has_deals = False  # set by refresh_pipeline
    BINDING_GROUP_TITLE = "Main"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="main.search"),
        Binding("escape", "clear_search", "Clear", show=False, id="main.clear"),
        *_pane_keys(InboxList, "Inbox"),
        *_pane_keys(PipelineList, "Pipeline"),
    ]

    @property
    def rapport(self) -> RapportApp:
        return rapport_app(self)

    @property
    def pipeline(self) -> PipelineList:
        return self.query_one("#pipeline", PipelineList)

    @property
    def inbox(self) -> InboxList:
        return self.query_one("#inbox", InboxList)

    @property
    def filter(self) -> queries.InboxFilter:
        """The inbox's filter (owned by the inbox pane)."""
        return self.inbox.filter

    def compose(self) -> ComposeResult:
        yield Static("", id="welcome")  # an empty workspace: the next steps, instead of two empty panes
        with Container(id="panes"):
            yield PipelineList(id="pipeline")
            yield InboxList(id="inbox")
        yield Input(placeholder="search mail (enter to apply, escape to clear)", id="search")
        yield StatusBar()

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        self.refresh_pipeline()
        self.inbox.show_first_page()  # counted once painted: no scan of all the mail before that
        self.pipeline.focus()
        self._show_titles()
        self._show_welcome()  # the first page says whether there is mail at all

    def on_descendant_focus(self) -> None:
        self._show_titles()

    def on_descendant_blur(self) -> None:
        self._show_titles()

    def _show_titles(self) -> None:
        """Each pane's title; the focused one marked '▶' (and a heavy border, CSS), which
        survives NO_COLOR and 16 colours where a border colour does not."""
        for pane, title in ((self.pipeline, "Pipeline"), (self.inbox, self._inbox_title())):
            pane.border_title = Text(("▶ " if pane.has_focus else "") + title)  # Text: never markup

    def _inbox_title(self) -> str:
        parts = []
        flt = self.filter
        if flt.unassigned:
            parts.append("unassigned")
        if flt.unread:
            parts.append("unread")
        if flt.account_id is not None:
            parts.append(f"account {self.rapport.actions.account_name(flt.account_id)}")
        if flt.text:
            parts.append(f"search {flt.text!r}")
        count = self.inbox.row_count
        title = f"Inbox: {count:,} message{'' if count == 1 else 's'}" if self.inbox.counted else "Inbox"
        return clean(title + ("  [" + ", ".join(parts) + "]" if parts else ""))

    def action_other_pane(self, pane: str, key: str) -> None:
        notify(self, f"{key} works in the {pane} pane: tab to it", severity="warning", timeout=4)

    def refresh_pipeline(self, deal_id: int | None = None) -> None:
        """Re-read the pipeline; the cursor goes to `deal_id` if given, else stays on its deal."""
        pipeline = self.pipeline
        if deal_id is None and pipeline.current_row is not None and pipeline.current_row.deal is not None:
            deal_id = pipeline.current_row.deal.id
        # Paged: the stages' figures come from one grouped query, a deal's line is read when shown.
        actions = self.rapport.actions
        index = actions.pipeline_index()
        self._has_deals = index.deals > 0
        pipeline.set_source(index.total, lambda offset, limit: actions.pipeline_page(index, offset, limit))
        if deal_id is not None:
            position = actions.pipeline_position(index, deal_id)
            if position is not None:
                pipeline.cursor = position

    def book_context(self) -> BookContext:
        """The inbox's message sender when the inbox has the focus, else the pipeline's deal."""
        if self.focused is self.inbox:
            row = self.inbox.current_row
            return BookContext(sender_name=row.from_name, sender_email=row.from_addr) if row else BookContext()
        row = self.pipeline.current_row
        if row is not None and row.deal is not None:
            return BookContext(account_id=row.deal.account_id, deal_id=row.deal.id)
        return BookContext()

    def mail_changed(self) -> None:
        """New mail or a re-link: both panes re-read, cursors stay on their rows."""
        self.inbox.reload(keep=True)
        self.refresh_pipeline()

    @on(PipelineList.DealChanged)
    def _deal_changed(self, event: PipelineList.DealChanged) -> None:
        event.stop()
        self.refresh_pipeline(event.deal_id)

    @on(InboxList.Reloaded)
    def update_status(self) -> None:
        self._show_titles()
        self._show_welcome()

    def _show_welcome(self) -> None:
        """A workspace with no deal and no mail shows the steps to fill it (as `rapport init`)."""
        from rapport.store.session import next_steps

        flt = self.filter
        empty = (self.inbox.row_count == 0 and not self._has_deals and not flt.text and not flt.unassigned
                 and not flt.unread and flt.account_id is None)
        welcome = self.query_one("#welcome", Static)
        welcome.display = empty
        self.query_one("#panes").display = not empty
        if not empty and self.focused is None:
            self.pipeline.focus()  # the first sync filled an empty workspace
        if empty:
            text = Text("This workspace is empty. Next steps:\n", style="bold")
            text.append(clean("\n".join(next_steps(self.rapport.opened.workspace)), keep_newlines=True))
            welcome.update(text)

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.value = self.filter.text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#search").display = False
        self.inbox.filter = replace(self.inbox.filter, text=event.value.strip())
        self.inbox.focus()

    def action_clear_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = False
        if self.filter.text:
            self.inbox.filter = replace(self.inbox.filter, text="")
        self.inbox.focus()

    def on_row_list_selected(self, event: RowList.Selected) -> None:
        if isinstance(event.row, queries.PipelineRow):
            if event.row.deal is not None:
                self.rapport.open_account(event.row.deal.account_id)
        elif isinstance(event.row, queries.InboxRow):
            self.rapport.open_message(event.row.id)
            if not event.row.seen:
                self.rapport.actions.set_seen(event.row.id, True)
                self.inbox.reload()
