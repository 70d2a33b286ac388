"""Provides `PromptScreen`: a one-line question; bad answers are refused in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from rapport.store.errors import RapportError
from rapport.tui.app.safe import clean, safe_text

# Refuses an answer by raising RapportError (its message is shown under the input); what it
# returns is not used, so a parser such as check_due serves as its own check.
Check = Callable[[str], object]


class PromptScreen(ModalScreen[str | None]):
    """Ask one thing; `check(answer)` raises RapportError to refuse it with its message."""

    BINDING_GROUP_TITLE = "Prompt"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, question: str, *, value: str = "", check: Check | None = None) -> None:
        super().__init__()
        self._question = question
        self._value = value
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(safe_text(self._question), id="prompt-question")
            yield Input(value=clean(self._value), id="prompt-input")
            yield Static("", id="prompt-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._check is not None:
            try:
                self._check(event.value)
            except RapportError as exc:
                self.query_one("#prompt-error", Static).update(safe_text(str(exc)))
                return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
