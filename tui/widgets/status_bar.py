"""Provides `StatusBar`: the bottom line of every screen, the keys that fit beside the sync state."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey

from rapport.tui.safe import safe_text


def _key_width(key: FooterKey) -> int:
    # Compact footer: "key description" and a one-cell margin; the palette key has a border instead.
    return cell_len(key.key_display) + (cell_len(key.description) + 1 if key.description else 0) + 1


class FittingFooter(Footer):
    """A compact Footer that shows only whole keys: the focused pane's first, the app's if room is left.

    Textual's Footer cuts the last key mid-word on a narrow terminal ('d Next ac'); this one drops
    the keys that do not fit (they stay in `?` and ctrl+p).
    """

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._laid_out_width = 0

    def compose(self) -> ComposeResult:
        items = list(super().compose())
        palette = [item for item in items if item.has_class("-command-palette")]
        room = (self.size.width or self.app.size.width) - sum(_key_width(p) + 1 for p in palette)
        for item in items:
            if item in palette:
                continue
            width = _key_width(item) if isinstance(item, FooterKey) else cell_len(str(item.render()))
            if width > room:
                break
            room -= width
            yield item
        yield from palette

    def on_resize(self) -> None:
        if self.size.width != self._laid_out_width:
            self._laid_out_width = self.size.width
            self.call_after_refresh(self.recompose)


class SyncStatus(Static):
    """The app's `sync_status` (short: a failure's full reason is notified once), kept in step by a watch."""

    DEFAULT_CSS = """
    SyncStatus { width: auto; max-width: 34; height: 1; padding: 0 1;
                 background: $footer-background; color: $footer-description-foreground; }
    SyncStatus.-syncing { color: $footer-key-foreground; }
    SyncStatus.-failed { background: $error; color: $text; text-style: bold; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "sync_status", self._show)

    def _show(self, text: str) -> None:
        self.set_class(text.startswith("syncing"), "-syncing")
        self.set_class("failed" in text, "-failed")
        self.update(safe_text(text))


class StatusBar(Horizontal):
    """Footer keys on the left, sync state on the right: the sync state is never pushed off screen."""

    DEFAULT_CSS = """
    StatusBar { dock: bottom; height: 1; width: 100%; }
    StatusBar > FittingFooter { dock: none; width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield FittingFooter()
        yield SyncStatus()
