"""Provides `FitTable`: a DataTable whose columns always fit its width, never scrolling sideways.

Figures keep the width they need; text columns ("flex") share what is left and cut with '…';
columns marked `wide` only appear when there is room for them. The layout is redone when the
table is resized, so 80 columns and 160 columns both show whole tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.widgets import DataTable

_PADDING = 2  # DataTable's cell padding, one column each side
_SCROLLBAR = 2  # room kept for the vertical scrollbar
_MIN_FLEX = 8


@dataclass(frozen=True)
class Column:
    header: str
    flex: bool = False  # text that may be cut; shares the width left by the others
    wide: bool = False  # only shown when every column fits at its natural width


class FitTable(DataTable[Text]):
    """A row-cursor DataTable laid out to its own width (see the module docstring)."""

    def __init__(self, columns: tuple[Column, ...], *, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.specs = columns
        self._rows: list[list[Text]] = []
        self._laid_out_for: tuple[int, int] | None = None

    def set_rows(self, rows: list[list[Text]]) -> None:
        """Replace the rows (one Text per column of `specs`, hidden ones included)."""
        self._rows = rows
        self._laid_out_for = None
        self._layout()

    @property
    def shown_headers(self) -> list[str]:
        return [str(column.label) for column in self.columns.values()]

    def on_resize(self, event: events.Resize) -> None:
        self._layout()

    def _layout(self) -> None:
        # Not shown yet (a hidden tab): guess the screen's width, so the first frame shown is
        # already right; the resize on showing lays it out exactly.
        width = self.size.width or (self.screen.size.width if self.is_attached else 0)
        if self._laid_out_for == (width, len(self._rows)):
            return
        self._laid_out_for = (width, len(self._rows))
        shown, widths = self._fit(width - _SCROLLBAR if width > 0 else 10_000)
        cursor = self.cursor_row
        self.clear(columns=True)
        for index, column_width in zip(shown, widths, strict=True):
            self.add_column(self.specs[index].header, width=column_width, key=str(index))
        self.add_rows([[row[i] for i in shown] for row in self._rows])
        if self._rows:
            self.move_cursor(row=min(cursor, len(self._rows) - 1))

    def _natural(self, index: int) -> int:
        cells = [row[index].cell_len for row in self._rows]
        return max([len(self.specs[index].header), *cells])

    def _fit(self, room: int) -> tuple[list[int], list[int]]:
        """Which columns to show and their widths, in `room` columns."""
        everything = list(range(len(self.specs)))
        natural = {i: self._natural(i) for i in everything}
        if sum(natural[i] + _PADDING for i in everything) <= room:
            return everything, [natural[i] for i in everything]
        shown = [i for i in everything if not self.specs[i].wide]
        flex = [i for i in shown if self.specs[i].flex]
        fixed = sum(natural[i] + _PADDING for i in shown if i not in flex)
        left = room - fixed - _PADDING * len(flex)
        widths = {i: natural[i] for i in shown if i not in flex}
        # Share what is left: narrow text columns keep their natural width, the rest split.
        pending = sorted(flex, key=lambda i: natural[i])
        while pending:
            share = max(left // len(pending), _MIN_FLEX)
            index = pending.pop(0)
            widths[index] = min(natural[index], share)
            left -= widths[index]
        return shown, [widths[i] for i in shown]
