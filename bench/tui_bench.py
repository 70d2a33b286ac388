"""Provides the TUI benchmark on 100k messages / 10k accounts, beside its peers measured in the same run.

- launch: constructing the app until the inbox has painted its first rows (target 0.5 s; aerc and
  neomutt show a 100k index in 1.0 s);
- account open: the biggest account (20,000 messages in threads of five, 3 deals, 600 activities)
  until its timeline has painted, then `end` until its oldest line has painted (the timeline is
  paged over the store, as the inbox is);
- inbox page-down, after the inbox (not the pipeline) has the focus;
- peers: a bare Textual app (one Static) until painted, and a plain DataTable filled with 100k rows
  until its first paint (the brief: 0.3 s and 11 s);
- cold start, as a user meets it: from exec of `rapport --home DIR` in a 160x48 pseudo-terminal
  until the newest message's subject is written to it, beside the same for a bare Textual app
  script (interpreter start and imports included for both; comparable with neomutt's 1.0 s).

The workspace is built once by bulk inserts (the bench measures the TUI, not ingest) and cached in bench/out/.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from rapport.store.session import open_workspace

OUT = Path(__file__).resolve().parent / "out" / "tui_100k_v4"
ACCOUNTS = 10_000
DEALS = 10_000  # one per account but the big one, which has 3 (issue 15: 10k deals)
MESSAGES = 100_000
BIG_ACCOUNT = 1  # gets BIG_MESSAGES messages, 3 deals and BIG_ACTIVITIES activities
BIG_MESSAGES = 20_000  # a key account's years of mail
BIG_ACTIVITIES = 600
TODAY = date(2026, 11, 18)
STAMP = "2026-01-01T00:00:00Z"
SIZE = (160, 48)
LAUNCH_TARGET = 0.5


def _messages(rng: random.Random, folder: int) -> Iterator[dict[str, Any]]:
    start = TODAY - timedelta(days=540)
    for uid in range(1, MESSAGES + 1):
        big = uid % (MESSAGES // BIG_MESSAGES) == 0
        acct = BIG_ACCOUNT if big else rng.randint(2, ACCOUNTS)
        when = start + timedelta(minutes=uid * 7)
        # The big account's mail comes in threads of five, so its timeline has thread lines.
        thread = f"t{uid // ((MESSAGES // BIG_MESSAGES) * 5)}@big" if big else f"m{uid}@bench"
        yield {"id": uid, "folder_id": folder, "uid": uid, "message_id": f"m{uid}@bench", "thread_id": thread,
               "date_utc": when.isoformat() + "T09:00:00Z", "from_name": f"Person {acct}",
               "from_addr": f"p{uid % 50}@acct{acct}.example", "subject": f"Subject number {uid}",
               "snippet": "hello", "body_text": f"Hello, this is message {uid}.\n> quoted\n", "seen": uid % 3 != 0}


def build(home: Path) -> None:
    """Bulk-insert accounts, domains, deals, activities and messages straight into the schema."""
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
        deal_rows = [(i, f"Deal {i}", stages[i % len(stages)]) for i in range(2, DEALS - 1)]
        deal_rows += [(BIG_ACCOUNT, f"Big deal {n}", stages[n]) for n in range(3)]
        values = [rng.randint(1, 90) * 1000 for _ in deal_rows]
        db["deals"].insert_all(
            {"account_id": acct, "title": title, "stage": stage, "value": value, "value_minor": value * 100,
             "next_action": "follow up", "next_action_due": (TODAY + timedelta(days=rng.randint(-20, 30))).isoformat(),
             "created_utc": STAMP, "updated_utc": STAMP, "stage_changed_utc": STAMP, "last_activity_utc": STAMP}
            for (acct, title, stage), value in zip(deal_rows, values, strict=True))
        kinds = ("note", "call", "meeting", "objection")
        db["activities"].insert_all(
            {"account_id": BIG_ACCOUNT, "kind": kinds[n % 4], "date_utc": f"2026-{1 + n % 11:02d}-{1 + n % 28:02d}"
             f"T10:{n % 60:02d}:00Z", "body": f"{kinds[n % 4]} number {n}", "resolved": 0 if n % 4 == 3 else None}
            for n in range(BIG_ACTIVITIES))
        folder = db["folders"].insert({"mailbox": "bench", "name": "INBOX", "role": "inbox"}).last_pk
        db["messages"].insert_all(_messages(rng, folder), batch_size=5000)
        db["message_accounts"].insert_all(
            ({"message_id": r[0], "account_id": int(r[1].split("@acct")[1].split(".")[0]), "rule": "domain",
              "detail": r[1].split("@")[1]} for r in db.execute("SELECT id, from_addr FROM messages")),
            batch_size=5000)
    opened.close()


async def _until(pilot: Any, ready: Callable[[], bool], limit: float = 120.0) -> None:
    """Let the app run until `ready()` (checked after each refresh)."""
    deadline = time.perf_counter() + limit
    while not ready():
        if time.perf_counter() > deadline:
            raise SystemExit("bench: the screen never got ready")
        await pilot.pause()


def _painted(widget: Any) -> bool:
    """The widget is laid out and its first line has text on it."""
    return widget.size.height > 0 and bool(widget.render_line(0).text.strip())


class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("bare", id="bare")


class BigTable(App[None]):
    """A plain DataTable holding every row in memory: Textual's stock way to show a long list."""

    def compose(self) -> ComposeResult:
        yield DataTable(id="table")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("date", "from", "account", "subject")
        table.add_rows((f"2026-01-{1 + n % 28:02d}", f"Person {n % 977}", f"Account {n % 10_000:05d}",
                        f"Subject number {n}") for n in range(MESSAGES))


