"""Provides `line` and `role`: how render functions build a row's Text (cleaned, styled by meaning)."""

from __future__ import annotations

from rich.text import Text

from rapport.tui.app.safe import clean

# What a row's part means, not its colour: render functions style parts with role("overdue") etc.,
# and RowList maps each role to its component class (theme variables, NO_COLOR rules in its CSS).
ROLES = ("heading", "strong", "muted", "unread", "overdue", "alert", "rotting", "account", "unassigned",
         "incoming", "outgoing", "stage")
ROLE_PREFIX = "rowlist--"


def role(name: str) -> str:
    """The style name of a role, for `line()` parts; resolved by the RowList that renders it."""
    return ROLE_PREFIX + name


def line(*parts: tuple[str, str] | str) -> Text:
    """A Text from (text, style) parts; mail text is cleaned and never parsed as markup."""
    out = Text()
    for part in parts:
        if isinstance(part, str):
            out.append(clean(part))
        else:
            out.append(clean(part[0]), style=part[1])
    return out
