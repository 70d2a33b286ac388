"""Tests the `rapport` process itself: one-line errors, exit codes, `status --json`."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rapport.store.book import accounts, deals
from rapport.store.session import open_workspace


def rapport(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rapport.tui.cli.main", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rapport: ")
    for needle in needles:
        assert needle in lines[0]


def test_missing_import_file(home: Path) -> None:
    result = rapport("--home", str(home), "import", "accounts", str(home / "nope.csv"))
    assert_one_line_error(result, "nope.csv", "no such file")
    assert result.returncode == 2


def test_unreadable_config(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / "config.toml").write_bytes(b'[me]\nname = "\xff\xfe"\n')
    assert_one_line_error(rapport("--home", str(home), "status"), "config.toml")
    (home / "config.toml").unlink()
    (home / "config.toml").mkdir()  # a folder where the file should be: unreadable either way
    assert_one_line_error(rapport("--home", str(home), "status"), "cannot read", "config.toml")


def test_bad_toml_reports_its_line(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("[me]\nname = 'x'\n\n[pipeline\nstages = []\n")
    assert_one_line_error(rapport("--home", str(home), "status"), "invalid TOML", "line 4")


def test_locked_database_is_one_line(home: Path, tmp_path: Path) -> None:
    open_workspace(home).close()
    csv = tmp_path / "a.csv"
    csv.write_text("name\nACME\n")
    holder = sqlite3.connect(home / "rapport.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = rapport("--home", str(home), "import", "accounts", str(csv),
                         env={"RAPPORT_BUSY_TIMEOUT_MS": "300"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_one_line_error(result, "locked")
    # Once the lock is gone the same command works.
    assert rapport("--home", str(home), "import", "accounts", str(csv)).returncode == 0


def test_status_json_contract(home: Path) -> None:
    opened = open_workspace(home)
    acme = accounts.create_account(opened.db, "ACME")
    pipeline = opened.config.pipeline
    deals.create_deal(opened.db, acme.id, "One", "Closing", pipeline=pipeline)
    deals.create_deal(opened.db, acme.id, "Two", "Closing", pipeline=pipeline)
    deals.create_deal(opened.db, acme.id, "Three", "Lost", pipeline=pipeline)
    opened.close()
    result = rapport("--home", str(home), "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert (status["accounts"], status["contacts"], status["deals"], status["messages"]) == (
        1, 0, 3, 0)
    assert status["deals_by_stage"]["Closing"] == 2 and status["deals_by_stage"]["Lost"] == 1
    assert sum(status["deals_by_stage"].values()) == 3
    assert status["folders"] == []
    assert status["database"] == str(home / "rapport.db") and status["database_bytes"] > 0
    human = rapport("--home", str(home), "status")
    assert "Deals     3" in human.stdout and "Closing" in human.stdout


@pytest.mark.parametrize("argv", [["import", "widgets", "x.csv"], ["export", "gadgets"]])
def test_usage_errors_exit_2(home: Path, argv: list[str]) -> None:
    result = rapport("--home", str(home), *argv)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "invalid choice" in result.stderr


def test_impossible_config_value_is_one_line(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("sync_interval_minutes = 1e400\n[me]\naddresses = 5\n")
    assert_one_line_error(rapport("--home", str(home), "status"), "[me] addresses")


def test_home_that_is_a_file(tmp_path: Path) -> None:
    precious = tmp_path / "report.txt"
    precious.write_text("keep me\n")
    precious.chmod(0o640)
    result = rapport("--home", str(precious), "status")
    assert_one_line_error(result, "report.txt", "is not a folder")
    assert result.returncode == 2  # bad input
    assert stat.S_IMODE(precious.stat().st_mode) == 0o640 and precious.read_text() == "keep me\n"


def test_templates_that_is_not_a_folder(home: Path) -> None:
    open_workspace(home).close()
    (home / "templates").write_text("not a folder\n")
    result = rapport("--home", str(home), "status")
    assert_one_line_error(result, "templates", "is not a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 folder anyway")
def test_unreadable_templates_folder(home: Path) -> None:
    open_workspace(home).close()
    (home / "templates").mkdir(exist_ok=True)
    (home / "templates").chmod(0)
    try:
        assert_one_line_error(rapport("--home", str(home), "status"), "templates")
    finally:
        (home / "templates").chmod(0o700)


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """chattr +i: a file even root cannot write (how a read-only database is made as root)."""
    made: list[Path] = []

    def make(path: Path) -> None:
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not available here")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_database_says_so(home: Path, immutable: Callable[[Path], None]) -> None:
    open_workspace(home).close()
    immutable(home / "rapport.db")
    result = rapport("--home", str(home), "status")
    assert_one_line_error(result, "rapport.db", "read-only")
    assert "cannot create" not in result.stderr


def _message(sender: str, to: str, subject: str, message_id: str, day: int) -> bytes:
    return (f"From: {sender}\nTo: {to}\nSubject: {subject}\nMessage-ID: <{message_id}>\n"
            f"Date: Mon, {day} Nov 2026 10:00:00 +0000\n\nbody of {subject}\n").encode()


def test_status_json_lists_synced_folders(home: Path, tmp_path: Path) -> None:
    """After a sync of a small [[maildir]], `folders` and `last_sync` are filled."""
    maildir = tmp_path / "Mail"
    for folder in (maildir, maildir / ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True)
    (maildir / "cur" / "1.a:2,S").write_bytes(
        _message("Ann <ann@acme.com>", "me@example.com", "Hello", "a1@acme.com", 2))
    (maildir / "new" / "2.a").write_bytes(
        _message("Ann <ann@acme.com>", "me@example.com", "Again", "a2@acme.com", 3))
    (maildir / ".Sent" / "cur" / "3.a:2,S").write_bytes(
        _message("me@example.com", "Ann <ann@acme.com>", "Re: Hello", "m1@example.com", 2))
    open_workspace(home).close()
    with (home / "config.toml").open("a") as config:
        config.write(f'\n[[maildir]]\nname = "archive"\npath = {json.dumps(str(maildir))}\n')
    before = rapport("--home", str(home), "status", "--json")
    assert json.loads(before.stdout)["last_sync"] is None
    synced = rapport("--home", str(home), "sync", "-q")
    assert synced.returncode == 0, synced.stderr

    status = json.loads(rapport("--home", str(home), "status", "--json").stdout)
    folders = status["folders"]
    assert [(f["mailbox"], f["folder"], f["messages"]) for f in folders] == [
        ("archive", "INBOX", 2), ("archive", "Sent", 1)]
    assert status["messages"] == 3
    stamps = [f["last_sync"] for f in folders]
    assert all(isinstance(s, str) and s.endswith("Z") for s in stamps)
    assert status["last_sync"] == max(stamps)
    human = rapport("--home", str(home), "status").stdout
    assert "archive/INBOX" in human and f"last sync {stamps[0]}" in human


def test_export_to_a_file_is_private(home: Path, tmp_path: Path, umask_022: None) -> None:
    opened = open_workspace(home)
    accounts.create_account(opened.db, "ACME", domains=["acme.com"])
    opened.close()
    target = tmp_path / "out" / "accounts.csv"
    missing = rapport("--home", str(home), "export", "accounts", "-o", str(target))
    assert missing.returncode == 2 and not target.parent.exists()  # a typo makes no folder
    target.parent.mkdir()
    result = rapport("--home", str(home), "export", "accounts", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert target.read_text().splitlines()[1].startswith("ACME,acme.com")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
