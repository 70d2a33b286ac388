"""Provides the TUI reply flow: `r` picks a template, $EDITOR edits, files may be attached
(screens/attach_step.py), a worker saves the draft.

`start_reply(app, account_id=, message_id=)` is what the App calls from the timeline, the inbox
and the reader. Rendering and composing are the mail layer's functions and run on the UI thread
(they read the database; the editor needs the terminal, handed over with `app.suspend()`). The
IMAP APPEND (or the outbox write) runs in a thread worker with its own database connection; its
result comes back as a StoreChanged message, so the app notifies and every screen refreshes.
Any failure is one notification, never a traceback.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rapport.mail.draft.editor import DraftDiscarded
from rapport.store.errors import RapportError
from rapport.tui.app.messages import StoreChanged
from rapport.tui.app.safe import notify, safe_text

if TYPE_CHECKING:
    from rapport.mail.send.outbox import TimelineLinks

T = TypeVar("T")


class TemplatePicker(ModalScreen[str | None]):
    """Choose a template by name (enter), or cancel (escape). Broken templates are listed
    after the others with their error, greyed out: an edit that broke one never makes it
    vanish without a word."""

    DEFAULT_CSS = """
    TemplatePicker { align: center middle; }
    TemplatePicker > Vertical { width: 70; max-width: 100%; height: auto; max-height: 20;
        border: round $accent; background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="draft.cancel")]

    def __init__(self, choices: list[tuple[str, str]], title: str = "Reply with template:",
                 broken: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self._choices = choices
        self._broken = broken or []
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_text(self._title))
            # safe_text, never markup: descriptions come from user-edited files.
            options = [Option(safe_text(f"{name}  {desc}"), id=name)
                       for name, desc in self._choices]
            options += [Option(safe_text(f"{name}  broken: {error}", "dim"), disabled=True)
                        for name, error in self._broken]
            yield OptionList(*options, id="template-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


Choices = tuple[list[tuple[str, str]], list[tuple[str, str]]]


def template_choices(app: Any, kinds: tuple[str, ...]) -> Choices:
    """(name, description) of the workspace templates of these kinds, in `kinds` order, and
    (name, error) of the broken ones (their kind may be what is broken)."""
    from rapport.mail.draft.install import install_default_templates
    from rapport.mail.draft.render import DraftTemplateError, load_all

    # Once per workspace (recorded): a built-in the user deleted is not brought back.
    install_default_templates(app.opened.workspace)
    found: list[tuple[int, str, str]] = []
    broken: list[tuple[str, str]] = []
    for name, loaded in load_all(app.opened.workspace.templates_dir):
        if isinstance(loaded, DraftTemplateError):
            broken.append((name, loaded.message))
        elif loaded.kind in kinds:
            found.append((kinds.index(loaded.kind), name, loaded.description))
    return [(name, description) for _, name, description in sorted(found)], broken


def edit_in_editor(app: Any, text: str, read: Callable[[str], T]) -> T:
    """Suspend the app, run $EDITOR on a private temp file, resume; `read` of the edited text.
    A draft that does not read back reopens the editor with the problem at the top; giving up
    or a failing editor is an InputError naming the kept file (the caller notifies it)."""
    from rapport.mail.draft.editor import edit_text

    def run(command: list[str]) -> int:
        try:
            with app.suspend():
                return subprocess.run(command, check=False).returncode
        except SuspendNotSupported:
            # Headless (tests, pipes): there is no terminal to hand over, run the editor as is.
            return subprocess.run(command, check=False, stdin=subprocess.DEVNULL).returncode

    return edit_text(text, run, read)


def _prepare_reply(app: Any, account_id: int | None, message_id: int,
                   template: str) -> tuple[Any, Any, TimelineLinks] | None:
    """Render and edit on the UI thread: (draft, thread, who), or None after a notification."""
    from rapport.mail.draft.reply import prepare_reply
    from rapport.mail.send.compose import build_email, draft_from_text, draft_to_text
    from rapport.store.mailstore.messages import get_message

    opened = app.opened
    try:
        message = get_message(opened.db, message_id)
        prepared = prepare_reply(opened.db, opened.config, opened.workspace.templates_dir,
                                 message, template, account_id=account_id)

        def read(text: str) -> Any:
            edited = draft_from_text(text, prepared.draft)
            # Composed now: a To line that does not parse reopens the editor, before files.
            build_email(edited, opened.config.me, thread=prepared.thread)
            return edited

        draft = edit_in_editor(app, draft_to_text(prepared.draft), read)
    except DraftDiscarded as exc:
        notify(app, exc.message, title="Draft")
        return None
    except RapportError as exc:
        notify(app, exc.message, title="Draft", severity="error", timeout=30)
        return None
    return draft, prepared.thread, {"account_id": prepared.account_id,
                                    "contact_id": prepared.contact_id,
                                    "deal_id": prepared.deal_id}  # a TimelineLinks


def _build_reply(app: Any, draft: Any, thread: Any, files: list[Path]) -> EmailMessage | None:
    """The message with its attachments (the limit checked first); None after a notification."""
    from rapport.mail.attach.outgoing import load_files
    from rapport.mail.attach.settings import attachment_settings
    from rapport.mail.send.compose import build_email

    config = app.opened.config
    try:
        loaded = load_files(files, attachment_settings(config).limit_bytes)
        return build_email(draft, config.me, thread=thread, attachments=loaded)
    except RapportError as exc:
        notify(app, f"draft not saved: {exc.message}", title="Draft", severity="error")
        return None


def draft_worker(app: Any, save: Callable[[Any], Any], *, done: str, failed: str) -> None:
    """The worker of a draft save: `save(db)` on this thread's own connection (SQLite
    connections stay on their thread), then `done` or `failed` said with its reason. `save`
    returns the SavedDraft; its place is named in full, so the draft can be found: the folder as
    the mail client lists it, or the file's path."""
    db = app.opened.reopen_db()
    try:
        saved = save(db)
    except (RapportError, OSError) as exc:
        text = exc.message if isinstance(exc, RapportError) else str(exc)
        app.post_message(StoreChanged(f"{failed}: {text}", failed=True))
        return
    finally:
        db.close()
    app.post_message(StoreChanged(f"{done} {saved.place}"))


def _save_in_thread(app: Any, msg: EmailMessage, who: TimelineLinks) -> None:
    """The worker: APPEND to Drafts (or write outbox/)."""
    from rapport.mail.send.outbox import save_draft

    draft_worker(app, lambda db: save_draft(db, app.opened.workspace, app.opened.config, msg, **who),
                 done="draft saved to", failed="draft not saved")


def _finish_reply(app: Any, account_id: int | None, message_id: int, template: str | None) -> None:
    from rapport.mail.attach.settings import attachment_settings
    from rapport.tui.app.screens.attach_step import AttachStep

    if not template:
        return
    prepared = _prepare_reply(app, account_id, message_id, template)
    if prepared is None:
        return
    draft, thread, who = prepared
    try:
        limit = attachment_settings(app.opened.config).limit_bytes
    except RapportError as exc:
        notify(app, exc.message, title="Draft", severity="error")
        return

    def save(files: list[Path] | None) -> None:
        msg = _build_reply(app, draft, thread, files or [])
        if msg is None:
            return
        notify(app, "saving the draft…", title="Draft")
        app.run_worker(lambda: _save_in_thread(app, msg, who), thread=True, group="draft-save",
                       exit_on_error=False, description="save a reply draft")

    # The attach step: files from a picker rooted at the home folder (none is fine).
    app.push_screen(AttachStep(limit), save)


def start_reply(app: Any, *, account_id: int | None = None, message_id: int | None) -> None:
    """Pick a reply template, render the reply, edit it in $EDITOR, save it in a worker."""
    if message_id is None:
        notify(app, "select a message to reply to", severity="warning")
        return
    choices, broken = template_choices(app, ("reply",))
    if not choices:
        notify(app, no_templates_text("reply", broken), severity="warning")
        return
    app.push_screen(TemplatePicker(choices, broken=broken),
                    lambda name: _finish_reply(app, account_id, message_id, name))


def no_templates_text(kind: str, broken: list[tuple[str, str]]) -> str:
    text = f"no {kind} templates in templates/"
    return f"{text} ({len(broken)} broken: see rapport templates)" if broken else text
