"""IMAP sync against a real Courier-IMAP (tests/courier_server.py), the second server beside
Dovecot: its quoted FETCH keys and its UIDVALIDITY that changes on every EXAMINE of a folder
never opened read-write."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest
from courier_server import CourierUser
from dovecot_server import make_message
from sync_helpers import run_sync, server_state, stored, write_config

pytestmark = pytest.mark.courier


def _rows(home: Path, folder: str = "INBOX") -> dict[str, tuple[int, str, str, str]]:
    """Message-ID -> (row id, From address, Subject, Date) of one folder as stored."""
    with sqlite3.connect(home / "rapport.db") as conn:
        rows = conn.execute(
            "SELECT m.message_id, m.id, m.from_addr, m.subject, m.date_utc FROM messages m "
            "JOIN folders f ON f.id = m.folder_id WHERE f.name = ?", [folder]).fetchall()
    return {mid: (row_id, addr, subject, date) for mid, row_id, addr, subject, date in rows}


def test_courier_quoted_header_keys_are_read(
    home: Path, courier_user: CourierUser, capsys: pytest.CaptureFixture[str]
) -> None:
    courier_user.append([make_message(n, subject=f"Offer {n}") for n in range(1, 4)])
    courier_user.append([make_message(4)], flags=[b"\\Seen", b"\\Flagged"])
    write_config(home, [courier_user.mailbox_config()])

    code, out, err = run_sync(home, capsys)

    assert (code, err) == (0, "")
    assert "courier/INBOX: 4 new" in out
    assert stored(home) == server_state(courier_user)
    rows = _rows(home)
    assert len(rows) == 4  # four Message-IDs, not one made-up id for all
    _id, addr, subject, date = rows[f"msg-1-{os.getpid()}@test.example"]
    assert (addr, subject, date) == ("alice@acme.example", "Offer 1", "2026-11-02T10:01:00Z")


def test_courier_folder_never_opened_read_write_keeps_its_message_ids(
    home: Path, courier_user: CourierUser, capsys: pytest.CaptureFixture[str]
) -> None:
    """Courier hands out a new UIDVALIDITY on every EXAMINE until a folder is SELECTed once:
    Rapport re-identifies what it has, then opens the folder read-write once."""
    courier_user.deliver(make_message(n) for n in range(1, 4))
    first = courier_user.examine()
    time.sleep(1.1)  # Courier's UIDVALIDITY is a clock: a second later it differs
    assert courier_user.examine() != first  # the behaviour this test is about
    write_config(home, [courier_user.mailbox_config()])
    assert run_sync(home, capsys)[0] == 0
    before = _rows(home)
    assert len(before) == 3

    time.sleep(1.1)
    courier_user.deliver([make_message(4)])
    code, out, err = run_sync(home, capsys)

    assert (code, err) == (0, "")
    assert "UIDVALIDITY changed: 3 re-identified, 1 fetched" in out
    after = _rows(home)
    assert {k: v for k, v in after.items() if k in before} == before  # same ids: `search
    assert len(after) == 4  # --json` ids go on working; the new message fetched once
    before = after

    time.sleep(1.1)
    code, out, _err = run_sync(home, capsys)
    assert code == 0 and "UIDVALIDITY changed: 4 re-identified, 0 fetched" in out
    assert _rows(home) == before
    assert stored(home) == server_state(courier_user)
    # Changed again: the folder was opened read-write once, and from then on it is stable.
    stable = courier_user.examine()
    time.sleep(1.1)
    assert courier_user.examine() == stable
    code, out, _err = run_sync(home, capsys)
    assert code == 0 and "UIDVALIDITY changed" not in out and _rows(home) == before
