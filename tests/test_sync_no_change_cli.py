"""`rapport sync` with nothing new on the server (issue 15): one STATUS per folder, the state
stamped, and none of the mail parsing nor sqlite-utils loaded; as soon as anything changed (a
flag, a new message, an expunge), the same command syncs it in full. What each run loads is
asserted, never how long it takes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from dovecot_server import DovecotUser, make_message
from sync_helpers import run_sync, server_state, stored, write_config

pytestmark = pytest.mark.dovecot

# What a sync needs only when a folder has something to fetch or change.
NOT_LOADED = ("sqlite_utils", "rapport.mail.sync.fetch", "rapport.mail.message.decode",
              "rapport.mail.message.html_text", "jinja2", "dateutil", "rapport.store.book.contacts",
              "rapport.store.mailstore.messages", "rapport.store.mailstore.bounces")


def sync_in_subprocess(home: Path) -> tuple[int, str, list[str]]:
    """`rapport sync --home HOME` in a fresh interpreter: exit code, stdout, and which modules
    of NOT_LOADED it imported."""
    script = ("import sys\nfrom rapport.tui.cli.main import main\ncode = main(sys.argv[1:])\n"
              f"print('LOADED', [m for m in {NOT_LOADED!r} if m in sys.modules], file=sys.stderr)\n"
              "sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", script, "sync", "--home", str(home)],
                            capture_output=True, text=True, timeout=120)
    loaded = result.stderr.split("LOADED ", 1)[1].strip()
    return result.returncode, result.stdout, json.loads(loaded.replace("'", '"'))


def folder_stamps(home: Path) -> dict[str, tuple[str, int, int, int]]:
    with sqlite3.connect(home / "rapport.db") as conn:
        return {name: (stamp, uidvalidity, last_uid, modseq) for name, stamp, uidvalidity, last_uid, modseq
                in conn.execute("SELECT name, last_sync_utc, uidvalidity, last_uid, highestmodseq FROM folders")}


def test_a_no_change_sync_stamps_the_folders_and_loads_no_parser(
    home: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(home, [imap_user.mailbox_config()])
    imap_user.append(make_message(n) for n in range(1, 4))
    assert run_sync(home, capsys)[0] == 0
    before, messages = folder_stamps(home), stored(home)
    code, out, loaded = sync_in_subprocess(home)
    assert code == 0 and loaded == []
    assert "test/INBOX: up to date" in out
    after = folder_stamps(home)
    assert stored(home) == messages
    assert {name: state[1:] for name, state in after.items()} == {name: state[1:] for name, state in before.items()}
    assert all(after[name][0] >= before[name][0] for name in before)  # the last sync is now


def test_after_a_flag_a_new_message_and_an_expunge_the_same_command_syncs_them(
    home: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(home, [imap_user.mailbox_config()])
    imap_user.append(make_message(n) for n in range(1, 4))
    assert run_sync(home, capsys)[0] == 0
    imap_user.set_flags([1], [b"\\Flagged"])
    imap_user.expunge([2])
    imap_user.append([make_message(9)])
    code, out, loaded = sync_in_subprocess(home)
    assert code == 0 and "sqlite_utils" in loaded  # the probe sees what a real sync loads
    assert "test/INBOX: up to date" not in out
    assert stored(home) == server_state(imap_user)
    assert sorted(stored(home)) == [1, 3, 4] and stored(home)[1][3] == 1
    code, out, loaded = sync_in_subprocess(home)  # and then nothing is new again
    assert code == 0 and loaded == [] and "test/INBOX: up to date" in out