async def peer_bare() -> tuple[float, float]:
    """The bare app's launch, and the cost of one Pilot key press in it (the harness's own share)."""
    started = time.perf_counter()
    app = Bare()
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.query_one("#bare").size.height > 0)
        launched = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(200):
            await pilot.press("j")
        return launched, (time.perf_counter() - started) / 200


async def peer_datatable() -> float:
    started = time.perf_counter()
    app = BigTable()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        await _until(pilot, lambda: table.row_count == MESSAGES and _painted(table))
        return time.perf_counter() - started


BARE_SCRIPT = """
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("bare-ready")

Bare().run()
"""


def cold_start(argv: list[str], marker: bytes, limit: float = 60.0) -> float:
    """Seconds from exec until `marker` is written to a 160x48 pseudo-terminal."""
    import fcntl
    import os
    import select
    import struct
    import subprocess
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                             start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        while marker not in seen:
            if time.perf_counter() - started > limit:
                raise SystemExit(f"bench: {argv[0]} never showed {marker!r}")
            if select.select([master], [], [], 0.05)[0]:
                seen = seen[-4096:] + os.read(master, 65536)
        elapsed = time.perf_counter() - started
    finally:
        child.kill()  # measured; nobody answers the terminal's queries, so no polite quit
        child.wait()
        os.close(master)
    return elapsed


def cold_figures() -> tuple[float, float]:
    """Median of three cold starts each: (rapport, bare Textual app)."""
    import statistics

    rapport = [sys.executable, "-m", "rapport.tui.cli.main", "--home", str(OUT)]
    bare = [sys.executable, "-c", BARE_SCRIPT]
    ours = statistics.median(cold_start(rapport, f"Subject number {MESSAGES}".encode())
                             for _ in range(3))
    peer = statistics.median(cold_start(bare, b"bare-ready") for _ in range(3))
    return ours, peer


async def rapport_figures() -> tuple[float, float, float, float, int]:
    from rapport.tui.app.application import RapportApp

    started = time.perf_counter()
    app = RapportApp(str(OUT), today=TODAY, sync_on_start=False, sync_interval=0)
    async with app.run_test(size=SIZE) as pilot:
        inbox = app.screen.query_one("#inbox")
        await _until(pilot, lambda: inbox.row_count == MESSAGES and _painted(inbox))
        launched = time.perf_counter() - started

        await pilot.press("tab")  # warm up where the keys go: the inbox
        assert app.focused is inbox
        await pilot.press("j", "j", "j")
        started = time.perf_counter()
        pages = 500
        for _ in range(pages):
            await pilot.press("pagedown")
        await pilot.pause()
        per_page = (time.perf_counter() - started) / pages
        assert inbox.cursor > pages, "page-down did not move the inbox cursor"

        started = time.perf_counter()
        app.open_account(BIG_ACCOUNT)
        await _until(pilot, lambda: bool(app.screen.query("#timeline"))
                     and _painted(app.screen.query_one("#timeline")))
        opened = time.perf_counter() - started
        timeline = app.screen.query_one("#timeline")
        rows = timeline.row_count
        started = time.perf_counter()
        await pilot.press("end")
        await _until(pilot, lambda: timeline.cursor == rows - 1 and timeline.render_line(
            timeline.scrollable_content_region.height - 1).text.strip() != "")
        to_end = time.perf_counter() - started
    return launched, opened, to_end, per_page, rows


def main() -> int:
    if not (OUT / "config.toml").exists():
        print(f"building {MESSAGES} messages / {ACCOUNTS} accounts in {OUT} ...", file=sys.stderr)
        t = time.perf_counter()
        build(OUT)
        print(f"built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    bare, press = asyncio.run(peer_bare())
    table = asyncio.run(peer_datatable())
    launched, opened, to_end, per_page, rows = asyncio.run(rapport_figures())
    cold, cold_bare = cold_figures()
    print(f"{'':34}{'ours':>10}  {'target/peer':>12}")
    print(f"{'launch to first inbox rows':34}{launched * 1000:8.0f} ms  target {LAUNCH_TARGET * 1000:.0f} ms"
          f"  ({MESSAGES:,} messages, {ACCOUNTS:,} accounts)")
    print(f"{'peer: bare Textual app launch':34}{bare * 1000:8.0f} ms")
    print(f"{'peer: DataTable, 100k rows, paint':34}{table * 1000:8.0f} ms")
    print(f"{'cold start in a terminal':34}{cold * 1000:8.0f} ms  (exec to newest subject shown;"
          " neomutt/aerc: 1.0 s)")
    print(f"{'peer: bare Textual app, cold':34}{cold_bare * 1000:8.0f} ms  (brief: 0.3 s)")
    print(f"{'open the biggest account':34}{opened * 1000:8.0f} ms  ({rows:,} timeline lines)")
    print(f"{'its timeline: end (oldest line)':34}{to_end * 1000:8.0f} ms")
    print(f"{'inbox page-down':34}{per_page * 1000:8.1f} ms  per page (500 pages)")
    print(f"{'peer: a key press, bare app':34}{press * 1000:8.1f} ms  (Pilot's own cost per key)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
