"""Provides `ReaderScreen`: one message, quoted history folded, headers on `h`, `]`/`[` to the
thread's next/previous message; its attachments in a list (tab or a to reach it) where enter
shows one as text, s saves and o opens it."""

from __future__ import annotations

import re
import textwrap
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from rapport.mail.message.quotes import quote_runs
from rapport.store.mailstore.lookup import get_message, thread_sequence
from rapport.store.mailstore.messages import Message
from rapport.tui.app.book_flows import BookContext
from rapport.tui.app.rapport_app import rapport_app
from rapport.tui.app.safe import clean, notify
from rapport.tui.app.screens.attachments import (
    AttachmentList,
    AttachmentTextScreen,
    run_on_attachment,
)
from rapport.tui.app.widgets.status_bar import StatusBar
from rapport.tui.app.widgets.when import long_moment

_QUOTE_PREFIX = re.compile(r"^(\s*>[>\s]*)")


def wrap_quoted(line: str, width: int) -> str:
    """A '>' line wrapped to `width` with its '> ' prefix on every wrapped line (a reader
    must still see which lines are quoted); other lines are left to the terminal's wrap."""
    prefix = _QUOTE_PREFIX.match(line)
    if prefix is None or width < 20 or len(line) <= width:
        return line
    lead = prefix.group(1).rstrip() + " "
    return "\n".join(textwrap.wrap(line[prefix.end():], width, initial_indent=lead, subsequent_indent=lead,
                                   break_on_hyphens=False)) or line


def fold_quotes(body: str, unfold: bool, width: int = 0) -> Text:
    """The body with quoted history folded into one line per block (unless `unfold`).

    Blocks come from the mail layer's quote detection (rapport.mail.message.quotes.quote_runs): '>' lines,
    Outlook 'From:/Sent:' and '-----Original Message-----' history, 'On … wrote:', forwards.
    A message that is only a forward shows it: there is nothing else to read.
    """
    out = Text()
    runs = quote_runs(clean(body, keep_newlines=True))
    own_text = False
    for kind, lines in runs:
        if kind == "text":
            own_text = own_text or any(text.strip() for text in lines)
            out.append("".join(text + "\n" for text in lines))
        elif unfold or (kind == "history" and not own_text):
            out.append("".join(wrap_quoted(text, width) + "\n" for text in lines), style="dim")
        else:
            plural = "" if len(lines) == 1 else "s"
            what = f"quoted line{plural}" if kind == "quote" else f"line{plural} of earlier mail"
            out.append(f"[… {len(lines)} {what} folded — z to unfold]\n", style="dim italic")
    return out


def render_message(message: Message, *, headers: bool, unfold: bool, width: int = 0) -> Text:
    out = Text()
    out.append(clean(message.subject) + "\n", style="bold")
    out.append(clean(f"{message.from_name} <{message.from_addr}>   {long_moment(message.date_utc)}") + "\n",
               style="dim")
    if headers:
        for label, value in (("To", message.to_addrs), ("Cc", message.cc_addrs), ("Reply-To", message.reply_to),
                             ("Message-ID", message.message_id),
                             # A saved draft read from outbox/ or Drafts is not stored: where it is instead.
                             ("Folder" if message.id else "Saved in",
                              f"{message.mailbox}/{message.folder}" if message.id else message.mailbox),
                             ("Accounts", ", ".join(link[1] for link in message.accounts) or "unassigned")):
            if value:
                out.append(f"{label}: ", style="bold")
                out.append(clean(value) + "\n")
    out.append("\n")
    out.append_text(fold_quotes(message.body_text, unfold, width))
    return out


