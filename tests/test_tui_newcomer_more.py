"""Issue 14, the rest of a newcomer's first hour: the reader keeps quote marks on wrapped lines,
shows headers when scrolled down and walks a thread; timeline notes open in full; drafts say
where they went, open and re-edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rapport.tui.app.application import RapportApp
from tests.test_tui_app import drive, template  # noqa: F401 (fixture)
from tests.tui_workspace import copy_home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:  # noqa: F811
    return copy_home(template, tmp_path)


def _visible(app: RapportApp) -> str:
    return app.export_screenshot().replace("&#160;", " ")


def test_wrapped_quoted_lines_keep_their_mark() -> None:
    from rapport.tui.app.screens.reader import fold_quotes

    body = "Thanks!\n\nOn Mon, 2 Nov 2026 at 10:00, Ann <ann@x.example> wrote:\n> " + "word " * 40 + "\n>> " + \
        "deep " * 30 + "\n"
    shown = fold_quotes(body, unfold=True, width=40).plain.splitlines()
    quoted = [text for text in shown if "word" in text or "deep" in text]
    assert len(quoted) > 4 and all(len(text) <= 40 for text in quoted), shown
    assert all(text.startswith("> ") for text in quoted if "word" in text), shown
    assert all(text.startswith(">> ") for text in quoted if "deep" in text), shown


def _long_thread(app: RapportApp) -> tuple[str, list[int]]:
    from rapport.store.mailstore.lookup import thread_sequence

    db = app.opened.db
    thread = db.execute("SELECT thread_id FROM messages GROUP BY thread_id "
                        "HAVING count(DISTINCT message_id) >= 3 ORDER BY thread_id LIMIT 1").fetchone()[0]
    return thread, [row_id for row_id, _ in thread_sequence(db, thread)]


def test_headers_show_when_scrolled_down_and_brackets_walk_the_thread(home: Path) -> None:
    from rapport.store.mailstore.messages import get_message

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        _thread, ids = _long_thread(app)
        db.execute("UPDATE messages SET body_text = ? WHERE id = ?", ["line\n" * 120, ids[1]])
        db.conn.commit()
        app.open_message(ids[1])
        await pilot.pause()
        scroller = app.screen.query_one("#reader")
        await pilot.press("end")
        await pilot.pause()
        assert scroller.scroll_y > 0
        await pilot.press("h")
        await pilot.pause()
        assert scroller.scroll_y == 0 and "Message-ID: " in _visible(app)
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.screen.message.id == ids[2] and get_message(db, ids[2]).seen
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        assert app.screen.message.id == ids[0]
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert app.screen.message.id == ids[0]
        await pilot.press("escape")  # one reader on the stack, not one per message
        await pilot.pause()
        # At 80x24, unfolded: every wrapped line of a long quote still starts with '>' on screen.
        db.execute("UPDATE messages SET body_text = ? WHERE id = ?",
                   ["Thanks.\n\nOn Mon, 2 Nov 2026 at 10:00, Ann <ann@x.example> wrote:\n> " + "quoted " * 60
                    + "\n>\n" + "> more\n" * 40, ids[0]])
        db.conn.commit()
        app.open_message(ids[0])
        await pilot.pause()
        await pilot.press("z")
        await pilot.pause()
        body = app.screen.query_one("#reader-body")
        lines = body.render().plain.splitlines()
        quoted = [text for text in lines if "quoted" in text]
        assert len(quoted) > 3 and all(text.startswith("> ") for text in quoted), lines
        # Wrapped to the width they are shown at: the terminal never wraps them again (without a '>').
        assert all(len(text) <= body.content_region.width for text in quoted), (body.content_region.width, quoted)
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "MainScreen"

    drive(home, body, size=(80, 24))


def test_a_long_note_shows_what_fits_and_enter_shows_it_all(home: Path) -> None:
    from rapport.store.book import activities, deals
    from rapport.tui.app.screens.full_text import FullTextScreen
    from rapport.tui.app.widgets.timeline import render_timeline_row
    from tests.tui_workspace import TODAY

    first = "Called Ann about the renewal; she wants the volume discount in writing before Friday"
    second = "Second line: legal reviews the SLA annex, then procurement signs."

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        deal = deals.list_deals(db)[0]
        activities.add_activity(db, deal.account_id, "call", body=f"{first}\n{second}", deal_id=deal.id)
        app.open_account(deal.account_id)
        await pilot.pause()
        timeline = app.screen.query_one("#timeline")
        timeline.cursor = next(i for i in range(timeline.row_count) if timeline.row(i).kind == "call"
                               and timeline.row(i).text.startswith("Called Ann"))
        shown = render_timeline_row(timeline.current_row, 78, TODAY).plain
        assert len(shown) <= 78 and shown.endswith("…") and "Called Ann about the renewal" in shown, shown
        assert "⏎ Second line" in render_timeline_row(timeline.current_row, 300, TODAY).plain
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FullTextScreen)
        text = str(app.screen.query_one("#full-text-body").render())
        assert f"{first}\n{second}" in text and deal.title in text, text
        assert "procurement" in _visible(app)
        await pilot.press("q")
        await pilot.pause()
        assert app.screen.query_one("#timeline") is not None

    drive(home, body, size=(80, 24))
