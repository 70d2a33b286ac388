"""The TUI reply flow driven by Textual Pilot: pick a template, $EDITOR edits, the draft is saved."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_drafting_cli import _check_reply, _workspace
from textual.widgets import OptionList

from rapport.tui.app import RapportApp
from rapport.tui.screens.draft_flow import AnnouncePreviewScreen, TemplatePicker, start_reply


def test_reply_flow_picks_template_edits_and_saves(home: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = _workspace(home)
    editor = tmp_path / "editor.sh"
    # The "user" edits the subject line in $EDITOR; the saved draft must carry the edit.
    editor.write_text('#!/bin/sh\nsed -i "s/^Subject: Re: Price list$/Subject: Re: Price list/; '
                      's/^Dear Alice,$/Dear Alice,\\nEdited in the editor./" "$1"\n')
    editor.chmod(0o700)
    monkeypatch.setenv("EDITOR", str(editor))

    async def run() -> None:
        app = RapportApp(str(home), sync_on_start=False)
        async with app.run_test(size=(100, 30)) as pilot:
            start_reply(app, account_id=account_id, message_id=1)
            await pilot.pause()
            assert isinstance(app.screen, TemplatePicker)
            options = app.screen.query_one(OptionList)
            names = [options.get_option_at_index(i).id for i in range(options.option_count)]
            assert names == ["acknowledge", "follow_up_meeting", "objection_answer"]
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, TemplatePicker)

    asyncio.run(run())
    [eml] = list((home / "outbox").iterdir())
    raw = eml.read_bytes()
    assert b"Edited in the editor." in raw
    _check_reply(raw.replace(b"Edited in the editor.\r\n", b""))


def test_announce_preview_pages(home: Path) -> None:
    from rapport.mail.compose import build_email
    from rapport.mail.drafting import Draft
    from rapport.store.config import Me

    me = Me(name="Sam", email="sam@rapport.example")
    msgs = [build_email(Draft("p", "announcement", f"Offer {i}", f"c{i}@x.example", "", "hi"), me)
            for i in range(3)]
    _workspace(home)

    async def run() -> None:
        app = RapportApp(str(home), sync_on_start=False)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = AnnouncePreviewScreen(msgs, "3 eligible")
            results: list[bool] = []
            app.push_screen(screen, results.append)
            await pilot.pause()
            await pilot.press("n", "n", "n")
            assert screen.position == 2
            await pilot.press("p")
            assert screen.position == 1
            await pilot.press("y")
            await pilot.pause()
            assert results == [True]

    asyncio.run(run())
