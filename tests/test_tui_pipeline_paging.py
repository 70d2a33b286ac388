"""The pipeline pane pages its deals (issue 15): in a book of several pages every deal is reached by
scrolling, in the pane's order, under its stage's right count; an edit keeps the cursor on its deal."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rapport.store.book import accounts, deals
from rapport.store.session import open_workspace
from rapport.store.views.pipeline_pane import pipeline_rows
from rapport.tui.app.application import RapportApp
from rapport.tui.app.widgets.rowlist import PAGE
from tests.test_tui_app import drive
from tests.tui_workspace import TODAY

DEALS = 2 * PAGE + 57  # three pages of the pane


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    opened = open_workspace(home)
    db, pipeline = opened.db, opened.config.pipeline
    rng = random.Random(15)
    ids = [accounts.create_account(db, f"Account {n:03d}").id for n in range(60)]
    open_stages = [stage.name for stage in pipeline.stages if stage.kind == "open"]
    for number in range(DEALS):
        deals.create_deal(db, rng.choice(ids), f"Deal {number:03d}", rng.choice(open_stages), pipeline=pipeline,
                          value=rng.randint(1, 90) * 100, next_action="call",
                          next_action_due=rng.choice([None, TODAY + timedelta(days=rng.randint(-9, 9))]))
    opened.close()
    return home


def test_every_deal_is_reached_by_scrolling_in_the_panes_order(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        pipeline = app.screen.query_one("#pipeline")
        assert app.focused is pipeline
        expected = pipeline_rows(app.opened.db, app.opened.config.pipeline, TODAY, app.opened.config.money)
        assert pipeline.row_count == len(expected) == DEALS + len(app.opened.config.pipeline.names)
        seen = [pipeline.current_row]
        while pipeline.cursor < pipeline.row_count - 1:
            await pilot.press("j")
            seen.append(pipeline.current_row)
        assert seen == expected  # every line, once, in order (headers included)
        assert sum(1 for row in seen if row.deal is not None) == DEALS
        for header in (row for row in seen if row.deal is None):
            assert header.stage.count == sum(1 for row in seen if row.deal and row.stage.name == header.stage.name)
        await pilot.press("home")
        assert pipeline.cursor == 0 and pipeline.current_row == expected[0]

    drive(home, body, size=(80, 24))


def test_a_stage_move_far_down_the_pane_keeps_the_cursor_on_its_deal(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        pipeline = app.screen.query_one("#pipeline")
        await pilot.press("end")
        while pipeline.current_row.deal is None or app.opened.config.pipeline.open_neighbour(
                pipeline.current_row.deal.stage, -1) is None:
            await pilot.press("k")
        deal = pipeline.current_row.deal
        assert pipeline.cursor > PAGE  # beyond the first page
        await pilot.press("less_than_sign")
        await pilot.pause()
        moved = pipeline.current_row.deal
        assert moved.id == deal.id and moved.stage != deal.stage

    drive(home, body, size=(80, 24))
