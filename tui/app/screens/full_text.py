"""Provides `FullTextScreen`: the whole of one timeline entry (a note, a call, a meeting…) that
its one line cuts, scrollable; escape or q goes back. Its text is the user's or mail's: shown
through the safe helpers, never as markup."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from rapport.tui.app.safe import clean
from rapport.tui.app.widgets.status_bar import StatusBar


def full_text(title: str, details: list[tuple[str, str]], body: str) -> Text:
    """A bold title, dim 'Label: value' lines (empty values left out), a blank line, the body."""
    out = Text(clean(title) + "\n", style="bold")
    for label, value in details:
        if value:
            out.append(f"{label}: ", style="dim")
            out.append(clean(value) + "\n")
    out.append("\n" + clean(body, keep_newlines=True))
    return out


class FullTextScreen(Screen[None]):
    """One entry in full."""

    BINDING_GROUP_TITLE = "Entry"
    DEFAULT_CSS = "FullTextScreen #full-text { height: 1fr; padding: 0 1; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", id="entry.back"),
        Binding("j", "scroll('down')", "Down", show=False, id="entry.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="entry.up"),
    ]

    def __init__(self, text: Text) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="full-text"):
            yield Static(self.text, id="full-text-body")
        yield StatusBar()

    def on_mount(self) -> None:
        self.query_one("#full-text").focus()

    def action_scroll(self, direction: str) -> None:
        scroller = self.query_one("#full-text", VerticalScroll)
        (scroller.scroll_down if direction == "down" else scroller.scroll_up)(animate=False)
