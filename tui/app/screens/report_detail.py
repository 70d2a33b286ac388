"""Provides `ReportDetailScreen`: the whole of one report line (a key account, an objection, a deal).

The Reports screen's tables keep to 80 columns by cutting text and leaving columns out; enter
on a line opens this modal with everything about it. Its content is built from `rich.text.Text`
(and Rich tables of Text cells), so book text is never read as markup.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from rapport.store.reports.figures import ClosedDeal, KeyAccount, OpenObjection
from rapport.tui.app.safe import clean
from rapport.tui.render.report_formats import (
    amount_text,
    base_text,
    day_of,
    key_account_lists,
    key_account_summary,
)


def _text(value: object, style: str = "") -> Text:
    return Text(clean(str(value)), style=style)


def _table(title: str, headers: list[str], rows: list[list[object]]) -> Table:
    table = Table(title=Text(title, style="bold"), title_justify="left", expand=True,
                  show_edge=False, pad_edge=False)
    for header in headers:
        table.add_column(Text(header), overflow="fold")
    for row in rows:
        table.add_row(*(_text(cell) for cell in row))
    return table


def key_account_detail(k: KeyAccount, base: str) -> RenderableType:
    parts: list[RenderableType] = [_text(key_account_summary(k, base))]
    parts += [_table(title, headers, rows)
              for title, headers, rows in key_account_lists(k, age_header="Days")]
    # A blank line between the summary and each table, so the tables do not run together.
    spaced = [item for part in parts for item in (part, Text(""))]
    return Group(*spaced[:-1])


def objection_detail(o: OpenObjection) -> RenderableType:
    """An open objection or complaint: when it was raised, and all of its text."""
    return Group(_text(f"Raised {day_of(o.date_utc)}, open for {o.age_days} days."), Text(""),
                 _text(o.subject))


def deal_detail(result: str, d: ClosedDeal, base: str) -> RenderableType:
    in_base = "" if d.currency == base else f" ({base_text(d.base_value, base)} {base})"
    return Group(_text(f"{result.capitalize()} on {day_of(d.closed_utc)}: "
                       f"{amount_text(d.value, d.currency)}{in_base}"),
                 _text(f"Stage: {d.stage}"), _text(f"Deal: {d.title}"))


class ReportDetailScreen(ModalScreen[None]):
    """Everything about one line of the report; escape (or enter) goes back."""

    BINDING_GROUP_TITLE = "Report detail"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Back", id="report-detail.back"),
    ]
    DEFAULT_CSS = """
    ReportDetailScreen { align: center middle; }
    ReportDetailScreen > VerticalScroll {
        width: 90%; max-width: 120; height: auto; max-height: 90%;
        border: round $accent; border-title-color: $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__()
        self._title = clean(title)
        self._body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail") as box:
            box.border_title = Text(self._title)  # a Text: book text is not markup
            yield Static(self._body, id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
