"""Provides the one safe path for showing store or mail text: `clean`, `safe_text` and `notify`.

Names, subjects and bodies come from other people's mail (or were typed from it). Whatever the
TUI shows of them — a list line, a header, a prompt, a notification, a palette hit — goes through
here, so a terminal escape never reaches the terminal and `[markup]` is never interpreted.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.text import Text

from rapport.store.text import ESCAPE_SEQUENCE

if TYPE_CHECKING:  # Textual's DOM types only for annotations
    from typing import Any

    from textual.app import App
    from textual.notifications import SeverityLevel
    from textual.widget import Widget

# Escape sequences first (so their payload goes too), then any C0/C1 control left.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str, *, keep_newlines: bool = False) -> str:
    """`text` without terminal escapes or control characters (tabs become spaces)."""
    text = ESCAPE_SEQUENCE.sub("", str(text)).replace("\t", "    ")
    if not keep_newlines:
        text = text.replace("\r", " ").replace("\n", " ")
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)


def safe_text(text: str, style: str = "", *, keep_newlines: bool = False) -> Text:
    """A Rich Text of `text`, cleaned; Text is never parsed as markup."""
    return Text(clean(text, keep_newlines=keep_newlines), style=style)


def notify(node: Widget | App[Any], message: str, *, title: str = "", severity: SeverityLevel = "information",
           timeout: float | None = None) -> None:
    """Show a notification: message and title cleaned, never rendered as markup."""
    node.notify(clean(message, keep_newlines=True), title=clean(title), severity=severity, timeout=timeout,
                markup=False)
