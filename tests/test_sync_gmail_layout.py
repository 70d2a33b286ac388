"""A Gmail-style layout on a real Dovecot: `[Gmail]/All Mail` (\\All) holds a copy of every
message, so one message sits in several synced folders and must be ONE message in Rapport
(issue 11): counted, searched, listed and threaded once, its flags one, and kept as long as any
synced folder still holds it (archiving in Gmail only takes it out of INBOX)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dovecot_server import DovecotServer, DovecotUser, make_message
from sync_helpers import run_sync, write_config

from rapport.store.book import accounts
from rapport.store.session import open_workspace
from rapport.store.views import queries
from rapport.tui.cli.main import main

pytestmark = pytest.mark.dovecot

ALL_MAIL = "[Gmail]/All Mail"


class GmailStyleDovecot(DovecotServer):
    """The session's Dovecot config plus an auto-created folder flagged \\All."""

    def config_text(self) -> str:
        return super().config_text().replace("  mailbox Trash {", (
            '  mailbox "[Gmail]/All Mail" {\n    special_use = \\All\n    auto = subscribe\n  }\n'
            "  mailbox Trash {"), 1)


@pytest.fixture(scope="module")
def gmail_server() -> Iterator[DovecotServer]:
    from dovecot_server import DOVECOT, OPENSSL

    if DOVECOT is None or OPENSSL is None:
        pytest.skip("dovecot or openssl is not installed (`make test` installs them as root)")
    root = Path(tempfile.mkdtemp(prefix="rapport-gmail-"))
    server = GmailStyleDovecot(root)
    try:
        server.start()
    except RuntimeError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"dovecot could not start here: {exc}")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def _cli(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> str:
    capsys.readouterr()
    assert main([argv[0], "--home", str(home), *argv[1:]]) == 0
    return capsys.readouterr().out


def _status(capsys: pytest.CaptureFixture[str], home: Path) -> tuple[int, dict[str, int]]:
    data = json.loads(_cli(capsys, home, "status", "--json"))
    return data["messages"], {f["folder"]: f["messages"] for f in data["folders"]}


def _rows(home: Path) -> dict[str, tuple[int, int, int]]:
    """Message-ID -> (row id, seen, flagged) of every stored message."""
    with sqlite3.connect(home / "rapport.db") as conn:
        return {mid: (row_id, seen, flagged) for mid, row_id, seen, flagged in conn.execute(
            "SELECT message_id, id, seen, flagged FROM messages")}


def _uid_of(user: DovecotUser, folder: str, message_id: str) -> int:
    [uid] = [uid for uid, header in user.server_messages(folder).items()
             if message_id.encode() in header]
    return uid


@pytest.fixture
def gmail_user(gmail_server: DovecotServer, home: Path) -> DovecotUser:
    """INBOX holds offers 1-3; All Mail holds them, offer 4 (archived) and the sent reply."""
    user = gmail_server.add_user()
    inbox = [make_message(n, subject=f"Offer {n}", message_id=f"offer-{n}@acme.example")
             for n in (1, 2, 3)]
    archived = make_message(4, subject="Offer 4", message_id="offer-4@acme.example")
    sent = make_message(5, subject="Re: Offer 1", sender="me@rapport.example",
                        to="alice@acme.example", message_id="reply-1@rapport.example")
    user.append(inbox)
    user.append([*inbox, archived, sent], folder=ALL_MAIL)
    user.append([sent], folder="Sent Items", flags=[b"\\Seen"])
    write_config(home, [user.mailbox_config()])
    return user


def test_a_message_in_many_folders_is_one_message(
    home: Path, gmail_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_sync(home, capsys)
    assert (code, err) == (0, "")

    messages, folders = _status(capsys, home)
    assert messages == 5  # offers 1-4 and the reply, whatever folders hold them
    assert folders == {"INBOX": 3, ALL_MAIL: 5, "Sent Items": 1, "Drafts": 0}
    hits = json.loads(_cli(capsys, home, "search", "Offer", "--json"))
    assert sorted(h["message_id"] for h in hits) == [
        "offer-1@acme.example", "offer-2@acme.example", "offer-3@acme.example",
        "offer-4@acme.example", "reply-1@rapport.example"]
    opened = open_workspace(home)
    try:
        acme = accounts.create_account(opened.db, "Acme", domains=["acme.example"])
        index = queries.timeline_index(opened.db, acme.id)
        assert queries.inbox_count(opened.db) == 4  # offers 1-4, once each
    finally:
        opened.close()
    threads = [e for e in index.entries if e.kind == "thread"]
    assert len(threads) == 5 and {e.count for e in threads} == {1}  # never "(2 messages)"
    exported = list(csv.DictReader(io.StringIO(_cli(capsys, home, "export", "messages"))))
    assert len(exported) == 5 and "folder" not in exported[0]
    folders_of = {row["message_id"]: row["folders"] for row in exported}
    assert folders_of["offer-1@acme.example"] == f"test/INBOX; test/{ALL_MAIL}"
    assert folders_of["offer-4@acme.example"] == f"test/{ALL_MAIL}"
    assert folders_of["reply-1@rapport.example"] == f"test/Sent Items; test/{ALL_MAIL}"


def test_archived_expunged_and_flagged_copies(
    home: Path, gmail_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_sync(home, capsys)[0] == 0
    before = _rows(home)

    # Archived in Gmail: out of INBOX, still in All Mail. Deleted: gone from every folder.
    gmail_user.expunge([_uid_of(gmail_user, "INBOX", "offer-1@acme.example")])
    gmail_user.expunge([_uid_of(gmail_user, "INBOX", "offer-2@acme.example")])
    gmail_user.expunge([_uid_of(gmail_user, ALL_MAIL, "offer-2@acme.example")], folder=ALL_MAIL)
    # Read in one copy (INBOX), still unread in the other (All Mail): read in Rapport.
    gmail_user.set_flags([_uid_of(gmail_user, "INBOX", "offer-3@acme.example")], [b"\\Seen"])
    code, _out, err = run_sync(home, capsys)
    assert (code, err) == (0, "")

    after = _rows(home)
    assert "offer-2@acme.example" not in after
    assert after["offer-1@acme.example"] == before["offer-1@acme.example"]  # same id, kept
    assert after["offer-3@acme.example"] == (before["offer-3@acme.example"][0], 1, 0)
    messages, folders = _status(capsys, home)
    assert messages == 4 and folders["INBOX"] == 1 and folders[ALL_MAIL] == 4
    # A sync that reads All Mail's unchanged (unread) copy again keeps it read.
    assert run_sync(home, capsys)[0] == 0
    assert _rows(home)["offer-3@acme.example"][1:] == (1, 0)


def test_two_different_messages_sharing_a_message_id_stay_two(
    home: Path, gmail_server: DovecotServer, capsys: pytest.CaptureFixture[str]
) -> None:
    user = gmail_server.add_user()
    user.append([make_message(1, subject="Invoice", message_id="same@broken.example"),
                 make_message(2, subject="Reminder", message_id="same@broken.example")])
    write_config(home, [user.mailbox_config()])
    assert run_sync(home, capsys)[0] == 0
    messages, folders = _status(capsys, home)
    assert messages == 2 and folders["INBOX"] == 2
