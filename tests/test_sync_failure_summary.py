"""`rapport sync` repeats every failure at the end, after the per-folder lines, so a long sync
does not scroll them away (issue 12): real Dovecot mailboxes that fail in different ways."""

from __future__ import annotations

from pathlib import Path

import pytest
from dovecot_server import DovecotServer, make_message
from sync_helpers import run_sync, stored, write_config

pytestmark = pytest.mark.dovecot


def test_every_failure_is_said_again_at_the_end(
        tmp_path: Path, dovecot: DovecotServer, capsys: pytest.CaptureFixture[str]) -> None:
    good, locked_out = dovecot.add_user(), dovecot.add_user()
    uids = good.append([make_message(n) for n in range(1, 4)])
    good.make_unreadable(uids[2])  # skipped, which is no failure: counted at the end
    with dovecot.client(good) as client:
        client.create_folder("Archive")
    good.append([make_message(4)], folder="Archive")
    missing = tmp_path / "no-such-maildir"
    home = tmp_path / "ws"
    write_config(home, [
        locked_out.mailbox_config("locked", password_command=["echo", "wrong"]),
        good.mailbox_config("good", folders=["INBOX", "Archive", "Projects"]),
    ], maildirs=[{"name": "local", "path": str(missing)}])

    code, out, err = run_sync(home, capsys)

    assert code == 1
    assert "good/INBOX: 3 new" in out and "good/Archive: 1 new" in out
    lines = err.splitlines()
    skipped = lines.pop(1)
    assert skipped.startswith(f"rapport: mailbox 'good', folder 'INBOX': message UID {uids[2]} "
                              "skipped: the server failed to send it")
    said = lines[:3]  # as they happened, in order
    assert said[0].startswith("rapport: mailbox 'locked': login failed")
    assert said[1].startswith("rapport: mailbox 'good', folder 'Projects': ")
    assert said[2] == f"rapport: maildir 'local': {missing} is not a directory"
    assert lines[3:] == [
        "rapport: sync incomplete, 3 failures:",
        "rapport:   locked: " + said[0].removeprefix("rapport: mailbox 'locked': "),
        "rapport:   good/Projects: " + said[1].removeprefix(
            "rapport: mailbox 'good', folder 'Projects': "),
        f"rapport:   local: {missing} is not a directory",
        "rapport:   and 1 message skipped (rapport status lists them)",
    ]
    assert len(stored(home)) == 2  # the good mailbox's INBOX but the unreadable one

    # -q prints failures only: when nothing came between them, no block repeats them.
    good.make_readable(uids[2])
    code, out, err = run_sync(home, capsys, "-q")
    assert (code, out) == (1, "")
    assert err.splitlines() == said
    assert len(stored(home)) == 3  # the skipped message, asked for again
