"""The TUI's launch (issue 15): what it leaves unloaded until after the first paint, and that the
first screen still shows the newest mail and the most urgent deals, and writes still land."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rapport.store.lazydb import DeferredDatabase
from rapport.store.reader import open_reader
from rapport.store.session import open_for_tui, open_workspace
from rapport.store.views import queries
from rapport.tui.app.application import RapportApp
from tests.tui_workspace import TODAY, build_template, copy_home

# Loaded by a form, a reply, the reader, Today or the first write: never by the launch itself.
NOT_AT_LAUNCH = ("jinja2", "sqlite_utils", "dateutil", "rapport.mail.message", "rapport.mail.sync",
                 "rapport.store.views.today", "rapport.store.book.records",
                 "rapport.tui.app.screens.record_form", "rapport.tui.app.screens.reader")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("launch"))


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    return copy_home(template, tmp_path)


def drive(home: Path, body: Any) -> None:
    async def run() -> None:
        app = RapportApp(str(home), today=TODAY, sync_on_start=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await body(app, pilot)

    asyncio.run(run())


def test_importing_the_app_loads_none_of_the_deferred_modules() -> None:
    code = ("import sys; import rapport.tui.app.application, rapport.tui.app.screens.main; "
            f"print(' '.join(m for m in {NOT_AT_LAUNCH!r} if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == ""


def test_first_paint_reads_without_sqlite_utils(home: Path) -> None:
    """The launch paints the whole main screen through the plain connection, in a fresh
    interpreter (this test process has sqlite-utils loaded by other tests)."""
    code = f"""
import asyncio, sys
from rapport.tui.app.application import RapportApp

async def main():
    app = RapportApp({str(home)!r}, sync_on_start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        inbox = app.screen.query_one("#inbox")
        print(inbox.row_count > 0, inbox.counted, app.opened.db.is_full,
              ' '.join(m for m in {NOT_AT_LAUNCH!r} if m in sys.modules) or "-")

asyncio.run(main())
"""
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["True", "True", "False", "-"]


def test_first_rows_are_the_newest_mail_and_the_most_urgent_deals(home: Path) -> None:
    """The launch's panes show what the full (sqlite-utils) connection reads: the newest
    messages first, the pipeline in its order (stages, soonest next action first)."""
    opened = open_workspace(home)
    try:
        config = opened.config
        inbox_rows = queries.inbox_page(opened.db, 0, 20, queries.InboxFilter())
        pipeline_rows = queries.pipeline_rows(opened.db, config.pipeline, TODAY, config.money)[:20]
        dates = [row.date_utc for row in queries.inbox_page(opened.db, 0, 400, queries.InboxFilter())]
    finally:
        opened.close()
    assert dates == sorted(dates, reverse=True) and len(inbox_rows) == 20
    assert any(row.deal is not None for row in pipeline_rows)

    async def body(app: RapportApp, pilot: Any) -> None:
        assert isinstance(app.opened.db, DeferredDatabase)
        inbox = app.screen.query_one("#inbox")
        pipeline = app.screen.query_one("#pipeline")
        assert [inbox.row(i) for i in range(20)] == inbox_rows
        assert [pipeline.row(i) for i in range(20)] == pipeline_rows
        assert inbox.cursor == 0 and pipeline.cursor == 0

    drive(home, body)


def test_a_write_at_launch_is_committed(home: Path) -> None:
    """The first write switches the connection to sqlite-utils' Database, and is committed as
    through it: another connection sees it, and a worker's write is not locked out."""
    seen_before: list[bool] = []

    async def body(app: RapportApp, pilot: Any) -> None:
        inbox = app.screen.query_one("#inbox")
        inbox.focus()
        await pilot.pause()
        seen_before.append(inbox.current_row.seen)
        await pilot.press("space")
        await pilot.pause()
        assert app.opened.db.is_full

    drive(home, body)
    first = queries.inbox_page(_plain(home), 0, 1, queries.InboxFilter())[0]
    assert first.seen is (not seen_before[0])


def _plain(home: Path) -> Any:
    reader = open_reader(home / "rapport.db", 1000)
    assert reader is not None
    return reader


def test_deferred_database_reads_plain_and_writes_through_sqlite_utils(home: Path) -> None:
    opened = open_for_tui(home)
    db: Any = opened.db
    try:
        assert isinstance(db, DeferredDatabase) and not db.is_full
        count = db.execute("SELECT count(*) FROM accounts").fetchone()[0]
        assert [row["n"] for row in db.query("SELECT count(*) AS n FROM accounts")] == [count]
        assert not db.is_full  # reads stay on the plain connection
        db.execute("UPDATE accounts SET notes = 'set at launch' WHERE id = (SELECT min(id) FROM accounts)")
        assert db.is_full
        other = sqlite3.connect(home / "rapport.db")
        try:  # committed: another connection sees it (a write left in a transaction would not be)
            assert other.execute("SELECT count(*) FROM accounts WHERE notes = 'set at launch'").fetchone()[0] == 1
        finally:
            other.close()
        assert db["accounts"].count == count  # sqlite-utils' own API, on the same connection
        assert not db.conn.in_transaction
    finally:
        opened.close()


def test_a_database_to_set_up_is_opened_in_full(home: Path) -> None:
    """open_for_tui falls back to the full open (which sets the file up) when the reader cannot be
    used: here a database not in WAL mode, as an old or foreign one may be."""
    conn = sqlite3.connect(home / "rapport.db")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    opened = open_for_tui(home)
    try:
        assert not isinstance(opened.db, DeferredDatabase)
        assert opened.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        opened.close()
