"""Drafts are easy to find (issue 14): `enter` on a draft line of an account timeline opens the
saved draft in the reader, `e` re-edits it in $EDITOR and replaces the saved one — the outbox/
file rewritten, or on a real Dovecot the new one appended and the old UID expunged."""

from __future__ import annotations

import asyncio
import json
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from test_drafting_cli import _workspace
from textual.notifications import Notify

from rapport.store.book.activities import list_activities
from rapport.store.session import open_workspace
from rapport.tui.app.application import RapportApp
from rapport.tui.cli.main import main

# The "user" adds a line to the text and changes the subject; Message-ID and threading stay.
REEDIT = ('sed -i "s/^Subject: Re: Price list$/Subject: Re: Price list v2/; '
          's/^Dear Alice,$/Dear Alice,\\nRe-edited: the prices are attached./" "$1"')


def _editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text(f"#!/bin/sh\n{script}\n")
    editor.chmod(0o700)
    monkeypatch.setenv("EDITOR", str(editor))


def _reply_draft(home: Path, *extra: str) -> None:
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "--template", "acknowledge",
                 *extra]) == 0


def _drive(home: Path, account_id: int, shown: list[Any] | None = None) -> list[str]:
    """Open the account, enter on its draft line (the reader), back, e (re-edit): the notes."""
    seen: list[Any] = []

    async def run() -> None:
        app = RapportApp(str(home), sync_on_start=False, sync_interval=0)
        async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
            await pilot.pause()
            app.open_account(account_id)
            await pilot.pause()
            timeline = app.screen.query_one("#timeline")
            timeline.cursor = next(i for i in range(timeline.row_count) if timeline.row(i).kind == "draft")
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert type(app.screen).__name__ == "ReaderScreen"
            assert app.screen.message.subject == "Re: Price list"
            assert app.screen.message.body_text.startswith("Dear Alice,")
            if shown is not None:
                shown.append(app.screen.message.attachments)
            await pilot.press("h")
            await pilot.pause()
            assert "Saved in: " in str(app.screen.query_one("#reader-body").render())
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("e")
            for _ in range(3):  # read, edit, replace: each in its own step
                await app.workers.wait_for_complete()
                await pilot.pause()
            assert type(app.screen).__name__ == "AccountScreen"  # e did not edit the account

    asyncio.run(run())
    return [m.notification.message for m in seen if isinstance(m, Notify)]


def _check_replaced(raw: bytes, message_id: str) -> None:
    back = message_from_bytes(raw, policy=policy.default)
    assert str(back["Subject"]) == "Re: Price list v2"
    assert back["Message-ID"] == f"<{message_id}>"
    assert back["In-Reply-To"] == "<orig-7@acme.example>"
    assert str(back["To"]) == "Alice Martin <alice@acme.example>"
    text = back.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Dear Alice,\nRe-edited: the prices are attached.\n")


def _activity(home: Path, account_id: int) -> Any:
    opened = open_workspace(home)
    try:
        [draft] = list_activities(opened.db, account_id, kinds=["draft"])
        return draft
    finally:
        opened.close()


