"""Provides the TUI benchmark: launch-to-interactive and account-open on 100k messages / 10k accounts.

Prints our figures beside a bare Textual app's launch time measured in the same run.
The workspace is built once by bulk inserts (the bench measures the TUI, not ingest) and cached in bench/out/.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Static

from rapport.store.session import open_workspace

OUT = Path(__file__).resolve().parent / "out" / "tui_100k"
ACCOUNTS = 10_000
MESSAGES = 100_000
TODAY = date(2026, 11, 18)
STAMP = "2026-01-01T00:00:00Z"


def build(home: Path) -> None:
    """Bulk-insert accounts, domains, deals and messages straight into the m001 schema."""
    rng = random.Random(7)
    opened = open_workspace(home)
    db = opened.db
    stages = opened.config.pipeline.names
    with db.atomic():
        db["accounts"].insert_all(
            {"id": i, "name": f"Account {i:05d}", "created_utc": STAMP, "updated_utc": STAMP}
            for i in range(1, ACCOUNTS + 1))
        db["account_domains"].insert_all({"domain": f"acct{i}.example", "account_id": i}
                                         for i in range(1, ACCOUNTS + 1))
        db["deals"].insert_all(
            {"account_id": i, "title": f"Deal {i}", "stage": stages[i % len(stages)], "value": rng.randint(1, 90) * 1000,
             "next_action": "follow up", "next_action_due": (TODAY + timedelta(days=rng.randint(-20, 30))).isoformat(),
             "created_utc": STAMP, "updated_utc": STAMP, "stage_changed_utc": STAMP, "last_activity_utc": STAMP}
            for i in range(1, ACCOUNTS + 1, 5))
        folder = db["folders"].insert({"mailbox": "bench", "name": "INBOX", "role": "inbox"}).last_pk
        start = TODAY - timedelta(days=540)

        def rows():  # noqa: ANN202
            for uid in range(1, MESSAGES + 1):
                acct = rng.randint(1, ACCOUNTS)
                when = start + timedelta(minutes=uid * 7)
                yield {"id": uid, "folder_id": folder, "uid": uid, "message_id": f"m{uid}@bench", "thread_id": f"m{uid}@bench",
                       "date_utc": when.isoformat() + "T09:00:00Z", "from_name": f"Person {acct}",
                       "from_addr": f"p{uid % 50}@acct{acct}.example", "subject": f"Subject number {uid}",
                       "snippet": "hello", "body_text": f"Hello, this is message {uid}.\n> quoted\n", "seen": uid % 3 != 0}

        db["messages"].insert_all(rows(), batch_size=5000)
        db["message_accounts"].insert_all(
            ({"message_id": r[0], "account_id": int(r[1].split("@acct")[1].split(".")[0]), "rule": "domain",
              "detail": r[1].split("@")[1]} for r in db.execute("SELECT id, from_addr FROM messages")),
            batch_size=5000)
    opened.close()


class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("bare")


async def _launch(make_app, size=(160, 48)) -> tuple[float, float]:  # noqa: ANN001
    """Seconds from constructing the app to the first screen being ready; then account open."""
    started = time.perf_counter()
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        launched = time.perf_counter() - started
        opened = 0.0
        if hasattr(app, "open_account"):
            await pilot.press("j", "j", "j")  # interactive: the cursor moves
            for _ in range(200):
                await pilot.press("pagedown")  # scrolling deep into the inbox
            started = time.perf_counter()
            app.open_account(ACCOUNTS // 2)
            await pilot.pause()
            opened = time.perf_counter() - started
    return launched, opened


def main() -> int:
    if not (OUT / "config.toml").exists():
        print(f"building {MESSAGES} messages / {ACCOUNTS} accounts in {OUT} ...", file=sys.stderr)
        t = time.perf_counter()
        build(OUT)
        print(f"built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    from rapport.tui.app import RapportApp

    bare, _ = asyncio.run(_launch(Bare))
    ours, account = asyncio.run(_launch(lambda: RapportApp(str(OUT), today=TODAY, sync_on_start=False)))

    async def scroll() -> float:
        app = RapportApp(str(OUT), today=TODAY, sync_on_start=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            await pilot.press("tab")
            started = time.perf_counter()
            for _ in range(500):
                await pilot.press("pagedown")
            await pilot.pause()
            return (time.perf_counter() - started) / 500

    per_page = asyncio.run(scroll())
    print(f"bare Textual app launch:        {bare * 1000:7.0f} ms")
    print(f"rapport launch-to-interactive:  {ours * 1000:7.0f} ms  ({MESSAGES} messages, {ACCOUNTS} accounts)")
    print(f"rapport account open:           {account * 1000:7.0f} ms")
    print(f"rapport inbox page-down:        {per_page * 1000:7.1f} ms per page (500 pages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
