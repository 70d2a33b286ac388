"""The reader's attachment list driven by Pilot with real keys, on a Maildir source: enter shows
a text attachment (and a PDF via pdftotext), s saves into attachments_dir; the timeline line
shows a paperclip and the names."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from attachment_helpers import mail_with, sha, tiny_pdf
from sync_helpers import run_sync, write_config

from rapport.store.mailstore.messages import find_message
from rapport.store.session import open_workspace
from rapport.tui.app.application import RapportApp
from rapport.tui.app.screens.attachments import AttachmentTextScreen
from tests.tui_workspace import drive, settle

PDF = tiny_pdf("Signed contract 2026")
CSV = b"item;price\nbolt;0.12\n\x1b[31mred\x1b[0m\n"


@pytest.fixture
def synced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, int]:
    maildir = tmp_path / "Mail"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1700000000.M1P1.host").write_bytes(
        mail_with([("contract.pdf", "application/pdf", PDF), ("prices.csv", "text/csv", CSV)]))
    home = tmp_path / "ws"
    write_config(home, [], me="sam@rapport.example",
                 maildirs=[{"name": "archive", "path": str(maildir)}])
    config = home / "config.toml"
    config.write_text(f'attachments_dir = "{tmp_path / "dl"}"\n' + config.read_text())
    assert run_sync(home, capsys)[0] == 0
    opened = open_workspace(home)
    message_id = find_message(opened.db, "po-1@acme.example").id
    opened.close()
    return home, message_id


def test_reader_shows_and_saves_attachments(synced: tuple[Path, int], tmp_path: Path) -> None:
    home, message_id = synced
    shown: list[str] = []

    async def body(app: RapportApp, pilot: Any) -> None:
        app.open_message(message_id)
        await pilot.pause()
        await pilot.press("a", "down", "enter")  # the list, the second one: prices.csv
        await settle(app, pilot)
        assert isinstance(app.screen, AttachmentTextScreen)
        shown.append(app.screen.text)
        await pilot.press("s")  # save it from the text view
        await settle(app, pilot)
        await pilot.press("escape", "up", "s")  # back; the first one: contract.pdf
        await settle(app, pilot)
        if shutil.which("pdftotext"):
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, AttachmentTextScreen)
            shown.append(app.screen.text)

    notes = drive(home, body)
    assert "bolt;0.12" in shown[0] and "\x1b" not in shown[0]
    if shutil.which("pdftotext"):
        assert "Signed contract 2026" in shown[1]
    saved = {p.name: p.read_bytes() for p in (tmp_path / "dl").iterdir()}
    assert sha(saved["contract.pdf"]) == sha(PDF) and saved["prices.csv"] == CSV
    assert sum("saved to" in n for n in notes) == 2


def test_open_without_open_command_says_how(synced: tuple[Path, int]) -> None:
    home, message_id = synced

    async def body(app: RapportApp, pilot: Any) -> None:
        app.open_message(message_id)
        await pilot.pause()
        await pilot.press("o")
        await settle(app, pilot)

    notes = drive(home, body)
    assert any("set open_command in config.toml" in n for n in notes)


def test_the_timeline_line_shows_a_paperclip_and_the_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rapport.store.book.accounts import create_account
    from rapport.store.views.queries import timeline_index, timeline_page
    from rapport.tui.app.widgets.timeline import render_timeline_row

    maildir = tmp_path / "Mail"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.M1.host").write_bytes(
        mail_with([("contract.pdf", "application/pdf", PDF), ("prices.csv", "text/csv", CSV)]))
    (maildir / "new" / "2.M2.host").write_bytes(mail_with([], message_id="plain@acme.example",
                                                          subject="No files"))
    home = tmp_path / "ws"
    write_config(home, [], me="sam@rapport.example",
                 maildirs=[{"name": "archive", "path": str(maildir)}])
    opened = open_workspace(home)
    account = create_account(opened.db, "Acme", domains=["acme.example"])
    opened.close()
    assert run_sync(home, capsys)[0] == 0
    opened = open_workspace(home)
    try:
        items = timeline_page(opened.db, timeline_index(opened.db, account.id), 0, 10)
    finally:
        opened.close()
    lines = {item.text.split(": ", 1)[1]: render_timeline_row(item, 80).plain for item in items}
    assert lines["Purchase order"].endswith("📎 contract.pdf, prices.csv")
    assert "📎" not in lines["No files"]
