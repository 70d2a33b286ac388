"""Provides `AnnouncePreviewScreen`: every message an announcement run would deliver, under the
counts (eligible, opted out, without email, already reached, uncertain), paged with n/p.

Each message is rendered when first shown, in a thread worker with its own database connection
(a template over many accounts and deals is slow: the keys stay live meanwhile); `d` or `s`
first renders the rest the same way, then offers `y` only when every one rendered. What comes
back is made safe in the worker (safe_text): template and book text never become markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from rapport.mail.send.announce import AnnouncementPlan, MessageRenderer, Target
from rapport.store.errors import RapportError
from rapport.tui.app.rapport_app import rapport_app
from rapport.tui.app.safe import safe_text

if TYPE_CHECKING:
    from rapport.store.db import Database
    from rapport.tui.app.application import RapportApp

DEFAULT_RATE = 30.0  # per minute, as the CLI's --rate default


def counts_text(plan: AnnouncementPlan) -> str:
    parts = [f"{plan.eligible} eligible", *([f"{plan.audience.bounced} bounced"]
                                            if plan.audience.bounced else []),
             f"{plan.audience.opted_out} opted out",
             f"{plan.audience.no_email} without email", f"{plan.already} already reached"]
    if plan.uncertain:
        parts.append(f"{len(plan.uncertain)} uncertain (not resent)")
    parts.append(f"{len(plan.todo)} to reach")
    note = plan.earlier_note()
    return " · ".join(parts) + (f"\nNote: {note}" if note else "")


class AnnouncePreviewScreen(Screen[str | None]):
    """Pages through every message the run would deliver, rendered only when shown.

    n/p page; `d` (drafts) or `s` (send) then `y` confirm; escape cancels. Dismisses with the
    mode chosen, or None. Rendering runs in thread workers, each with its own connection and
    renderer (`renderer(db)`); a `Rendered` message brings each text back to the UI thread.
    """

    @dataclass
    class Rendered(Message):
        """Message `index` rendered: its text (made safe in the worker), or why it failed."""

        index: int
        text: Text
        failure: str | None

    @dataclass
    class AllRendered(Message):
        """Every message is rendered, as `d` or `s` (`mode`) asked."""

        mode: str

    BINDING_GROUP_TITLE = "Announcement"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n,right,j", "next", "Next", id="announce.next"),
        Binding("p,left,k", "previous", "Previous", id="announce.previous"),
        Binding("d", "choose('drafts')", "Drafts", id="announce.drafts"),
        Binding("s", "choose('send')", "Send", id="announce.send"),
        Binding("y", "confirm", "Confirm", id="announce.confirm"),
        Binding("escape,q", "cancel", "Cancel", id="announce.cancel"),
    ]
    DEFAULT_CSS = """
    AnnouncePreviewScreen #announce-counts { background: $boost; padding: 0 1; }
    AnnouncePreviewScreen #announce-ask { color: $warning; padding: 0 1; }
    AnnouncePreviewScreen #announce-scroll { padding: 0 1; }
    """

    def __init__(self, plan: AnnouncementPlan, renderer: Callable[[Database], MessageRenderer], *,
                 can_send: bool) -> None:
        super().__init__()
        self.plan = plan
        self.renderer = renderer
        self.can_send = can_send
        self.position = 0
        self.pending: str | None = None
        self.choosing: str | None = None  # d or s waits for every message to be rendered
        self._rendered: dict[int, Text] = {}
        self._failed: dict[int, str] = {}  # message index -> why it does not render

    def compose(self) -> ComposeResult:
        yield Static(safe_text(counts_text(self.plan), keep_newlines=True), id="announce-counts")
        yield Static("", id="announce-ask")
        with VerticalScroll(id="announce-scroll"):
            yield Static(id="announce-body")
        yield Footer()

    def on_mount(self) -> None:
        self._show()

    def _render_messages(self, indexes: list[int], mode: str | None = None) -> None:
        # The app is taken here: the worker thread has not the UI thread's context to find it.
        self._render_in_worker(rapport_app(self), indexes, mode)

    @work(thread=True, group="announce-preview", exit_on_error=False)
    def _render_in_worker(self, app: RapportApp, indexes: list[int], mode: str | None) -> None:
        """Render messages `indexes`, then AllRendered(mode) when asked: on the worker thread,
        with its own connection (SQLite connections stay on their thread)."""
        worker = get_current_worker()
        left = list(indexes)
        db: Database | None = None
        try:
            db = app.opened.reopen_db()
            renderer = self.renderer(db)
            while left:
                if worker.is_cancelled:  # the screen closed
                    return
                self.post_message(self.Rendered(left[0], *_render_target(renderer, self.plan.todo[left[0]])))
                left.pop(0)
        except Exception as exc:  # a locked database, [announce] changed: said, never left waiting
            text = exc.message if isinstance(exc, RapportError) else f"{type(exc).__name__}: {exc}"
            for index in left:  # said on each: d or s then shows it rather than wait for ever
                self.post_message(self.Rendered(index, safe_text(f"does not render: {text}"), text))
        finally:
            if db is not None:
                db.close()
        if mode is not None:
            self.post_message(self.AllRendered(mode))

    def on_announce_preview_screen_rendered(self, message: Rendered) -> None:
        self._rendered.setdefault(message.index, message.text)
        if message.failure is not None:
            self._failed.setdefault(message.index, message.failure)
        if message.index == self.position:
            self._show()

    def _show(self) -> None:
        total = len(self.plan.todo)
        body = self.query_one("#announce-body", Static)
        if not total:
            body.update(safe_text("Nobody to reach: everyone in this segment was reached "
                                  "already, opted out or has no address."))
            return
        title = Text(f"Message {self.position + 1} of {total}\n\n", style="bold")
        if self.position not in self._rendered:
            body.update(title + Text("rendering…", style="italic"))
            self._render_messages([self.position])
            return
        body.update(title + self._rendered[self.position])
        if self.position in self._failed and not self.pending:
            self._ask("this message does not render: nothing can be saved or sent until the template "
                      "or the promotion is fixed (escape goes back)")

    def _ask(self, text: str) -> None:
        self.query_one("#announce-ask", Static).update(safe_text(text))

    def action_next(self) -> None:
        if self.position + 1 < len(self.plan.todo):
            self.position += 1
            self._show()

    def action_previous(self) -> None:
        if self.position > 0:
            self.position -= 1
            self._show()

    def action_choose(self, mode: str) -> None:
        count = len(self.plan.todo)
        if not count:
            self._ask("nothing to deliver")
            return
        if mode == "send" and not self.can_send:
            self._ask("sending needs an [smtp] table in config.toml; d saves drafts instead")
            return
        # Every message is rendered before anything is offered: one that fails is shown, not saved.
        missing = [index for index in range(count) if index not in self._rendered]
        if missing:
            self.choosing = mode
            self._ask(f"rendering {len(missing)} more message{'s' if len(missing) > 1 else ''} "
                      "before anything is saved or sent… (escape stops waiting)")
            self._render_messages(missing, mode)
            return
        self._offer(mode)

    def on_announce_preview_screen_all_rendered(self, message: AllRendered) -> None:
        if self.choosing == message.mode:  # not given up meanwhile
            self.choosing = None
            self._offer(message.mode)

    def _offer(self, mode: str) -> None:
        count = len(self.plan.todo)
        failed = next((index for index in range(count) if index in self._failed), None)
        if failed is not None:
            self.position = failed
            self._show()
            self._ask(f"message {failed + 1} of {count} does not render ({self._failed[failed]}): nothing is "
                      "saved or sent; escape goes back")
            return
        self.pending = mode
        what = (f"send {count} messages at {DEFAULT_RATE:g}/min" if mode == "send"
                else f"save {count} drafts")
        self._ask(f"{what}? y to confirm, escape to cancel")

    def action_confirm(self) -> None:
        if self.pending:
            self.dismiss(self.pending)

    def action_cancel(self) -> None:
        if self.pending or self.choosing:
            self.pending = self.choosing = None
            self._ask("")
            return
        self.dismiss(None)


def _render_target(renderer: MessageRenderer, target: Target) -> tuple[Text, str | None]:
    """(the message as the reader sees it, decoded and made safe; None) or (why it does not
    render, shown in its place; the reason). Mail and template text never become markup."""
    try:
        msg = renderer.render(target).email()
    except RapportError as exc:
        return safe_text(f"{target.who}: does not render: {exc.message}", keep_newlines=True), exc.message
    part = msg.get_body(("plain",))
    body = part.get_content() if part is not None else ""
    head = "".join(f"{name}: {msg[name]}\n" for name in ("To", "Cc", "Subject") if msg[name])
    return safe_text(f"{head}\n{body}", keep_newlines=True), None
