"""Provides `HelpScreen` (`?`): every key of Rapport's own for the screen below, scrollable.

Textual's help panel cannot be scrolled from the keyboard, is cut at 80x24 and lists the scroll
bindings of Textual's widgets (Scroll Left, Page Right) among ours. This lists only Rapport's
bindings: the focused pane's first, then the screen's other panes, the screen, the app.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from rapport.tui.app.palette import _group, _key_text, _own_bindings
from rapport.tui.app.safe import clean


def _nodes(screen: Screen[Any]) -> list[DOMNode]:
    focused = screen.focused
    panes = [w for w in screen.query("*") if w.display and _own_bindings(w)]
    if focused in panes:
        panes.remove(focused)
        panes.insert(0, focused)
    return [*panes, screen, screen.app]


def help_table(screen: Screen[Any]) -> Table:
    """Key and description (with its tooltip) per group, each action once."""
    table = Table(show_header=False, box=None, padding=(0, 1), expand=False)
    table.add_column(justify="right", style="bold", no_wrap=True)
    table.add_column()
    seen: set[str] = set()
    for node in _nodes(screen):
        by_action: dict[str, list[Binding]] = {}
        for binding in _own_bindings(node):
            if binding.action not in seen:
                by_action.setdefault(binding.action, []).append(binding)
        if not by_action:
            continue
        table.add_row("", Text(clean(_group(node)), style="bold underline"))
        for action, bindings in by_action.items():
            seen.add(action)
            first = bindings[0]
            keys = " ".join(dict.fromkeys(_key_text(node, b) for b in bindings))
            text = Text(clean(first.description or action))
            if first.tooltip:
                text.append(" " + clean(first.tooltip), style="dim")
            table.add_row(Text(clean(keys)), text)
    table.add_row("", "")
    table.add_row(Text("ctrl+p"), Text("every command, searchable (the palette)"))
    return table


class HelpScreen(ModalScreen[None]):
    """The keys of the screen below; j/k, arrows and page keys scroll; escape, q or ? close."""

    BINDING_GROUP_TITLE = "Help"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", id="help.close"),
        Binding("j", "scroll('down')", "Down", show=False, id="help.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="help.up"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: right top; }
    HelpScreen > VerticalScroll { width: 64; max-width: 100%; height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, below: Screen[Any]) -> None:
        super().__init__()
        self.table = help_table(below)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-scroll") as scroll:
            scroll.border_title = "Keys (escape closes; j/k, pgup/pgdn scroll)"
            yield Static(self.table, id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_scroll(self, direction: str) -> None:
        scroller = self.query_one("#help-scroll", VerticalScroll)
        (scroller.scroll_down if direction == "down" else scroller.scroll_up)(animate=False)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
