"""Provides the reader's attachment actions: `AttachmentList` (the navigable list), the work
behind enter/s/o (fetched in a thread worker: the server may be slow) and `AttachmentTextScreen`
(a text attachment, or a PDF through pdftotext, shown inside Rapport).

Names and contents come from mail: shown only through the safe helpers, never as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rapport.store.errors import RapportError
from rapport.store.mailstore.messages import Message
from rapport.tui.app.safe import clean, notify, safe_text
from rapport.tui.app.widgets.status_bar import StatusBar


def attachment_label(name: str, kind: str, size: int) -> str:
    return clean(f"📎 {name or '(no name)'}  {kind}, {size:,} bytes")


class AttachmentList(OptionList):
    """The message's attachments; enter shows, s saves, o opens the highlighted one."""

    DEFAULT_CSS = """
    AttachmentList { height: auto; max-height: 6; border: none; padding: 0 1; }
    """

    def __init__(self, message: Message) -> None:
        super().__init__(*[Option(safe_text(attachment_label(*a)), id=str(i))
                           for i, a in enumerate(message.attachments, 1)], id="attachment-list")

    @property
    def chosen(self) -> int:
        """The highlighted attachment's index (from 1)."""
        return (self.highlighted or 0) + 1


def run_on_attachment(screen: Screen, message: Message, index: int, what: str,
                      done: Callable[[Any], object], source: bytes | None = None) -> None:
    """`what` (save|show|open) attachment `index` in a thread worker, then `done(result)` on
    the UI thread; a failure is one notification. `source`: the whole message, for one not in
    the store (a saved draft), its attachments read from it."""
    from rapport.mail.attach import actions
    from rapport.mail.attach.settings import attachment_settings
    from rapport.mail.attach.viewing import open_saved

    app: Any = screen.app
    try:
        if what == "open" and not attachment_settings(app.opened.config).open_command:
            open_saved((), Path())  # raises the one line saying how to set it
    except RapportError as exc:  # said at once: nothing is fetched to then fail
        notify(app, exc.message, title="Attachment", severity="error")
        return
    name = message.attachments[index - 1][0] if 0 < index <= len(message.attachments) else ""
    verb = {"save": "saving", "show": "fetching", "open": "opening"}[what]
    notify(app, f"{verb} {clean(name)}…", title="Attachment")

    def work() -> None:
        db = app.opened.reopen_db()  # SQLite connections stay on their thread
        try:
            calls: dict[str, Callable[..., Any]] = {
                "save": actions.save_attachment, "show": actions.show_attachment,
                "open": actions.open_attachment}
            call = calls[what]
            result = call(db, app.opened.config, message, index, source=source)
        except (RapportError, OSError) as exc:
            text = exc.message if isinstance(exc, RapportError) else str(exc)
            app.call_from_thread(notify, app, text, title="Attachment", severity="error")
            return
        finally:
            db.close()
        app.call_from_thread(done, result)

    app.run_worker(work, thread=True, group="attachment", exit_on_error=False,
                   description=f"{what} an attachment")


class AttachmentTextScreen(Screen[None]):
    """One attachment as text; s saves it, escape goes back to the message."""

    DEFAULT_CSS = """
    AttachmentTextScreen #attachment-text { height: 1fr; padding: 0 1; }
    """
    BINDING_GROUP_TITLE = "Attachment"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "save", "Save", id="attachment.save"),
        Binding("escape,q", "app.pop_screen", "Back", id="attachment.back"),
        Binding("j", "scroll('down')", "Down", show=False, id="attachment.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="attachment.up"),
    ]

    def __init__(self, message: Message, index: int, text: str, source: bytes | None = None) -> None:
        super().__init__()
        self.message, self.index, self.text, self.source = message, index, text, source

    def compose(self) -> ComposeResult:
        name, kind, size = self.message.attachments[self.index - 1]
        with VerticalScroll(id="attachment-text"):
            yield Static(safe_text(attachment_label(name, kind, size)), classes="title")
            yield Static(safe_text(self.text or "(no text in this attachment)",
                                   keep_newlines=True))
        yield StatusBar()

    def on_mount(self) -> None:
        self.query_one("#attachment-text").focus()

    def action_save(self) -> None:
        run_on_attachment(self, self.message, self.index, "save", lambda path: notify(
            self.app, f"saved to {clean(str(path))}", title="Attachment"), self.source)

    def action_scroll(self, direction: str) -> None:
        scroller = self.query_one("#attachment-text", VerticalScroll)
        (scroller.scroll_down if direction == "down" else scroller.scroll_up)(animate=False)
