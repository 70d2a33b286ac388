"""kill -9 during `rapport sync`, then a rerun: exactly the server's messages, none twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dovecot_server import DovecotUser, make_message
from sync_helpers import run_sync, server_state, stored, write_config

pytestmark = pytest.mark.dovecot


def _stored_count(db_path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_kill_9_mid_sync_then_rerun_ends_with_exactly_the_servers_messages(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config()])
    imap_user.append(make_message(n) for n in range(1, 41))
    env = {
        **os.environ,
        "RAPPORT_SYNC_BATCH": "5",
        # Test-only hook of mail/sync.py: pause after each committed batch so the kill lands
        # mid-folder, between and during batches.
        "RAPPORT_SYNC_TEST_DELAY": "0.3",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "rapport.tui.cli.main", "sync", "--home", str(home)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while _stored_count(home / "rapport.db") < 10 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        time.sleep(0.15)  # land somewhere inside the next batch's fetch or pause
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    partial = _stored_count(home / "rapport.db")
    assert 10 <= partial < 40 and partial % 5 == 0  # whole batches only

    imap_user.append([make_message(41)])  # and the server moves on meanwhile
    code, _out, err = run_sync(home, capsys)

    assert (code, err) == (0, "")
    local = stored(home)
    assert local == server_state(imap_user)
    ids = [message_id for message_id, *_ in local.values()]
    assert len(ids) == len(set(ids)) == 41
