"""Snapshot tests (pytest-textual-snapshot) of the main, account and Today screens at 80×24 and 160×48."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rapport.tui.app.application import RapportApp
from tests.tui_workspace import TODAY, build_template, copy_home


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("snap"))


@pytest.fixture(autouse=True)
def utc_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lists show today's mail at its local time: the snapshots are taken in UTC wherever they run."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _app(template: Path, tmp_path: Path) -> RapportApp:
    home = copy_home(template, tmp_path)
    # The home path differs per run; the screens never show it, and the clock is fixed by `today`.
    return RapportApp(str(home), today=TODAY, sync_on_start=False, sync_interval=0)


async def _open_account(pilot: Any) -> None:
    pipeline = pilot.app.screen.query_one("#pipeline")
    while pipeline.current_row.deal is None:
        await pilot.press("j")
    await pilot.press("enter")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("screen", ["main", "account", "today"])
def test_screen_snapshot(snap_compare: Any, template: Path, tmp_path: Path, screen: str,
                         size: tuple[int, int]) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.pause()
        if screen == "account":
            await _open_account(pilot)
        elif screen == "today":
            await pilot.press("t")
            await pilot.pause()

    assert snap_compare(_app(template, tmp_path), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("look", ["textual-light", "NO_COLOR"])
def test_main_snapshot_light_and_no_color(snap_compare: Any, template: Path, tmp_path: Path, look: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Overdue (!, bold date) and unread (●, bold) without relying on dark-theme colours."""
    if look == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")  # read (and removed from the environment) by App()
    app = _app(template, tmp_path)

    async def run_before(pilot: Any) -> None:
        if look != "NO_COLOR":
            pilot.app.theme = look
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
