"""Provides `PickScreen`: choose one of a few labelled values (an open deal, an account of a message)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rapport.tui.app.safe import safe_text


class PickScreen(ModalScreen[Any]):
    """A question over a list; enter returns the highlighted value, escape None."""

    BINDING_GROUP_TITLE = "Pick"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="pick.cancel")]
    DEFAULT_CSS = """
    PickScreen { align: center middle; }
    PickScreen > Vertical { width: 80%; max-width: 100; height: auto; max-height: 80%;
                            border: round $accent; background: $surface; padding: 0 1; }
    PickScreen OptionList { height: auto; max-height: 16; }
    """

    def __init__(self, question: str, choices: Sequence[tuple[str, Any]]) -> None:
        super().__init__()
        self._question = question
        self._values = [value for _label, value in choices]
        self._labels = [label for label, _value in choices]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_text(self._question), id="pick-question")
            yield OptionList(*(Option(safe_text(label)) for label in self._labels), id="pick-options")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self._values[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