class ReaderScreen(Screen[None]):
    """Read one message."""

    CSS_PATH = "reader.tcss"
    BINDING_GROUP_TITLE = "Reader"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "toggle_headers", "Headers", id="reader.headers"),
        Binding("z", "toggle_quotes", "Quotes", id="reader.quotes"),
        Binding("r", "reply", "Reply", id="reader.reply"),
        Binding("right_square_bracket", "thread(1)", "Next in thread", show=False, id="reader.next"),
        Binding("left_square_bracket", "thread(-1)", "Previous in thread", show=False, id="reader.previous"),
        Binding("plus", "app.book('new_contact')", "New contact", show=False,
                tooltip="the sender, at its account (freemail: pick one)", id="reader.new_contact"),
        Binding("a", "attachments", "Attachments", show=False, id="reader.attachments"),
        Binding("enter", "attachment('show')", "Show", show=False, id="reader.show"),
        Binding("s", "attachment('save')", "Save", show=False, id="reader.save"),
        Binding("o", "attachment('open')", "Open", show=False, id="reader.open"),
        Binding("escape,q", "app.pop_screen", "Back", id="reader.back"),
        Binding("j", "scroll('down')", "Down", show=False, id="reader.down"),
        Binding("k", "scroll('up')", "Up", show=False, id="reader.up"),
    ]

    def __init__(self, message: Message, source: bytes | None = None) -> None:
        """`source`: the whole message when it is not in the store (a saved draft): its
        attachments are read from it."""
        super().__init__()
        self.message = message
        self.source = source
        self.headers = False
        self.unfold = False

    def compose(self) -> ComposeResult:
        if self.message.attachments:
            yield AttachmentList(self.message)
        with VerticalScroll(id="reader"):
            yield Static(id="reader-body")
        yield StatusBar()

    def on_mount(self) -> None:
        self._show()
        self.call_after_refresh(self._show)  # again at the laid-out width (quoted lines wrap to it)
        self.query_one("#reader").focus()
        if self.message.attachments:
            plural = "s" if len(self.message.attachments) > 1 else ""
            notify(self, f"{len(self.message.attachments)} attachment{plural}: enter shows, "
                         "s saves, o opens (tab or a to choose)", title="Attachments")

    def _show(self) -> None:
        body = self.query_one("#reader-body", Static)
        # The text's width (before the first layout: the screen's, less the padding and scrollbar).
        width = body.size.width or self.app.size.width - 4
        body.update(
            render_message(self.message, headers=self.headers, unfold=self.unfold, width=width))

    def on_resize(self) -> None:
        self._show()

    def action_toggle_headers(self) -> None:
        self.headers = not self.headers
        self._show()
        if self.headers:  # they sit at the top: scrolled down, h would seem to do nothing
            self.query_one("#reader", VerticalScroll).scroll_home(animate=False)

    def action_thread(self, step: int) -> None:
        """The thread's next (1) or previous (-1) message, in place of this one."""
        db = rapport_app(self).opened.db
        ids = thread_sequence(db, self.message.thread_id)
        here = next((index for index, (row_id, message_id) in enumerate(ids) if row_id == self.message.id
                     or (message_id and message_id == self.message.message_id)), -1)
        there = here + step
        if here < 0 or not 0 <= there < len(ids):
            notify(self, f"no {'next' if step > 0 else 'previous'} message in this thread", severity="warning")
            return
        message = get_message(db, ids[there][0])
        # Read here as anywhere: the flag is stored and goes back to the server at the next sync.
        rapport_app(self).actions.set_seen(message.id, True)
        self.app.switch_screen(ReaderScreen(message))

    def action_toggle_quotes(self) -> None:
        self.unfold = not self.unfold
        self._show()

    def action_reply(self) -> None:
        if not self.message.id:
            notify(self, "this is your own draft: e on its timeline line edits it", severity="warning")
            return
        accounts = self.message.accounts
        rapport_app(self).start_reply(accounts[0][0] if accounts else None, self.message.id)

    def book_context(self) -> BookContext:
        return BookContext(sender_name=self.message.from_name, sender_email=self.message.from_addr)

    def action_attachments(self) -> None:
        if self.message.attachments:
            self.query_one(AttachmentList).focus()

    def on_option_list_option_selected(self, event: AttachmentList.OptionSelected) -> None:
        event.stop()  # enter in the list: show it
        self.action_attachment("show")

    def action_attachment(self, what: str) -> None:
        if not self.message.attachments:
            if what != "show":
                notify(self, "this message has no attachments", severity="warning")
            return
        index = self.query_one(AttachmentList).chosen
        if what == "show":
            run_on_attachment(self, self.message, index, "show", lambda text: self.app.push_screen(
                AttachmentTextScreen(self.message, index, text, self.source)), self.source)
        elif what == "save":
            run_on_attachment(self, self.message, index, "save", lambda path: notify(
                self.app, f"saved to {clean(str(path))}", title="Attachment"), self.source)
        else:
            run_on_attachment(self, self.message, index, "open", lambda path: notify(
                self.app, f"opened {clean(path.name)}", title="Attachment"), self.source)

    def action_scroll(self, direction: str) -> None:
        scroller = self.query_one("#reader", VerticalScroll)
        (scroller.scroll_down if direction == "down" else scroller.scroll_up)(animate=False)
