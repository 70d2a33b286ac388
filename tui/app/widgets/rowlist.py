"""Provides `RowList`: a virtualised, keyboard-driven list over pages fetched on demand."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rapport.tui.app.widgets.row_text import ROLE_PREFIX, ROLES, line, role

__all__ = ["PAGE", "RowList", "line", "role"]

PAGE = 200

Fetch = Callable[[int, int], Sequence[Any]]
RenderRow = Callable[[Any, int], Text]


class RowList(ScrollView, can_focus=True):
    """Only the visible lines are rendered; rows come from `fetch(offset, limit)` in pages.

    A DataTable holding 100k rows takes seconds to build; this holds a few pages at a time.
    """

    BINDING_GROUP_TITLE = "List"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="list.up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="list.page_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="list.page_up"),
        Binding("home", "first", "First", show=False, id="list.first"),
        Binding("end", "last", "Last", show=False, id="list.last"),
        Binding("enter", "select", "Open", id="list.open"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"rowlist--cursor", *(role(name) for name in ROLES)}
    DEFAULT_CSS = """
    RowList { height: 1fr; overflow-x: hidden; }
    RowList > .rowlist--cursor { background: $block-cursor-blurred-background; }
    RowList:focus > .rowlist--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    RowList > .rowlist--heading { color: $text-primary; text-style: bold; }
    RowList > .rowlist--strong { text-style: bold; }
    RowList > .rowlist--muted { color: $foreground-muted; }
    RowList > .rowlist--unread { text-style: bold; }
    /* Underlined too: a 16-colour terminal may map $text-error to the plain foreground. */
    RowList > .rowlist--overdue { color: $text-error; text-style: bold underline; }
    RowList > .rowlist--alert { color: $text-error; text-style: bold; }
    RowList > .rowlist--rotting { color: $text-warning; text-style: italic; }
    RowList > .rowlist--account { color: $text-secondary; }
    RowList > .rowlist--unassigned { color: $foreground-muted; text-style: italic; }
    RowList > .rowlist--incoming { color: $text-accent; }
    RowList > .rowlist--outgoing { color: $text-success; }
    RowList > .rowlist--stage { color: $text-primary; }
    /* NO_COLOR: what is late stands out by attributes (reverse, underline), and muted text stays readable. */
    App:nocolor RowList > .rowlist--overdue, App:nocolor RowList > .rowlist--alert {
        color: $foreground; text-style: bold reverse;
    }
    App:nocolor RowList > .rowlist--rotting { color: $foreground; text-style: italic underline; }
    App:nocolor RowList > .rowlist--muted, App:nocolor RowList > .rowlist--unassigned { color: $foreground; }
    """

    cursor: reactive[int] = reactive(0, always_update=True)
    """Index of the highlighted row; kept in view, and every change posts `Highlighted`."""

    @dataclass
    class Selected(Message):
        """Enter was pressed on a row."""

        rowlist: RowList
        row: Any

    @dataclass
    class Highlighted(Message):
        """The cursor moved to a row."""

        rowlist: RowList
        row: Any

    def __init__(self, render_row: RenderRow, *, name: str | None = None, id: str | None = None,  # noqa: A002 (Textual's name)
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._render_row = render_row
        self._fetch: Fetch = lambda _offset, _limit: []
        self._count = 0
        self._pages: dict[int, Sequence[Any]] = {}
        self._role_styles: dict[str, Style] = {}

    # -- data -------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return self._count

    def set_source(self, count: int, fetch: Fetch, *, keep_row_key: Callable[[Any], Any] | None = None) -> None:
        """Point the list at new data; with `keep_row_key`, the cursor stays on the same row."""
        old = self.current_row if keep_row_key else None
        self._fetch = fetch
        self._count = count
        self._pages.clear()
        # Width 0: rows are cut to the visible width, so there is never a horizontal scrollbar
        # (the widget's width includes the vertical scrollbar, and a row taller would hide the cursor).
        self.virtual_size = Size(0, count)
        target = min(self.cursor, max(count - 1, 0))
        if old is not None and keep_row_key is not None:
            # New rows arrive above: find the old row near its old position, so the cursor stays on it.
            wanted = keep_row_key(old)
            for index in range(max(self.cursor - 5, 0), min(self.cursor + PAGE, count)):
                row = self.row(index)
                if row is not None and keep_row_key(row) == wanted:
                    target = index
                    break
        self.cursor = target
        self.refresh()

    def set_rows(self, rows: Sequence[Any]) -> None:
        """Small lists already in memory."""
        data = list(rows)
        self.set_source(len(data), lambda offset, limit: data[offset:offset + limit])

    def row(self, index: int) -> Any:
        if not 0 <= index < self._count:
            return None
        page = index // PAGE
        if page not in self._pages:
            if len(self._pages) > 20:  # a bounded window of pages
                self._pages.clear()
            self._pages[page] = self._fetch(page * PAGE, PAGE)
        rows = self._pages[page]
        offset = index - page * PAGE
        return rows[offset] if offset < len(rows) else None

    @property
    def current_row(self) -> Any:
        return self.row(self.cursor)

    # -- rendering --------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_offset.y)
        width = self.scrollable_content_region.width
        base = self.rich_style
        row = self.row(index)
        if row is None:
            return Strip.blank(width, base)
        text = self._render_row(row, width)
        text.spans = [self._resolve(span) for span in text.spans]
        text.no_wrap = True
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = list(text.render(self.app.console))
        if index != self.cursor:
            return Strip(segments).apply_style(base).crop_extend(0, width, base)
        # The cursor's colours win over the roles' (a heading's colour on the cursor bar is unreadable);
        # the roles' attributes (bold, reverse, italic) stay.
        cursor = self.get_component_rich_style("rowlist--cursor")
        style = base + cursor
        on_cursor = Segment.apply_style(Strip(segments).apply_style(base), post_style=Style(
            color=cursor.color, bgcolor=cursor.bgcolor))
        return Strip(on_cursor).crop_extend(0, width, style)

    def _resolve(self, span: Span) -> Span:
        if not (isinstance(span.style, str) and span.style.startswith(ROLE_PREFIX)):
            return span
        style = self._role_styles.get(span.style)
        if style is None:
            style = self._role_styles[span.style] = self.get_component_rich_style(span.style, partial=True)
        return Span(span.start, span.end, style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._role_styles.clear()  # a theme change: resolve the roles again

    # -- cursor -----------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        if self._count == 0:
            return
        self._show_cursor()
        # New data may change the scroll range only at the next layout: check again after it.
        self.call_after_refresh(self._show_cursor)
        self.refresh()
        self.post_message(self.Highlighted(self, self.current_row))

    def _show_cursor(self) -> None:
        height = max(self.scrollable_content_region.height, 1)
        if self.cursor < self.scroll_offset.y:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= self.scroll_offset.y + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def on_resize(self) -> None:
        self._show_cursor()

    def _move(self, delta: int) -> None:
        if self._count:
            self.cursor = max(0, min(self._count - 1, self.cursor + delta))

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_page_down(self) -> None:
        self._move(max(self.scrollable_content_region.height - 1, 1))

    def action_page_up(self) -> None:
        self._move(-max(self.scrollable_content_region.height - 1, 1))

    def action_first(self) -> None:
        self._move(-self._count)

    def action_last(self) -> None:
        self._move(self._count)

    def action_select(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Selected(self, row))

