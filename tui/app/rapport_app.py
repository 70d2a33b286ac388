"""Provides `rapport_app(node)`: the running RapportApp, typed, for its screens and widgets.

Textual types `node.app` as a plain App; the screens and widgets call RapportApp's own methods
(prompt, open_account, change_store, ...), so they reach it through this one checked accessor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from rapport.tui.app.application import RapportApp


def rapport_app(node: DOMNode) -> RapportApp:
    """`node.app`, which must be a RapportApp (a bare App hosting the node is a programming error)."""
    from rapport.tui.app.application import RapportApp  # application.py imports the screens

    app = node.app
    if not isinstance(app, RapportApp):
        raise TypeError(f"{type(node).__name__} runs inside RapportApp, not {type(app).__name__}")
    return app
