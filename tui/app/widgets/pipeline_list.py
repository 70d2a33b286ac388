"""Provides `PipelineList`: the pipeline pane (stage headers and their deals) and its deal keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message

from rapport.store.book.deals import Deal
from rapport.store.views import queries
from rapport.tui.app.rapport_app import rapport_app
from rapport.tui.app.safe import notify
from rapport.tui.app.widgets.rowlist import RowList, line, role
from rapport.tui.app.widgets.when import WIDTH, short_day

if TYPE_CHECKING:
    from rapport.tui.app.application import RapportApp


_STAGE = Binding.Group("Stage", compact=True)


def _money(value: Decimal) -> str:
    # Whole units: the pane is narrow; the report has the minor digits.
    return f"{value:,.0f}"


def stage_header_text(stage: queries.StageSummary) -> str:
    """'3 deals  12,500  weighted 6,250'; in a book of several currencies the base is named
    ('12,500 EUR') and deals without a rate, in no total, are counted ('(1 not converted)')."""
    code = f" {stage.base}" if stage.mixed else ""
    # Next to the count, not at the end: a narrow pane cuts the end of the line.
    left_out = f" ({stage.not_converted} not converted)" if stage.not_converted else ""
    return (f"{stage.count} deals{left_out}  {_money(stage.total)}{code}  "
            f"weighted {_money(stage.weighted)}")


def render_pipeline_row(row: queries.PipelineRow, width: int, today: date | None = None) -> Text:
    """A stage header, or a deal: marks (! overdue, ~ rotting), account · title, value (in the
    deal's own currency, named when the book has several), due date, next action."""
    stage = row.stage
    if row.deal is None:
        return line((f"{stage.name}  ", role("heading")), (stage_header_text(stage), role("muted")))
    deal = row.deal
    code = f" {deal.currency}" if stage.mixed else ""
    due = short_day(deal.next_action_due, today or date.today())
    marks = ("!" if row.overdue else " ") + ("~" if row.rotting else " ")
    # Account and deal title: an account's two deals must not look the same. The title takes
    # what the account leaves of 34 cells (more on a wide pane), so value and due stay aligned.
    room = 34 if width < 100 else 48
    account = deal.account_name[:16 if width < 100 else 24]
    title = f"{account} · {deal.title}"
    if len(title) > room:
        title = title[:room - 1] + "…"
    return line(
        (marks, role("overdue") if row.overdue else role("rotting")),
        (f"{title:<{room}} ", ""),
        (f"{_money(deal.value):>9}{code} ", ""),
        (f"{due:<{WIDTH}} ", role("overdue") if row.overdue else role("muted")),
        deal.next_action,
    )


class PipelineList(RowList):
    """The pipeline pane; deal actions live here."""

    BINDING_GROUP_TITLE = "Deal"
    BINDINGS: ClassVar[list[BindingType]] = [
        # One footer entry '<> Stage' (the footer is narrow at 80 columns); ? lists both in full.
        Binding("less_than_sign", "previous_stage", "Prev stage", group=_STAGE, id="deal.previous_stage"),
        Binding("greater_than_sign", "next_stage", "Next stage", group=_STAGE, id="deal.next_stage"),
        Binding("e", "app.book('edit_deal')", "Edit", tooltip="the deal's form (E: quick edit)",
                id="deal.edit"),
        Binding("E", "edit", "Quick edit", show=False, tooltip="value, probability, expected close",
                id="deal.quick_edit"),
        Binding("d", "next_action", "Next action", id="deal.next_action"),
        Binding("D", "app.book('new_deal')", "New deal", show=False, id="deal.new"),
        Binding("W", "app.book('mark_won')", "Won", show=False, tooltip="asks the final value", id="deal.won"),
        Binding("L", "app.book('mark_lost')", "Lost", show=False, tooltip="asks the reason", id="deal.lost"),
        Binding("O", "app.book('reopen')", "Reopen", show=False, tooltip="back to the open stage it left",
                id="deal.reopen"),
        Binding("X", "app.book('archive')", "Archive", show=False, tooltip="ctrl+z brings it back",
                id="deal.archive"),
    ]

    @dataclass
    class DealChanged(Message):
        """A deal was moved or edited: the screen re-reads the pipeline, keeping the cursor on it."""

        pipeline_list: PipelineList
        deal_id: int

        @property
        def control(self) -> PipelineList:
            return self.pipeline_list

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(lambda row, width: render_pipeline_row(row, width, self.rapport.today), id=id)

    @property
    def rapport(self) -> RapportApp:
        return rapport_app(self)

    def _deal(self) -> Deal | None:
        row = self.current_row
        return row.deal if row is not None else None

    def _move_stage(self, forward: bool) -> None:
        deal = self._deal()
        if deal is None:
            self.app.bell()
            return
        pipeline = self.rapport.opened.config.pipeline
        kind = pipeline.kind(deal.stage)
        if kind != "open":
            # Won and lost are decisions: no stray key turns a lost deal into a won one.
            notify(self, f"this deal is {kind}: O reopens it", severity="warning")
            return
        target = pipeline.open_neighbour(deal.stage, 1 if forward else -1)
        if target is None:
            notify(self, "no open stage that way (W marks won, L lost)", severity="warning")
            return
        self.rapport.actions.move_deal(deal.id, target.name)
        notify(self, f"{deal.account_name}: {deal.stage} → {target.name}")
        self.post_message(self.DealChanged(self, deal.id))

    def action_next_stage(self) -> None:
        self._move_stage(True)

    def action_previous_stage(self) -> None:
        self._move_stage(False)

    @work(exclusive=True, group="deal-edit")
    async def action_edit(self) -> None:
        deal = self._deal()
        if deal is None:
            return
        answer = await self.app.push_screen_wait(self.rapport.prompt(
            "value (blank keeps it); probability % (blank = stage default); expected close (blank = none)",
            value=f"{deal.value}; {'' if deal.probability is None else f'{deal.probability:g}'}; "
                  f"{deal.expected_close.isoformat() if deal.expected_close else ''}",
            check=lambda text: self.rapport.actions.check_deal_edit(text, deal.currency),
        ))
        if answer is not None:
            self.rapport.actions.edit_deal(deal.id, answer)
            self.post_message(self.DealChanged(self, deal.id))

    @work(exclusive=True, group="deal-edit")
    async def action_next_action(self) -> None:
        deal = self._deal()
        if deal is None:
            return
        text = await self.app.push_screen_wait(self.rapport.prompt("Next action", value=deal.next_action))
        if text is None:
            return
        due = await self.app.push_screen_wait(self.rapport.prompt(
            "Due (2026-12-03, 3 dec, +3d, +2w, fri, next fri, tomorrow; blank = none)",
            value=deal.next_action_due.isoformat() if deal.next_action_due else "",
            check=self.rapport.actions.check_due,
        ))
        if due is None:
            return
        self.rapport.actions.set_next_action(deal.id, text, due)
        self.post_message(self.DealChanged(self, deal.id))
