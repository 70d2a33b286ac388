"""Provides the TUI announcement flow: template, segment, promotion, preview, then delivery.

`start_announce(app)` asks for an announcement (or new-mail) template, the segment and the
promotion (screens/announce_promotion.py: saved, typed or a file), then shows
`AnnouncePreviewScreen` (screens/announce_preview.py): every message the run would send,
rendered in a thread worker as you page (n/p), under the counts (eligible, opted out, without
email, already reached, uncertain). `d` (drafts) or `s` (send, when [smtp] is configured) first
renders them all — any that fails is shown and nothing is offered — then `y` starts the run in
a thread worker on the App with its own database connection; `AnnounceRunScreen` shows its
progress, escape stops it after the current message (or batch of drafts), and the result is
notified and refreshes every screen (timelines show the announcement).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from rapport.mail.send.announce import (
    ANNOUNCE_KINDS,
    AnnouncementPlan,
    AnnounceResult,
    MessageRenderer,
    plan_announcement,
    run_announcement,
    summary_line,
)
from rapport.store.errors import RapportError
from rapport.tui.app.messages import StoreChanged
from rapport.tui.app.safe import notify, safe_text
from rapport.tui.app.screens.announce_preview import DEFAULT_RATE, AnnouncePreviewScreen
from rapport.tui.app.screens.announce_promotion import ask_promotion
from rapport.tui.app.screens.draft_flow import TemplatePicker, no_templates_text, template_choices
from rapport.tui.app.screens.prompt import PromptScreen

if TYPE_CHECKING:
    from rapport.store.db import Database


def start_announce(app: Any) -> None:
    """Ask template, segment and promotion (in a worker: each answer awaits a modal)."""
    choices, broken = template_choices(app, ANNOUNCE_KINDS)
    if not choices:
        notify(app, no_templates_text("announcement", broken), severity="warning")
        return
    app.run_worker(_setup(app, choices, broken), group="announce-setup", exclusive=True,
                   exit_on_error=False, description="set up an announcement")


def _check_segment(app: Any):  # noqa: ANN202
    from rapport.mail.send.announce import parse_segment

    def check(text: str) -> None:
        parse_segment(text, app.opened.config.pipeline.names)

    return check


async def _setup(app: Any, choices: list[tuple[str, str]],
                 broken: list[tuple[str, str]]) -> None:
    from rapport.mail.config import smtp_settings
    from rapport.mail.draft.render import load_template
    from rapport.mail.send.unsubscribe import announce_settings

    name = await app.push_screen_wait(TemplatePicker(choices, "Announce with template:",
                                                     broken=broken))
    if not name:
        return
    segment = await app.push_screen_wait(PromptScreen(
        "Segment: stage=Won,Referral tier=key tag=chemicals account=Acme — or all",
        check=_check_segment(app)))
    if segment is None:
        return
    opened = app.opened
    try:
        template = load_template(opened.workspace.templates_dir, name)
    except RapportError as exc:
        notify(app, exc.message, title="Announcement", severity="error")
        return
    go_on, promotion = await ask_promotion(app, template)
    if not go_on:
        return
    try:
        plan = plan_announcement(opened.db, opened.config, template, segment_text=segment,
                                 promotion=promotion)
        smtp = smtp_settings(opened.config.raw)
        announce_settings(opened.config)  # a bad [announce] is said here, not by every preview
    except RapportError as exc:
        notify(app, exc.message, title="Announcement", severity="error")
        return

    def renderer(db: Database) -> MessageRenderer:  # one per worker, on its own connection
        return MessageRenderer(db, opened.config, plan, app.today)

    mode = await app.push_screen_wait(AnnouncePreviewScreen(plan, renderer,
                                                            can_send=smtp is not None))
    if mode:
        app.push_screen(AnnounceRunScreen(plan, mode, smtp))


class _Stopped(Exception):
    """Raised from the progress callback when the user asked the run to stop."""


class AnnounceRunScreen(ModalScreen[None]):
    """The delivery run's progress; escape stops it after the current message, then closes."""

    BINDING_GROUP_TITLE = "Announcement"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Stop / close", id="announce.close")]
    DEFAULT_CSS = """
    AnnounceRunScreen { align: center middle; }
    AnnounceRunScreen > Vertical { width: 80; height: auto; border: round $accent;
        background: $surface; padding: 0 1; }
    """

    @dataclass
    class Progress(Message):
        """`done` of `total` contacts handled."""

        done: int
        total: int

    @dataclass
    class Finished(Message):
        """The run ended: its result, or the one-line reason it could not run."""

        result: AnnounceResult | None
        error: str = ""

    def __init__(self, plan: AnnouncementPlan, mode: str, smtp: Any) -> None:
        super().__init__()
        self.plan, self.mode, self.smtp = plan, mode, smtp
        self.finished = False
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        verb = "Sending" if self.mode == "send" else "Saving drafts"
        with Vertical():
            yield Static(safe_text(f"{verb}: {len(self.plan.todo)} contacts"), id="run-title")
            yield ProgressBar(total=max(len(self.plan.todo), 1), show_eta=False, id="run-bar")
            yield Static("", id="run-status")

    def on_mount(self) -> None:
        # The App owns the worker (a screen's workers die with it); the thread gets the app
        # itself, not `self.app`, which needs the UI thread's context.
        app = self.app
        app.run_worker(lambda: self._run(app), thread=True, group="announce", exclusive=True,
                       exit_on_error=False, description="deliver an announcement")

    def _run(self, app: Any) -> None:
        """The worker thread: its own connection; messages back to this screen and the app."""
        opened = app.opened

        def progress(done: int, total: int) -> None:
            self.post_message(self.Progress(done, total))
            if self._stop.is_set():
                raise _Stopped

        db = opened.reopen_db()
        try:
            result = run_announcement(
                db, opened.workspace, opened.config, self.plan.template,
                segment_text=self.plan.segment_text, promotion=self.plan.promotion,
                mode=self.mode, smtp=self.smtp, rate_per_minute=DEFAULT_RATE,
                today=app.today, progress=progress, plan=self.plan)
        except _Stopped:
            self._finish(app, None, "stopped: run the announcement again to continue")
            return
        except (RapportError, OSError) as exc:
            self._finish(app, None, exc.message if isinstance(exc, RapportError) else str(exc))
            return
        finally:
            db.close()
        self._finish(app, result, "")

    def _finish(self, app: Any, result: AnnounceResult | None, error: str) -> None:
        self.post_message(self.Finished(result, error))
        summary = summary_line(result) if result is not None else error
        failed = result is None or not result.ok
        # StoreChanged: the app notifies and every screen re-reads (timelines show the run).
        app.post_message(StoreChanged(f"announcement: {summary}", failed=failed))

    def on_announce_run_screen_progress(self, message: Progress) -> None:
        self.query_one("#run-bar", ProgressBar).update(total=message.total, progress=message.done)
        self.query_one("#run-status", Static).update(safe_text(f"{message.done} of "
                                                               f"{message.total}"))

    def on_announce_run_screen_finished(self, message: Finished) -> None:
        self.finished = True
        result = message.result
        lines = [summary_line(result)] if result is not None else [message.error]
        if result is not None:
            lines += [f"{p.who}: {p.reason}"
                      for p in (*result.failed, *result.uncertain, *result.skipped)][:8]
            lines += [f"stopped: {result.stopped}"] if result.stopped else []
        lines.append("enter or escape closes")
        self.query_one("#run-status", Static).update(safe_text("\n".join(lines),
                                                               keep_newlines=True))

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(None)
            return
        self._stop.set()
        # Drafts are stored a batch at a time (mail/announce.DRAFT_BATCH), sends one by one.
        current = "message" if self.mode == "send" else "batch of drafts"
        self.query_one("#run-status", Static).update(
            safe_text(f"stopping after the current {current}…"))