def test_enter_opens_an_outbox_draft_and_e_rewrites_its_file(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = _workspace(home)
    prices = tmp_path / "prices.csv"
    prices.write_text("item;price\ngasket;4.20\n")
    _reply_draft(home, "--attach", str(prices))
    [eml] = list((home / "outbox").iterdir())
    _editor(tmp_path, monkeypatch, REEDIT)
    shown: list[Any] = []
    notes = _drive(home, account_id, shown)
    assert [[a[:2] for a in listed] for listed in shown] == [[("prices.csv", "text/csv")]]  # the reader's list
    assert f"draft replaced in {eml}" in notes, notes
    assert list((home / "outbox").iterdir()) == [eml]
    draft = _activity(home, account_id)
    _check_replaced(eml.read_bytes(), draft.message_id)
    back = message_from_bytes(eml.read_bytes(), policy=policy.default)
    [kept] = list(back.iter_attachments())  # the re-edit keeps the file
    assert kept.get_filename() == "prices.csv" and kept.get_content().replace("\r\n", "\n") == prices.read_text()
    assert draft.subject == "Re: Price list v2" and "Re-edited: the prices" in draft.body


@pytest.mark.dovecot
def test_e_on_an_imap_draft_appends_the_new_one_and_expunges_the_old(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imap_user) -> None:  # noqa: ANN001
    box = imap_user.mailbox_config("work")
    account_id = _workspace(home, "[[mailbox]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in box.items()))
    _reply_draft(home)
    [old_uid] = imap_user.flags("Drafts")
    _editor(tmp_path, monkeypatch, REEDIT)
    notes = _drive(home, account_id)
    assert "draft replaced in the IMAP folder Drafts of mailbox work" in notes, notes
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        uids = client.search("ALL")  # the old one expunged, not only flagged \Deleted
        data = client.fetch(uids, [b"BODY.PEEK[]", b"FLAGS"])
    assert len(uids) == 1 and uids[0] != old_uid
    [found] = data.values()
    assert b"\\Draft" in found[b"FLAGS"]
    _check_replaced(found[b"BODY[]"], _activity(home, account_id).message_id)
    assert not (home / "outbox").exists()


def test_a_draft_no_longer_saved_is_one_clear_error(home: Path) -> None:
    from rapport.mail.send.saved_drafts import find_saved_draft
    from rapport.store.errors import NotFoundError

    account_id = _workspace(home)
    _reply_draft(home)
    [eml] = list((home / "outbox").iterdir())
    eml.unlink()  # sent from another client, or deleted
    opened = open_workspace(home)
    try:
        with pytest.raises(NotFoundError, match=r"is no longer in .*outbox \(sent or deleted\?\)"):
            find_saved_draft(opened.workspace, opened.config, _activity(home, account_id).message_id)
    finally:
        opened.close()


def test_a_draft_opened_from_the_timeline_shows_and_saves_its_attachments(
        home: Path, tmp_path: Path) -> None:
    """Its files are in the reader's list, read from the saved draft itself (it is in no synced
    folder): enter shows one as text, s saves it into attachments_dir, byte for byte."""
    from tests.tui_workspace import drive, settle

    account_id = _workspace(home)
    config = home / "config.toml"
    config.write_text(f'attachments_dir = "{tmp_path / "dl"}"\n' + config.read_text())
    prices = tmp_path / "prices.csv"
    prices.write_bytes(b"item;price\ngasket;4.20\n\x1b[31mred\x1b[0m\n")
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    _reply_draft(home, "--attach", str(prices), "--attach", str(logo))
    shown: list[str] = []

    async def body(app: RapportApp, pilot: Any) -> None:
        from rapport.tui.app.screens.attachments import AttachmentTextScreen

        app.open_account(account_id)
        await pilot.pause()
        timeline = app.screen.query_one("#timeline")
        timeline.cursor = next(i for i in range(timeline.row_count) if timeline.row(i).kind == "draft")
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ReaderScreen"
        assert [a[0] for a in app.screen.message.attachments] == ["prices.csv", "logo.png"]
        await pilot.press("a", "enter")  # the first: shown as text
        await settle(app, pilot)
        assert isinstance(app.screen, AttachmentTextScreen)
        shown.append(app.screen.text)
        await pilot.press("s", "escape")  # saved from the text view
        await settle(app, pilot)
        await pilot.press("down", "s")  # the second, from the list
        await settle(app, pilot)

    notes = drive(home, body)
    assert "gasket;4.20" in shown[0] and "\x1b" not in shown[0]
    saved = {p.name: p.read_bytes() for p in (tmp_path / "dl").iterdir()}
    assert saved == {"prices.csv": prices.read_bytes(), "logo.png": logo.read_bytes()}, notes
    assert sum("saved to" in n for n in notes) == 2, notes


def _mailboxes(*boxes: dict[str, object]) -> str:
    return "".join("[[mailbox]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in box.items())
                   for box in boxes)


@pytest.mark.dovecot
def test_a_draft_in_another_mailboxs_drafts_is_found_and_replaced_there(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imap_user, dovecot) -> None:  # noqa: ANN001
    """Saved while `home` was the only mailbox, then `work` was added before it: enter and e
    still find the draft (every mailbox's Drafts is searched), and the edit replaces it there."""
    other = dovecot.add_user()
    account_id = _workspace(home, _mailboxes(imap_user.mailbox_config("home")))
    _reply_draft(home)
    [old_uid] = imap_user.flags("Drafts")
    config = home / "config.toml"
    config.write_text(config.read_text().replace(
        "[[mailbox]]", _mailboxes(other.mailbox_config("work")) + "[[mailbox]]", 1))
    _editor(tmp_path, monkeypatch, REEDIT)
    notes = _drive(home, account_id)
    assert "draft replaced in the IMAP folder Drafts of mailbox home" in notes, notes
    assert other.flags("Drafts") == {}  # nothing put in the first mailbox
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        uids = client.search("ALL")
        data = client.fetch(uids, [b"BODY.PEEK[]"])
    assert len(uids) == 1 and uids[0] != old_uid
    _check_replaced(data[uids[0]][b"BODY[]"], _activity(home, account_id).message_id)


@pytest.mark.dovecot
def test_a_draft_in_no_mailbox_names_every_drafts_folder_searched(
        home: Path, imap_user, dovecot) -> None:  # noqa: ANN001
    from rapport.mail.send.saved_drafts import find_saved_draft
    from rapport.store.errors import NotFoundError

    other = dovecot.add_user()
    account_id = _workspace(home, _mailboxes(imap_user.mailbox_config("home"),
                                             other.mailbox_config("work")))
    _reply_draft(home)
    with imap_user.server.client(imap_user) as client:  # sent or deleted from another client
        client.select_folder("Drafts")
        client.delete_messages(client.search("ALL"))
        client.expunge()
    opened = open_workspace(home)
    try:
        with pytest.raises(NotFoundError, match=r"is no longer in the IMAP Drafts folders of "
                                                r"mailboxes home, work \(sent or deleted\?\)$"):
            find_saved_draft(opened.workspace, opened.config, _activity(home, account_id).message_id)
    finally:
        opened.close()
