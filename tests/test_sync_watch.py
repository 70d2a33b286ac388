"""`--watch` (IDLE wakes the sync, failures back off), drafts APPENDed by role, progress output."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from dovecot_server import DovecotUser, make_message
from sync_helpers import stored, write_config

from rapport.mail.config import parse_mailbox
from rapport.mail.events import FolderDone, FolderProgress, FolderStarted, MailboxFailed
from rapport.mail.imap import append_draft, append_message
from rapport.mail.progress import ProgressPrinter
from rapport.mail.watch import watch_mailbox
from rapport.store.session import open_workspace

pytestmark = pytest.mark.dovecot


def _wait_for(condition, seconds: float = 15) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_watch_syncs_new_mail_as_idle_reports_it(tmp_path: Path, imap_user: DovecotUser) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX"])])
    imap_user.append([make_message(1)])
    opened = open_workspace(home)
    stop = threading.Event()
    events: list[object] = []
    # The poll interval is far longer than the test: only IDLE can bring message 2 in time.
    cfg = parse_mailbox(imap_user.mailbox_config(folders=["INBOX"]), 1)
    thread = threading.Thread(target=watch_mailbox, args=(opened, cfg),
                              kwargs={"interval": 600, "report": events.append,
                                      "should_stop": stop.is_set})
    thread.start()
    try:
        assert _wait_for(lambda: len(stored(home)) == 1)
        time.sleep(0.3)  # let it enter IDLE
        imap_user.append([make_message(2)])
        assert _wait_for(lambda: len(stored(home)) == 2)
    finally:
        stop.set()
        thread.join(10)
        opened.close()
    assert not thread.is_alive()
    assert not [e for e in events if isinstance(e, MailboxFailed)]


def test_watch_reports_failures_and_backs_off(tmp_path: Path, imap_user: DovecotUser) -> None:
    home = tmp_path / "ws"
    write_config(home, [])
    opened = open_workspace(home)
    cfg = parse_mailbox(imap_user.mailbox_config(password_command=["echo", "wrong"]), 1)
    events: list[object] = []
    pauses: list[float] = []

    def fake_sleep(seconds: float) -> None:
        pauses.append(seconds)

    stop_after = lambda: sum(isinstance(e, MailboxFailed) for e in events) >= 3  # noqa: E731
    try:
        watch_mailbox(opened, cfg, interval=1, report=events.append, should_stop=stop_after,
                      sleep=fake_sleep)
    finally:
        opened.close()
    failures = [e for e in events if isinstance(e, MailboxFailed)]
    assert len(failures) == 3
    assert all("login failed" in f.message for f in failures)
    assert pauses  # it waited between attempts instead of hammering the server


def test_drafts_and_sent_are_appended_to_the_special_use_folders(imap_user: DovecotUser) -> None:
    cfg = parse_mailbox(imap_user.mailbox_config(), 1)
    append_draft(cfg, make_message(1, subject="Draft to Acme"))
    append_message(cfg, "sent", make_message(2, subject="Sent to Acme"), [b"\\Seen"])

    drafts = imap_user.flags("Drafts")
    sent = imap_user.flags("Sent Items")
    assert [b"\\Draft" in f for f in drafts.values()] == [True]
    assert [b"\\Seen" in f for f in sent.values()] == [True]


def test_progress_draws_bars_on_a_tty_and_lines_otherwise() -> None:
    events = [FolderStarted("work", "INBOX", 4), FolderProgress("work", "INBOX", 2, 4),
              FolderProgress("work", "INBOX", 4, 4), FolderDone("work", "INBOX", 4, 0, 0),
              FolderStarted("work", "Sent\x1b[31m", 0), FolderDone("work", "Sent\x1b[31m", 0)]
    tty, plain = io.StringIO(), io.StringIO()
    for printer in (ProgressPrinter(tty, io.StringIO(), tty=True),
                    ProgressPrinter(plain, io.StringIO(), tty=False)):
        for event in events:
            printer(event)
    assert "\r" in tty.getvalue() and "█" in tty.getvalue() and "4/4" in tty.getvalue()
    assert plain.getvalue().splitlines() == [
        "work/INBOX: 4 new",
        "work/INBOX: 2/4",
        "work/INBOX: 4/4",
        "work/INBOX: 4 new, 0 flag changes, 0 removed",
        "work/Sent?[31m: 0 new, 0 flag changes, 0 removed",  # escapes never reach the terminal
    ]


def test_a_worker_thread_syncs_on_its_own_connection(tmp_path: Path,
                                                     imap_user: DovecotUser) -> None:
    from rapport.mail.sync import sync_on_this_thread

    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX"])])
    imap_user.append([make_message(1)])
    opened = open_workspace(home)
    results: list[object] = []
    stop = threading.Event()
    try:
        worker = threading.Thread(target=lambda: results.extend(
            sync_on_this_thread(opened, report=lambda e: None, should_stop=stop.is_set)))
        worker.start()
        worker.join(30)
        # The UI thread's own connection sees what the worker committed.
        count = opened.db.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        opened.close()
    assert [getattr(r, "ok", False) for r in results] == [True]
    assert count == 1
