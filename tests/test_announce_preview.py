"""The announcement preview renders off the UI thread (issue 14's limit): each message in a
thread worker with its own connection, posted back; `d` renders the rest the same way before
offering anything. Driven by Pilot on a real workspace; what is rendered stays plain text."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from test_drafting_tui import _announce_workspace, _drafts, _drive, _type

from rapport.mail.send.announce_delivery import MessageRenderer
from rapport.tui.app.application import RapportApp
from rapport.tui.app.screens.announce import AnnouncePreviewScreen
from tests.tui_workspace import settle, settle_group


async def _rendered(app: RapportApp, pilot: Any) -> None:
    await settle_group(app, pilot, "announce-preview")


# Markup and an escape sequence in the template's own text: shown as they are, never styled.
HOSTILE = ('+++\ndescription = "markup in the text"\nkind = "announcement"\n'
           'subject = "[bold]News[/bold] for {{ account.name }}"\nto = "{{ contact.address }}"\n+++\n'
           'Dear {{ contact.name }}, [red]not red[/red] [link=https://evil.example]x[/link]\n')


def test_previews_render_in_a_worker_thread_and_stay_plain_text(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _announce_workspace(home)
    (home / "templates").mkdir(exist_ok=True)
    (home / "templates" / "hostile.j2").write_text(HOSTILE)
    threads: list[bool] = []  # True: rendered on the UI (main) thread
    real_render = MessageRenderer.render

    def render(self: MessageRenderer, target: Any) -> Any:
        threads.append(threading.current_thread() is threading.main_thread())
        return real_render(self, target)

    monkeypatch.setattr(MessageRenderer, "render", render)

    async def body(app: RapportApp, pilot: Any) -> None:
        await pilot.press("N")
        await pilot.pause()
        options = app.screen.query_one("#template-list")
        options.highlighted = next(i for i in range(options.option_count)
                                   if options.get_option_at_index(i).id == "hostile")
        await pilot.press("enter")
        await pilot.pause()
        await _type(pilot, "stage=Won")
        await pilot.press("enter")  # no promotion
        await _rendered(app, pilot)
        screen = app.screen
        assert isinstance(screen, AnnouncePreviewScreen)
        shown = str(screen.query_one("#announce-body").render())
        assert "Message 1 of 4" in shown
        assert "Subject: [bold]News[/bold] for Acme" in shown, shown
        assert "[red]not red[/red] [link=https://evil.example]x[/link]" in shown
        assert screen._rendered.keys() == {0}  # only what was shown
        await pilot.press("n")
        await _rendered(app, pilot)
        assert "Message 2 of 4" in str(screen.query_one("#announce-body").render())
        await pilot.press("d")  # the other two are rendered (in a worker) before the offer
        await _rendered(app, pilot)
        assert screen._rendered.keys() == {0, 1, 2, 3}
        assert "save 4 drafts? y to confirm" in str(screen.query_one("#announce-ask").render())
        await pilot.press("y")
        await settle(app, pilot)
        await pilot.press("escape")
        await pilot.pause()

    _drive(home, body)
    assert len(threads) >= 4 and not any(threads), threads  # none on the UI thread
    assert len(_drafts(home)) == 4
