"""Provides a demo workspace (built through the real Maildir ingest path) for the TUI tests."""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path
from typing import Any

TODAY = date(2026, 11, 18)


def build_template(root: Path) -> Path:
    """Build the demo once (accounts, deals, Maildir written then synced by sync_maildir)."""
    from rapport.tui.demo.build import build_demo

    home = root / "demo"
    build_demo(home, accounts=30, contacts=90, deals=40, messages=400, today=TODAY).close()
    return home


def copy_home(template: Path, dest: Path) -> Path:
    """A private copy, so a test's changes never leak into another test."""
    home = dest / "home"
    shutil.copytree(template, home)
    # The demo config names its Maildir by absolute path; point it at the copy.
    config = home / "config.toml"
    config.write_text(config.read_text().replace(str(template), str(home)))
    return home


def drive(home: Path, body: Any, *, size: tuple[int, int] = (80, 24)) -> list[str]:
    """Run the app on `home` (no sync), drive it with `body(app, pilot)`; the notifications
    shown, in order."""
    from textual.notifications import Notify

    from rapport.tui.app.application import RapportApp

    seen: list[Any] = []

    async def run() -> None:
        app = RapportApp(str(home), sync_on_start=False)
        async with app.run_test(size=size, message_hook=seen.append) as pilot:
            await pilot.pause()
            await body(app, pilot)

    asyncio.run(run())
    return [m.notification.message for m in seen if isinstance(m, Notify)]


async def settle_group(app: Any, pilot: Any, group: str) -> None:
    """Let the workers of one group finish and what they posted be shown (`settle` waits for
    every worker: not while a flow's worker awaits the screen being driven)."""
    await pilot.pause()
    running = [w for w in app.workers if w.group == group]
    if running:  # an empty list would wait for every worker
        await app.workers.wait_for_complete(running)
    await pilot.pause()


async def settle(app: Any, pilot: Any) -> None:
    """Let the app's workers finish and what they posted be shown."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
