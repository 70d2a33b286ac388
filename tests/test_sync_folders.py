"""Which folders a mailbox syncs: SPECIAL-USE flags first, common names as the fallback (also on
a real Dovecot that flags none)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from dovecot_server import (
    DovecotServer,
    dovecot_no_special_use_fixture,  # noqa: F401 - the fixture, for this module
    make_message,
)
from sync_helpers import run_sync, stored, write_config

from rapport.mail.sync.imap import find_special_folders


def test_special_use_flags_win_over_names() -> None:
    listed = [((b"\\HasNoChildren",), "INBOX"), ((b"\\HasNoChildren",), "Sent"),
              ((b"\\Sent",), "Gesendete Objekte"), ((b"\\Drafts",), "Entwürfe")]
    assert find_special_folders(None, listed) == {"sent": "Gesendete Objekte",  # type: ignore[arg-type]
                                                  "drafts": "Entwürfe"}


def test_common_names_are_the_fallback_without_special_use() -> None:
    listed = [((), "INBOX"), ((), "INBOX.Drafts"), ((), "sent items"), ((), "Archive")]
    assert find_special_folders(None, listed) == {"sent": "sent items",  # type: ignore[arg-type]
                                                  "drafts": "INBOX.Drafts"}
    assert find_special_folders(None, [((), "INBOX")]) == {}  # type: ignore[arg-type]


@pytest.mark.dovecot
def test_a_server_without_special_use_syncs_sent_and_drafts_found_by_name(
    tmp_path: Path, dovecot_no_special_use: DovecotServer, capsys: pytest.CaptureFixture[str]
) -> None:
    user = dovecot_no_special_use.add_user()
    with dovecot_no_special_use.client(user) as client:
        for name in ("Sent", "Drafts", "Archive"):
            client.create_folder(name)
        assert not any(b"\\Sent" in flags or b"\\Drafts" in flags
                       for flags, _sep, _name in client.list_folders())
    user.append([make_message(1)])
    user.append([make_message(2, sender="me@rapport.example")], folder="Sent")
    user.append([make_message(3)], folder="Drafts", flags=[b"\\Draft"])
    user.append([make_message(4)], folder="Archive")
    home = tmp_path / "ws"
    write_config(home, [user.mailbox_config()])

    code, out, err = run_sync(home, capsys)

    assert (code, err) == (0, "")
    with sqlite3.connect(home / "rapport.db") as conn:
        folders = dict(conn.execute("SELECT name, role FROM folders").fetchall())
    assert folders == {"INBOX": "inbox", "Sent": "sent", "Drafts": "drafts"}  # not Archive
    assert [len(stored(home, name)) for name in ("INBOX", "Sent", "Drafts")] == [1, 1, 1]
