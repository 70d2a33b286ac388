"""kill -9 of `rapport sync` at exact points of its IMAP conversation (inside the header and
the text fetches of a batch, chosen by counting the commands a relay saw), with the server
changing in between: the final run ends with exactly the server's messages, none twice, and an
intact database."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from dovecot_server import DovecotUser, make_message
from sync_helpers import (
    UNREADABLE,
    TcpProxy,
    fail_to_decode,
    run_sync,
    server_state,
    stored,
    write_config,
)

from rapport.mail.config import parse_mailbox
from rapport.mail.sync.events import FolderDone
from rapport.mail.sync.mailbox import sync_mailbox
from rapport.store.session import open_workspace

pytestmark = pytest.mark.dovecot

BATCH = 50
TOTAL = 3000


def _stored_count(db_path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _kill_mid_sync(home: Path, proxy: TcpProxy, fetches: int) -> int | None:
    """Start a sync and kill -9 it the moment it sends its `fetches`-th UID FETCH (before the
    server sees it: the sync is then waiting inside a fetch, its batch half done).

    Returns the stored count at the kill, or None if the sync finished first. Where the kill
    lands is decided by the IMAP conversation, not by a clock: the same on every run.
    """
    env = {**os.environ, "RAPPORT_SYNC_BATCH": str(BATCH)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rapport.tui.cli.main", "sync", "--home", str(home), "-q"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    killed: list[int] = []

    def kill() -> None:
        killed.append(_stored_count(home / "rapport.db"))
        proc.send_signal(signal.SIGKILL)

    proxy.before_forwarding(b"UID FETCH", kill, nth=fetches)
    try:
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not killed:
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        return None
    return killed[0]


def test_kill_9_mid_fetch_then_rerun_ends_with_exactly_the_servers_messages(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = TcpProxy(imap_user.server.plain_port)
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(port=proxy.port, folders=["INBOX"])])
    imap_user.deliver(make_message(n, message_id=f"m{n}@test.example") for n in range(TOTAL))
    rng = random.Random(20261102)  # fixed seed: the same expunges on every run
    killed_mid_sync = 0
    # Each batch is two FETCHes (headers and structure, then text parts): an odd count kills
    # while headers are asked for, an even one while texts are; later runs also FETCH flags.
    for round_number, fetches in enumerate((3, 8, 2, 13, 6, 21, 4, 9)):
        at_kill = _kill_mid_sync(home, proxy, fetches)
        if at_kill is not None and at_kill < TOTAL:
            killed_mid_sync += 1
        after = _stored_count(home / "rapport.db")
        if round_number < 3:
            # Nothing expunged yet: only whole committed batches can be on disk.
            assert after % BATCH == 0 or after == TOTAL, after
        if round_number % 3 == 2:
            # The server moves on between runs: some stored and some unsynced mail goes away,
            # new mail arrives.
            on_server = sorted(imap_user.server_messages())
            imap_user.expunge(rng.sample(on_server, 5))
            imap_user.append([make_message(10_000 + round_number * 10 + i) for i in range(3)])
    assert killed_mid_sync >= 4  # the kills really interrupted syncs in progress

    code, _out, err = run_sync(home, capsys, "-q")
    proxy.close()

    assert (code, err) == (0, "")
    local = stored(home)
    assert local == server_state(imap_user)
    ids = [message_id for message_id, *_ in local.values()]
    assert len(ids) == len(set(ids)) == TOTAL - 2 * 5 + 2 * 3  # two rounds of changes
    with sqlite3.connect(home / "rapport.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        assert conn.execute(
            "SELECT count(*) FROM message_addresses WHERE message_id NOT IN "
            "(SELECT id FROM messages)").fetchone() == (0,)


def test_a_batch_that_fails_to_commit_keeps_neither_its_messages_nor_its_skips(
    tmp_path: Path, imap_user: DovecotUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The skip records are written in their batch's transaction: a batch that fails at its
    last statement (the folder state) leaves no record of a skip it never committed."""
    fail_to_decode(monkeypatch, {UNREADABLE})
    imap_user.append([make_message(1), make_message(2, subject=UNREADABLE), make_message(3)])
    cfg = parse_mailbox(imap_user.mailbox_config(folders=["INBOX"]), 1)
    home = tmp_path / "ws"
    opened = open_workspace(home)
    db = opened.db
    counts = ("SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM skipped_messages),"
              " (SELECT coalesce(max(last_uid), 0) FROM folders)")
    events: list[object] = []
    try:
        # SQLite itself refuses the batch's folder update (as a full disk would).
        db.execute("CREATE TEMP TRIGGER refuse_state BEFORE UPDATE OF last_uid ON folders"
                   " BEGIN SELECT RAISE(ABORT, 'disk full, say'); END")
        # The error stays in its folder: reported in one line, never raised (issue 12).
        failed = sync_mailbox(db, cfg, my_addresses=frozenset())
        assert [f.error for f in failed.folders] == [
            "mailbox 'test', folder 'INBOX': sync failed: IntegrityError: disk full, say"]
        assert db.execute(counts).fetchone() == (0, 0, 0)
        db.execute("DROP TRIGGER refuse_state")
        assert sync_mailbox(db, cfg, my_addresses=frozenset()).ok
        assert db.execute(counts).fetchone() == (2, 1, 3)
        assert sync_mailbox(db, cfg, my_addresses=frozenset(), report=events.append).ok
    finally:
        opened.close()
    assert [e.unchanged for e in events if isinstance(e, FolderDone)] == [True]
