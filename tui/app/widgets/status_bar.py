"""Provides `StatusBar`: the bottom line of every screen, the keys that fit beside the sync state."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.compose import compose
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

from rapport.tui.app.safe import safe_text


def _key_width(key: FooterKey) -> int:
    # Compact footer: "key description" and a one-cell margin; the palette key has a border instead.
    return cell_len(key.key_display) + (cell_len(key.description) + 1 if key.description else 0) + 1


def _unit_width(unit: list[Widget]) -> int:
    """Cells taken by one footer entry: a key, or a group of keys ('><') and its label."""
    width = 0
    for widget in unit:
        if isinstance(widget, FooterKey):
            width += _key_width(widget)
        elif isinstance(widget, KeyGroup):
            # As StatusBar's CSS lays groups out: a compact one's keys touch, then one space;
            # another's keys are each followed by a space.
            keys = [cell_len(key.key_display) for key in widget._pending_children if isinstance(key, FooterKey)]
            width += sum(keys) + (1 if widget.has_class("-compact") else len(keys))
        else:
            width += cell_len(str(widget.render())) + 1
    return width


def _units(widgets: list[Widget]) -> list[list[Widget]]:
    """The footer's widgets as entries: a group and the label after it belong together."""
    units: list[list[Widget]] = []
    for widget in widgets:
        if isinstance(widget, FooterLabel) and units and isinstance(units[-1][-1], KeyGroup):
            units[-1].append(widget)
        else:
            units.append([widget])
    return units


def _is_help(unit: list[Widget]) -> bool:
    return any(isinstance(w, FooterKey) and w.action in _ALWAYS for w in unit)


_ALWAYS = frozenset({"help", "app.help"})  # `?` lists every key: it is never dropped


class FittingFooter(Footer):
    """A compact Footer that shows only whole keys: the focused pane's first, the app's if room is left.

    Textual's Footer cuts the last key mid-word on a narrow terminal ('d Next ac'); this one drops
    the keys that do not fit (they stay in `?` and ctrl+p), and keeps `?` whatever the width.
    """

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._laid_out_width = 0

    def compose(self) -> ComposeResult:
        widgets = compose(self, super().compose())
        palette = [w for w in widgets if w.has_class("-command-palette")]
        units = _units([w for w in widgets if w not in palette])
        self._laid_out_width = self.size.width or self._expected_width()
        room = self._laid_out_width - sum(_unit_width([p]) + 1 for p in palette)
        room -= sum(_unit_width(unit) for unit in units if _is_help(unit))
        for unit in units:
            if not _is_help(unit):
                width = _unit_width(unit)
                if width > room:
                    continue  # keys come most important first: a later, shorter one may still fit
                room -= width
            yield from unit
        yield from palette

    def _expected_width(self) -> int:
        # Before the first layout: the screen's width less the sync state beside us (padding 1), so
        # the first layout usually finds the width right and need not compose the keys again.
        return self.app.size.width - (len(str(getattr(self.app, "sync_status", ""))) + 1)

    def on_resize(self) -> None:
        if self.size.width != self._laid_out_width:
            self._laid_out_width = self.size.width
            self.call_after_refresh(self.recompose)


class SyncStatus(Static):
    """The app's `sync_status` (short: a failure's full reason is notified once), kept in step by a watch."""

    DEFAULT_CSS = """
    SyncStatus { width: auto; max-width: 34; height: 1; padding: 0 0 0 1;
                 background: $footer-background; color: $footer-description-foreground; }
    SyncStatus.-syncing { color: $footer-key-foreground; }
    SyncStatus.-failed { background: $error; color: $text; text-style: bold; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "sync_status", self._show)

    def _show(self, text: str | None) -> None:
        text = text or ""  # an app without a sync (the Reports screen hosted alone) shows nothing
        self.set_class(text.startswith("syncing"), "-syncing")
        self.set_class("failed" in text, "-failed")
        self.update(safe_text(text))


class StatusBar(Horizontal):
    """Footer keys on the left, sync state on the right: the sync state is never pushed off screen."""

    DEFAULT_CSS = """
    StatusBar { dock: bottom; height: 1; width: 100%; }
    StatusBar > FittingFooter { dock: none; width: 1fr; }
    /* Groups laid out so _unit_width can count them: 'n c m o C Log', '<> Stage', one space after each. */
    StatusBar > FittingFooter.-compact KeyGroup { margin: 0; padding: 0; }
    StatusBar > FittingFooter.-compact KeyGroup FooterKey.-grouped { margin: 0 1 0 0; }
    StatusBar > FittingFooter.-compact KeyGroup.-compact FooterKey.-grouped { margin: 0; }
    StatusBar > FittingFooter.-compact KeyGroup.-compact { margin: 0 1 0 0; }
    StatusBar > FittingFooter.-compact FooterLabel { margin: 0 1 0 0; }
    """

    def compose(self) -> ComposeResult:
        yield FittingFooter()
        yield SyncStatus()
