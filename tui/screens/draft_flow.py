"""Provides the TUI drafting flow: `r` picks a template, $EDITOR edits, the draft is saved.

`start_reply(app, account_id=, message_id=)` is what the App calls. The editor runs inside
`app.suspend()` so the terminal is handed over and the app resumes cleanly. Rendering, composing
and saving are the mail layer's pure functions; this module only routes. `AnnouncePreviewScreen`
pages through each rendered announcement before anything is delivered.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from rapport.store.errors import RapportError


class TemplatePicker(ModalScreen[str | None]):
    """Choose a template by name (enter), or cancel (escape)."""

    DEFAULT_CSS = """
    TemplatePicker { align: center middle; }
    TemplatePicker > Vertical { width: 70; height: auto; max-height: 20; border: round $accent;
        background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="draft.cancel")]

    def __init__(self, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self._choices = choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Reply with template:"))
            # Text(), never markup: descriptions come from user-edited files.
            yield OptionList(*[Option(Text(f"{name}  {desc}"), id=name)
                               for name, desc in self._choices], id="template-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _editor_command() -> list[str]:
    return (os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi").split()


def edit_in_editor(app: Any, text: str) -> str | None:
    """Suspend the app, run $EDITOR on a private temp file, resume; None when the editor failed."""
    fd, name = tempfile.mkstemp(prefix="rapport-draft-", suffix=".txt")  # 0600 by mkstemp
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            with app.suspend():
                done = subprocess.run([*_editor_command(), str(path)], check=False)
        except SuspendNotSupported:
            # Headless (tests, pipes): there is no terminal to hand over, run the editor as is.
            done = subprocess.run([*_editor_command(), str(path)], check=False,
                                  stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            return None
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
    finally:
        path.unlink(missing_ok=True)


def _finish_reply(app: Any, account_id: int | None, message_id: int, template: str | None) -> None:
    if not template:
        return
    from rapport.mail.compose import build_email, draft_from_text, draft_to_text
    from rapport.mail.outbox import save_draft
    from rapport.mail.reply import prepare_reply
    from rapport.store.messages import get_message

    opened = app.opened
    try:
        message = get_message(opened.db, message_id)
        prepared = prepare_reply(opened.db, opened.config, opened.workspace.templates_dir,
                                 message, template, account_id=account_id)
        edited = edit_in_editor(app, draft_to_text(prepared.draft))
        if edited is None:
            app.notify("editor failed: draft not saved", severity="warning")
            return
        draft = draft_from_text(edited, prepared.draft)
        msg = build_email(draft, opened.config.me, thread=prepared.thread)
        saved = save_draft(opened.db, opened.workspace, opened.config, msg,
                           account_id=prepared.account_id, contact_id=prepared.contact_id)
    except RapportError as exc:
        app.notify(exc.message, title="Draft", severity="error", markup=False)
        return
    where = f"Drafts of {saved.location}" if saved.where == "imap" else "outbox/"
    app.notify(f"draft saved to {where}", title="Draft", markup=False)


def start_reply(app: Any, *, account_id: int | None = None, message_id: int | None) -> None:
    """Pick a template, render the reply, edit it in $EDITOR, save it (IMAP Drafts or outbox/)."""
    if message_id is None:
        app.notify("select a message to reply to", severity="warning")
        return
    from rapport.mail.drafting import (
        DraftTemplateError,
        install_default_templates,
        load_template,
        template_names,
    )

    directory = app.opened.workspace.templates_dir
    install_default_templates(app.opened.workspace)
    choices = []
    for name in template_names(directory):
        try:
            template = load_template(directory, name)
        except DraftTemplateError:
            continue  # a broken template is reported by `rapport templates`, not offered here
        if template.kind == "reply":
            choices.append((name, template.description))
    if not choices:
        app.notify("no reply templates in templates/", severity="warning")
        return
    app.push_screen(TemplatePicker(choices),
                    lambda name: _finish_reply(app, account_id, message_id, name))


class AnnouncePreviewScreen(Screen[bool]):
    """Pages through each rendered announcement (n/p); `y` confirms, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n,right,j", "next", "Next", id="announce.next"),
        Binding("p,left,k", "previous", "Previous", id="announce.previous"),
        Binding("y", "confirm", "Deliver", id="announce.confirm"),
        Binding("escape,q", "cancel", "Cancel", id="announce.cancel"),
    ]

    def __init__(self, messages: list[EmailMessage], summary: str) -> None:
        super().__init__()
        self.messages = messages
        self.summary = summary
        self.position = 0

    def compose(self) -> ComposeResult:
        yield Static(id="announce-header")
        yield Static(id="announce-body")
        yield Footer()

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        total = len(self.messages)
        header = self.query_one("#announce-header", Static)
        body = self.query_one("#announce-body", Static)
        if not total:
            header.update(Text(f"Nothing to deliver. {self.summary}"))
            body.update("")
            return
        msg = self.messages[self.position]
        header.update(Text(f"Message {self.position + 1} of {total} — {self.summary}"))
        part = msg.get_body(("plain",))
        text = part.get_content() if part is not None else ""
        body.update(Text(f"To: {msg['To']}\nSubject: {msg['Subject']}\n\n{text}"))

    def action_next(self) -> None:
        if self.position + 1 < len(self.messages):
            self.position += 1
            self._show()

    def action_previous(self) -> None:
        if self.position > 0:
            self.position -= 1
            self._show()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
