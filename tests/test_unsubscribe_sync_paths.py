"""Every way mail comes in applies `[announce]`'s unsubscribe rules, as `rapport sync` does:
`--watch` over IMAP (a real Dovecot) and over a Maildir, and the TUI's background sync (Pilot);
a bad `[announce]` refuses the sync in one line instead of letting requests go unrecognised."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dovecot_server import DovecotUser, make_message
from sync_helpers import run_sync, stored, write_config

from rapport.mail.config import parse_mailbox
from rapport.mail.sync.watch import watch_mailbox
from rapport.store.book.accounts import create_account
from rapport.store.book.contacts import create_contact
from rapport.store.session import open_workspace

pytestmark = pytest.mark.dovecot

ME = "me@rapport.example"
STOP_BOX = "stop@rapport.example"  # not one of mine: any mail to it is a request
CARL = "carl@partner.example"
DORA = "dora@partner.example"


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _workspace(home: Path, mailboxes: list[dict[str, object]],
               maildirs: list[dict[str, object]] | None = None,
               announce: str = f'unsubscribe_address = "{STOP_BOX}"') -> None:
    write_config(home, mailboxes, me=ME, maildirs=maildirs or [])
    with (home / "config.toml").open("a") as config:
        config.write(f"\n[announce]\n{announce}\n")
    opened = open_workspace(home)
    partner = create_account(opened.db, "Partner")
    create_contact(opened.db, account_id=partner.id, name="Carl", emails=[CARL])
    create_contact(opened.db, account_id=partner.id, name="Dora", emails=[DORA])
    opened.close()


def _request(n: int, sender: str) -> bytes:
    return make_message(n, sender=sender, to=STOP_BOX, subject="please take me off",
                        body="No more of these, thanks.\r\n")


def _opted_out(home: Path) -> set[str]:
    with sqlite3.connect(home / "rapport.db") as conn:
        rows = conn.execute("SELECT ce.email FROM contacts c JOIN contact_emails ce"
                            " ON ce.contact_id = c.id WHERE c.opted_out = 1").fetchall()
    return {r[0] for r in rows}


def _pending_requests(home: Path) -> list[str]:
    with sqlite3.connect(home / "rapport.db") as conn:
        return [r[0] for r in conn.execute(
            "SELECT address FROM optout_requests WHERE acknowledged_utc IS NULL ORDER BY id")]


def _maildir_with(root: Path, raw: bytes) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "new" / "1.request.test").write_bytes(raw)
    return root


def test_a_watched_mailbox_turns_an_unsubscribe_request_into_an_opt_out(
        tmp_path: Path, imap_user: DovecotUser) -> None:
    home = tmp_path / "ws"
    table = imap_user.mailbox_config("work", folders=["INBOX"])
    _workspace(home, [table])
    imap_user.append([_request(1, CARL)])
    opened = open_workspace(home)
    stop = threading.Event()
    thread = threading.Thread(target=watch_mailbox, args=(opened, parse_mailbox(table, 1)),
                              kwargs={"interval": 600, "report": lambda _e: None,
                                      "should_stop": stop.is_set})
    thread.start()
    try:
        assert _wait_for(lambda: len(stored(home)) == 1)
    finally:
        stop.set()
        thread.join(30)
        opened.close()
    assert _opted_out(home) == {CARL}
    assert _pending_requests(home) == [CARL]


def test_sync_watch_applies_the_rules_to_imap_and_maildir_sources(
        tmp_path: Path, imap_user: DovecotUser) -> None:
    home = tmp_path / "ws"
    maildir = _maildir_with(tmp_path / "local", _request(2, DORA))
    _workspace(home, [imap_user.mailbox_config("work", folders=["INBOX"])],
               [{"name": "local", "path": str(maildir)}])
    imap_user.append([_request(3, CARL)])
    watcher = subprocess.Popen(
        [sys.executable, "-m", "rapport.tui.cli.main", "sync", "--home", str(home), "--watch",
         "--interval", "600", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Both sources synced: each batch saves its messages and their opt-outs together.
        assert _wait_for(lambda: len(_all_messages(home)) == 2)
    finally:
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=30)
    assert (watcher.returncode, out, err) == (130, "", "rapport: interrupted\n")
    assert _opted_out(home) == {CARL, DORA}


def _all_messages(home: Path) -> list[str]:
    with sqlite3.connect(home / "rapport.db") as conn:
        return [r[0] for r in conn.execute("SELECT message_id FROM messages")]


def test_rapport_sync_applies_the_rules(tmp_path: Path, imap_user: DovecotUser,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The reference path the others must match."""
    home = tmp_path / "ws"
    _workspace(home, [imap_user.mailbox_config("work", folders=["INBOX"])])
    imap_user.append([_request(4, CARL)])
    code, _out, err = run_sync(home, capsys, "-q")
    assert (code, err) == (0, "")
    assert _opted_out(home) == {CARL}


