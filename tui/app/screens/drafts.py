"""Provides the account timeline's draft actions: `enter` on a 'draft' line opens the saved
draft in the reader, `e` re-edits it in $EDITOR and replaces the saved one (outbox/ file, or
on the IMAP server: the new one appended, the old UID deleted and expunged).

The draft is read from where it was saved (outbox/ or the server's Drafts, in a thread worker:
the server may be slow), never from a stale copy; the editor runs on the UI thread (it needs
the terminal), the replacement in a worker again. Any failure is one notification.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rapport.store.errors import RapportError
from rapport.store.mailstore.messages import Message, format_addresses
from rapport.tui.app.safe import notify

if TYPE_CHECKING:
    from rapport.mail.send.saved_drafts import FoundDraft


def draft_as_message(found: FoundDraft, account: tuple[int, str]) -> Message:
    """The saved draft as the reader shows a message: decoded by the one decoder; `id` 0 (it
    is not in the store), its place in the 'Saved in' header, its files in the reader's list
    (read from `found.raw`, which open_draft hands the reader)."""
    from rapport.mail.message.decode import decode_message

    decoded = decode_message(found.raw, uid=found.uid or 0)
    return Message(
        id=0, folder_id=0, mailbox=found.saved.place, folder="", uid=found.uid or 0,
        message_id=decoded.message_id, thread_id="", in_reply_to=decoded.in_reply_to, refs=decoded.refs,
        date_utc=decoded.date_utc, from_name=decoded.from_name, from_addr=decoded.from_addr,
        to_addrs=format_addresses(decoded.to), cc_addrs=format_addresses(decoded.cc),
        reply_to=format_addresses(decoded.reply_to), subject=decoded.subject, snippet=decoded.snippet,
        body_text=decoded.body_text, attachments=decoded.attachments, size=decoded.size, seen=True, answered=False,
        flagged=False, draft=True, flags_dirty=False, direction="out", modseq=None,
        accounts=((account[0], account[1], "draft", ""),))


def _fetch_then(app: Any, message_id: str, then: Callable[[FoundDraft], None]) -> None:
    """Read the draft in a thread worker, then `then(found)` on the UI thread."""
    from rapport.mail.send.saved_drafts import find_saved_draft

    def fetch() -> None:
        try:
            found = find_saved_draft(app.opened.workspace, app.opened.config, message_id)
        except (RapportError, OSError) as exc:
            text = exc.message if isinstance(exc, RapportError) else str(exc)
            app.call_from_thread(notify, app, text, title="Draft", severity="error")
            return
        app.call_from_thread(then, found)

    app.run_worker(fetch, thread=True, group="draft-read", exit_on_error=False, description="read a draft")


def open_draft(app: Any, message_id: str, account: tuple[int, str]) -> None:
    """`enter` on a draft line: the saved draft in the reader."""
    from rapport.tui.app.screens.reader import ReaderScreen

    _fetch_then(app, message_id, lambda found: app.push_screen(
        ReaderScreen(draft_as_message(found, account), source=found.raw)))


def reedit_draft(app: Any, message_id: str) -> None:
    """`e` on a draft line: $EDITOR on its Subject/To/Cc and text, then it replaces the saved one."""
    _fetch_then(app, message_id, lambda found: _edit(app, found))


def _edit(app: Any, found: FoundDraft) -> None:
    from rapport.mail.draft.editor import DraftDiscarded
    from rapport.mail.send.saved_drafts import apply_text, editable_text
    from rapport.tui.app.screens.draft_flow import draft_worker, edit_in_editor

    original = found.email()
    try:
        edited = edit_in_editor(app, editable_text(original), lambda text: apply_text(original, text))
    except DraftDiscarded:
        notify(app, f"the saved draft is unchanged (in {found.saved.place})", title="Draft")
        return
    except RapportError as exc:
        notify(app, exc.message, title="Draft", severity="error", timeout=30)
        return

    def replace() -> None:
        from rapport.mail.send.saved_drafts import replace_saved_draft

        draft_worker(app, lambda db: replace_saved_draft(db, app.opened.config, found, edited),
                     done="draft replaced in", failed="draft not replaced")

    notify(app, "saving the edited draft…", title="Draft")
    app.run_worker(replace, thread=True, group="draft-save", exit_on_error=False, description="replace a draft")
