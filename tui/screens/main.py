"""Provides `MainScreen`: the pipeline (left) beside the inbox (right); stacked on narrow terminals."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from rapport.store import queries
from rapport.store.errors import RapportError
from rapport.tui.safe import clean, notify
from rapport.tui.widgets.rowlist import RowList, line

if TYPE_CHECKING:
    from rapport.tui.app import RapportApp


def _money(value: float) -> str:
    return f"{value:,.0f}"


def render_pipeline_row(row: queries.PipelineRow, width: int) -> Text:
    stage = row.stage
    if row.deal is None:
        return line((f"{stage.name}  ", "bold"), (f"{stage.count} deals  {_money(stage.total)}"
                                                  f"  weighted {_money(stage.weighted)}", "dim"))
    deal = row.deal
    due = deal.next_action_due.isoformat() if deal.next_action_due else ""
    marks = ("!" if row.overdue else " ") + ("~" if row.rotting else " ")
    return line(
        (marks, "bold red" if row.overdue else "yellow"),
        (f"{deal.account_name[:22]:<22} ", ""),
        (f"{_money(deal.value):>9} ", ""),
        (f"{due:<10} ", "bold red" if row.overdue else "dim"),
        deal.next_action,
    )


def render_inbox_row(row: queries.InboxRow, width: int) -> Text:
    who = row.from_name or row.from_addr
    return line(
        ("●" if not row.seen else " ", "bold"),
        (f" {row.date_utc[2:10]} ", "dim"),
        (f"{who[:18]:<18} ", "bold" if not row.seen else ""),
        (f"{(row.accounts or 'unassigned')[:16]:<16} ", "italic dim" if not row.accounts else "cyan"),
        (row.subject, "bold" if not row.seen else ""),
    )


class PipelineList(RowList):
    """The pipeline pane; deal actions live here."""

    BINDING_GROUP_TITLE = "Deal"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("greater_than_sign", "next_stage", "Next stage", id="deal.next_stage"),
        Binding("less_than_sign", "previous_stage", "Prev stage", id="deal.previous_stage"),
        Binding("e", "edit", "Edit deal", id="deal.edit"),
        Binding("d", "next_action", "Next action", id="deal.next_action"),
    ]

    @property
    def rapport(self) -> RapportApp:
        return self.app  # type: ignore[return-value]

    def _deal(self):  # noqa: ANN202
        row = self.current_row
        return row.deal if row is not None else None

    def _move_stage(self, forward: bool) -> None:
        deal = self._deal()
        if deal is None:
            self.app.bell()
            return
        pipeline = self.rapport.opened.config.pipeline
        target = (pipeline.next_stage if forward else pipeline.previous_stage)(deal.stage)
        if target is None:
            notify(self, "no stage that way", severity="warning")
            return
        self.rapport.actions.move_deal(deal.id, target.name)
        notify(self, f"{deal.account_name}: {deal.stage} → {target.name}")
        self.screen.refresh_pipeline(deal.id)  # type: ignore[attr-defined]

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
            "value, probability % (blank = stage default), expected close — separated by ';'",
            value=f"{deal.value:g}; {'' if deal.probability is None else f'{deal.probability:g}'}; "
                  f"{deal.expected_close.isoformat() if deal.expected_close else ''}",
            check=self.rapport.actions.check_deal_edit,
        ))
        if answer is not None:
            self.rapport.actions.edit_deal(deal.id, answer)
            self.screen.refresh_pipeline(deal.id)  # type: ignore[attr-defined]

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
        self.screen.refresh_pipeline(deal.id)  # type: ignore[attr-defined]


class InboxList(RowList):
    """The inbox pane; filters and message actions live here."""

    BINDING_GROUP_TITLE = "Inbox"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "toggle_unassigned", "Unassigned", id="inbox.unassigned"),
        Binding("U", "toggle_unread", "Unread", id="inbox.unread"),
        Binding("f", "filter_account", "This account", id="inbox.account"),
        Binding("space", "toggle_seen", "Read/unread", id="inbox.seen"),
        Binding("a", "assign", "Assign", id="inbox.assign"),
        Binding("c", "create_account", "New account", id="inbox.create_account"),
    ]

    @property
    def rapport(self) -> RapportApp:
        return self.app  # type: ignore[return-value]

    def action_toggle_unassigned(self) -> None:
        self.screen.change_filter(unassigned=not self.screen.filter.unassigned)  # type: ignore[attr-defined]

    def action_toggle_unread(self) -> None:
        self.screen.change_filter(unread=not self.screen.filter.unread)  # type: ignore[attr-defined]

    def action_filter_account(self) -> None:
        screen = self.screen
        if screen.filter.account_id is not None:  # type: ignore[attr-defined]
            screen.change_filter(account_id=None)  # type: ignore[attr-defined]
            return
        row = self.current_row
        ids = self.rapport.actions.account_ids(row.id) if row else []
        if not ids:
            notify(self, "this message belongs to no account", severity="warning")
            return
        screen.change_filter(account_id=ids[0])  # type: ignore[attr-defined]

    def action_toggle_seen(self) -> None:
        row = self.current_row
        if row is None:
            return
        self.rapport.actions.set_seen(row.id, not row.seen)
        self.screen.reload_inbox()  # type: ignore[attr-defined]

    @work(exclusive=True, group="inbox-edit")
    async def action_assign(self) -> None:
        row = self.current_row
        if row is None:
            return
        name = await self.app.push_screen_wait(self.rapport.prompt(
            "Assign to account (name or domain)", check=self.rapport.actions.check_account_name))
        if name:
            self.rapport.actions.assign(row.id, name)
            self.screen.reload_inbox()  # type: ignore[attr-defined]

    @work(exclusive=True, group="inbox-edit")
    async def action_create_account(self) -> None:
        row = self.current_row
        if row is None:
            return
        domain = row.from_addr.rpartition("@")[2].lower()
        name = await self.app.push_screen_wait(self.rapport.prompt(
            f"New account for {domain} — name", value=domain.split(".")[0].title()))
        if name:
            try:
                self.rapport.actions.create_account_for(name, domain)
            except RapportError as exc:
                notify(self, str(exc), severity="error")
                return
            self.screen.reload_inbox()  # type: ignore[attr-defined]


class MainScreen(Screen[None]):
    """Pipeline and inbox side by side."""

    BINDING_GROUP_TITLE = "Main"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="main.search"),
        Binding("escape", "clear_search", "Clear", show=False, id="main.clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = queries.InboxFilter()

    @property
    def rapport(self) -> RapportApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with Container(id="panes"):
            yield PipelineList(render_pipeline_row, id="pipeline")
            yield InboxList(render_inbox_row, id="inbox")
        yield Input(placeholder="search mail (enter to apply, escape to clear)", id="search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        self.refresh_pipeline()
        self.reload_inbox()
        self.query_one("#pipeline").border_title = "Pipeline"
        self.query_one("#inbox").border_title = "Inbox"
        self.query_one("#pipeline").focus()
        self.update_status()

    def refresh_pipeline(self, deal_id: int | None = None) -> None:
        pipeline = self.query_one("#pipeline", PipelineList)
        rows = self.rapport.actions.pipeline_rows()
        pipeline.set_rows(rows)
        if deal_id is not None:
            for index, row in enumerate(rows):
                if row.deal is not None and row.deal.id == deal_id:
                    pipeline.cursor = index
                    break

    def reload_inbox(self, keep: bool = True) -> None:
        db = self.rapport.opened.db
        flt = self.filter
        inbox = self.query_one("#inbox", InboxList)
        inbox.set_source(
            queries.inbox_count(db, flt),
            lambda offset, limit: queries.inbox_page(db, offset, limit, flt),
            keep_row_key=(lambda row: row.id) if keep else None,
        )
        self.update_status()

    def update_status(self) -> None:
        parts = []
        flt = self.filter
        if flt.unassigned:
            parts.append("unassigned")
        if flt.unread:
            parts.append("unread")
        if flt.account_id is not None:
            parts.append(f"account #{flt.account_id}")
        if flt.text:
            parts.append(f"search {flt.text!r}")
        inbox = self.query_one("#inbox", InboxList)
        text = Text(f" Inbox: {inbox.row_count} messages", style="bold")
        text.append(clean("  [" + ", ".join(parts) + "]") if parts else "")
        text.append(clean(f"   sync: {self.rapport.sync_state}"), style="dim")
        self.query_one("#status", Static).update(text)

    def change_filter(self, **changes: object) -> None:
        from dataclasses import replace

        self.filter = replace(self.filter, **changes)  # type: ignore[arg-type]
        self.query_one("#inbox", InboxList).cursor = 0
        self.reload_inbox(keep=False)

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.value = self.filter.text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#search").display = False
        self.change_filter(text=event.value.strip())
        self.query_one("#inbox").focus()

    def action_clear_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = False
        if self.filter.text:
            self.change_filter(text="")
        self.query_one("#inbox").focus()

    def on_row_list_selected(self, event: RowList.Selected) -> None:
        if isinstance(event.row, queries.PipelineRow):
            if event.row.deal is not None:
                self.rapport.open_account(event.row.deal.account_id)
        elif isinstance(event.row, queries.InboxRow):
            self.rapport.open_message(event.row.id)
            if not event.row.seen:
                self.rapport.actions.set_seen(event.row.id, True)
                self.reload_inbox()