BAD_ANNOUNCE = f'unsubscribe_address = "{STOP_BOX}"\nunsubscribe_url = "http://example.com/stop"'
REFUSAL = ("rapport: config.toml: [announce] unsubscribe_url must be an https:// link, not "
           "'http://example.com/stop'; nothing synced, so that no unsubscribe request goes "
           "unrecognised (fix [announce], then sync)\n")


def test_a_bad_announce_table_refuses_the_sync_in_one_line(
        tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    _workspace(home, [imap_user.mailbox_config("work", folders=["INBOX"])],
               announce=BAD_ANNOUNCE)
    imap_user.append([_request(5, CARL)])
    code, out, err = run_sync(home, capsys)
    assert (code, out, err) == (2, "", REFUSAL)
    assert _all_messages(home) == []  # left on the server for a sync with the rules
    watch = subprocess.run(
        [sys.executable, "-m", "rapport.tui.cli.main", "sync", "--home", str(home), "--watch"],
        capture_output=True, text=True, timeout=60)
    assert (watch.returncode, watch.stdout, watch.stderr) == (2, "", REFUSAL)

    # Fixed, the next sync brings the request in and honours it.
    config = home / "config.toml"
    config.write_text(config.read_text().replace("http://", "https://"))
    code, _out, err = run_sync(home, capsys, "-q")
    assert (code, err) == (0, "")
    assert _opted_out(home) == {CARL}


def _tui_sync(home: Path) -> tuple[str, list[str], list[str]]:
    """The TUI's background sync at start, on a real terminal size: (its status, the
    notifications, the Today lines)."""
    import asyncio

    from rapport.store.views import today as today_view
    from rapport.tui.app.application import RapportApp
    from tests.tui_workspace import TODAY

    found: list[tuple[str, list[str], list[str]]] = []

    async def run() -> None:
        app = RapportApp(str(home), today=TODAY, sync_on_start=True, sync_interval=0)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(600):  # up to 30 s: a first IMAP sync on a loaded machine
                await pilot.pause(0.05)
                if app.sync_status.startswith(("synced", "sync failed")):
                    break
            await pilot.press("t")
            await pilot.pause()
            today = [item.text for item in today_view.today_items(app.opened.db, TODAY, 30)
                     if item.section == "opt-out"]
            found.append((app.sync_status, [n.message for n in app._notifications], today))

    asyncio.run(run())
    return found[0]


def test_the_tuis_background_sync_applies_the_rules(tmp_path: Path,
                                                    imap_user: DovecotUser) -> None:
    home = tmp_path / "ws"
    _workspace(home, [imap_user.mailbox_config("work", folders=["INBOX"])])
    imap_user.append([_request(6, CARL)])
    status, notes, today = _tui_sync(home)
    assert status.startswith("synced"), (status, notes)
    assert today == [f"Carl <{CARL}> opted out: please take me off"]
    assert _opted_out(home) == {CARL}


def test_the_tui_says_why_a_bad_announce_table_stops_its_sync(tmp_path: Path,
                                                              imap_user: DovecotUser) -> None:
    home = tmp_path / "ws"
    _workspace(home, [imap_user.mailbox_config("work", folders=["INBOX"])],
               announce=BAD_ANNOUNCE)
    imap_user.append([_request(7, CARL)])
    status, notes, today = _tui_sync(home)
    assert status.startswith("sync failed")
    assert notes == [REFUSAL.removeprefix("rapport: ").rstrip("\n")]
    assert (today, _all_messages(home)) == ([], [])
