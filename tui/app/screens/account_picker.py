"""Provides `AccountPicker`: type part of an account's name, see the candidates, pick one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from rapport.store.book.accounts import Account
from rapport.tui.app.safe import safe_text

Search = Callable[[str], Sequence[Account]]


class AccountPicker(ModalScreen[int | None]):
    """Candidates update as you type (best first); up/down choose, enter opens, escape cancels."""

    BINDING_GROUP_TITLE = "Account picker"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "move(1)", "Next match", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Previous match", show=False, id="picker.up"),
    ]
    DEFAULT_CSS = """
    AccountPicker { align: center middle; }
    AccountPicker > Vertical { width: 80%; max-width: 100; height: auto; border: round $accent;
                               background: $surface; padding: 0 1; }
    AccountPicker OptionList { height: auto; max-height: 10; }
    AccountPicker #picker-error { color: $error; height: auto; }
    """

    def __init__(self, question: str, search: Search, *, exclude: frozenset[int] = frozenset()) -> None:
        super().__init__()
        self._question = question
        self._search = search
        self._exclude = exclude
        self._ids: list[int] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_text(self._question), id="picker-question")
            yield Input(placeholder="part of the name or a domain", id="picker-input")
            yield OptionList(id="picker-options")
            yield Static("", id="picker-error")

    @property
    def options(self) -> OptionList:
        return self.query_one("#picker-options", OptionList)

    @property
    def candidates(self) -> list[str]:
        """The names listed now, best match first."""
        return [str(self.options.get_option_at_index(i).prompt) for i in range(self.options.option_count)]

    def on_input_changed(self, event: Input.Changed) -> None:
        found = [a for a in self._search(event.value) if a.id not in self._exclude]
        self._ids = [a.id for a in found]
        self.options.clear_options()
        self.options.add_options(
            Option(safe_text(f"{a.name}" + (f"  ({', '.join(a.domains)})" if a.domains else ""))) for a in found)
        if found:
            self.options.highlighted = 0
        self.query_one("#picker-error", Static).update("")

    def action_move(self, delta: int) -> None:
        if self._ids:
            current = self.options.highlighted or 0
            self.options.highlighted = max(0, min(len(self._ids) - 1, current + delta))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self._ids:
            self.query_one("#picker-error", Static).update(safe_text(f"no account matches {event.value.strip()!r}"))
            return
        self.dismiss(self._ids[self.options.highlighted or 0])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self._ids[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
