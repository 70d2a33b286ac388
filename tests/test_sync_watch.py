"""`--watch` (IDLE wakes the sync, a dropped connection is noticed, failures back off, polling
without IDLE, unreadable secrets), drafts APPENDed by role, progress output."""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from dovecot_server import (
    DovecotServer,
    DovecotUser,
    dovecot_no_idle_fixture,  # noqa: F401 - the fixture, for this module
    make_message,
)
from sync_helpers import TcpProxy, stored, write_config

from rapport.mail.config import parse_mailbox
from rapport.mail.sync.events import FolderDone, FolderProgress, FolderStarted, MailboxFailed
from rapport.mail.sync.imap import append_draft, append_message
from rapport.mail.sync.watch import watch_mailbox
from rapport.store.session import OpenWorkspace, open_workspace
from rapport.tui.render.progress import ProgressPrinter

pytestmark = pytest.mark.dovecot


def _wait_for(condition, seconds: float = 15) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@contextmanager
def _watching(opened: OpenWorkspace, cfg: object, events: list[object], *, interval: float,
              sleep: object = time.sleep) -> Iterator[threading.Thread]:
    """watch_mailbox on a thread for the block; then stopped, joined and `opened` closed."""
    stop = threading.Event()
    thread = threading.Thread(target=watch_mailbox, args=(opened, cfg),
                              kwargs={"interval": interval, "report": events.append,
                                      "should_stop": stop.is_set, "sleep": sleep})
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(10)
        opened.close()


def test_watch_syncs_new_mail_as_idle_reports_it(tmp_path: Path, imap_user: DovecotUser) -> None:
    proxy = TcpProxy(imap_user.server.plain_port)
    table = imap_user.mailbox_config(port=proxy.port, folders=["INBOX"])
    home = tmp_path / "ws"
    write_config(home, [table])
    imap_user.append([make_message(1)])
    opened = open_workspace(home)
    events: list[object] = []
    # The poll interval is far longer than the test: only IDLE can bring message 2 in time.
    cfg = parse_mailbox(table, 1)
    with closing(proxy), _watching(opened, cfg, events, interval=600) as thread:
        # Once IDLE has gone to the server, mail delivered now can only reach us through it.
        assert _wait_for(lambda: len(stored(home)) == 1 and proxy.saw(b" IDLE\r\n"))
        imap_user.append([make_message(2)])
        assert _wait_for(lambda: len(stored(home)) == 2)
    assert not thread.is_alive()
    assert not [e for e in events if isinstance(e, MailboxFailed)]


def _pauses_after_failures(timeline: list[object]) -> list[float]:
    """The total pause that followed each MailboxFailed in a timeline of events and sleeps."""
    pauses: list[float] = []
    for item in timeline:
        if isinstance(item, MailboxFailed):
            pauses.append(0.0)
        elif isinstance(item, float) and pauses:
            pauses[-1] += item
    return pauses


def test_watch_reports_failures_and_backs_off(tmp_path: Path, imap_user: DovecotUser) -> None:
    home = tmp_path / "ws"
    write_config(home, [])
    opened = open_workspace(home)
    cfg = parse_mailbox(imap_user.mailbox_config(password_command=["echo", "wrong"]), 1)
    timeline: list[object] = []
    failed = lambda: sum(isinstance(e, MailboxFailed) for e in timeline)  # noqa: E731
    try:
        gave_up = watch_mailbox(opened, cfg, interval=1, report=timeline.append,
                                should_stop=lambda: failed() >= 4,
                                sleep=lambda seconds: timeline.append(float(seconds)))
    finally:
        opened.close()
    failures = [e for e in timeline if isinstance(e, MailboxFailed)]
    assert len(failures) == 4 and gave_up == ""  # a refused login is retried, not given up
    assert all("login failed" in f.message for f in failures)
    # It waited between attempts, twice as long each time, instead of hammering the server.
    assert _pauses_after_failures(timeline) == [1.0, 2.0, 4.0, 0.0]


def _cut_in_idle_then_deliver(home: Path, user: DovecotUser, proxy: TcpProxy) -> None:
    """Once message 1 is stored and the watcher waits in IDLE, cut its connection and deliver
    message 2, which only a reconnect brings in."""
    assert _wait_for(lambda: len(stored(home)) == 1 and proxy.saw(b" IDLE\r\n"))
    proxy.cut()  # the watcher's connection dies while it waits in IDLE
    user.append([make_message(2)])
    assert _wait_for(lambda: len(stored(home)) == 2)


def test_watch_notices_a_dropped_idle_connection_and_reconnects(
    tmp_path: Path, imap_user: DovecotUser
) -> None:
    proxy = TcpProxy(imap_user.server.plain_port)
    table = imap_user.mailbox_config(port=proxy.port, folders=["INBOX"], timeout=5)
    home = tmp_path / "ws"
    write_config(home, [table])
    imap_user.append([make_message(1)])
    opened = open_workspace(home)
    events: list[object] = []
    # The interval is far longer than the test: only noticing the cut brings message 2 in.
    with closing(proxy), _watching(opened, parse_mailbox(table, 1), events, interval=600,
                                   sleep=lambda seconds: None) as thread:
        _cut_in_idle_then_deliver(home, imap_user, proxy)
    assert not thread.is_alive()
    assert proxy.accepted == 2
    assert [e.message for e in events if isinstance(e, MailboxFailed)] == [
        "mailbox 'test': connection lost: the server closed the connection during IDLE"
    ]


def test_a_keepalive_line_in_idle_does_not_wake_a_resync(
    tmp_path: Path, imap_user: DovecotUser
) -> None:
    proxy = TcpProxy(imap_user.server.plain_port)
    table = imap_user.mailbox_config(port=proxy.port, folders=["INBOX"])
    home = tmp_path / "ws"
    write_config(home, [table])
    imap_user.append([make_message(1)])
    opened = open_workspace(home)
    events: list[object] = []
    still_here = b"* OK Still here\r\n"
    with closing(proxy), _watching(opened, parse_mailbox(table, 1), events, interval=600):
        assert _wait_for(lambda: len(stored(home)) == 1 and proxy.saw(b" IDLE\r\n"))
        # The test Dovecot says "* OK Still here" every second, only in IDLE (every 2 minutes
        # by default). A watcher woken by the first would have ended that IDLE with DONE at
        # once, a second earlier than the server sent the second one.
        assert _wait_for(lambda: proxy.count(still_here, replies=True) >= 2)
        assert proxy.count(b"DONE\r\n") == 0
        imap_user.append([make_message(2)])  # a real change still wakes the watcher
        assert _wait_for(lambda: len(stored(home)) == 2)
    assert [e.added for e in events if isinstance(e, FolderDone)] == [1, 1]


def test_watch_reconnects_after_network_errors_with_doubling_backoff(
    tmp_path: Path, imap_user: DovecotUser
) -> None:
    proxy = TcpProxy(imap_user.server.plain_port)
    proxy.refuse(True)  # the server is unreachable when the watcher starts
    table = imap_user.mailbox_config(port=proxy.port, folders=["INBOX"], timeout=5)
    home = tmp_path / "ws"
    write_config(home, [table])
    imap_user.append([make_message(1)])
    opened = open_workspace(home)
    timeline: list[object] = []

    def sleep(seconds: float) -> None:  # no real waiting; the network returns after 3 failures
        timeline.append(float(seconds))
        if sum(isinstance(e, MailboxFailed) for e in timeline) >= 3:
            proxy.refuse(False)

    with closing(proxy), _watching(opened, parse_mailbox(table, 1), timeline, interval=600,
                                   sleep=sleep) as thread:
        _cut_in_idle_then_deliver(home, imap_user, proxy)
    assert not thread.is_alive()
    failures = [e for e in timeline if isinstance(e, MailboxFailed)]
    assert len(failures) == 4 and all(f.mailbox == "test" for f in failures)
    # 1, 2, 4 s while unreachable; back to 1 s for the drop after a successful sync.
    assert _pauses_after_failures(timeline) == [1.0, 2.0, 4.0, 1.0]


def test_watch_polls_a_server_without_idle(tmp_path: Path,
                                           dovecot_no_idle: DovecotServer) -> None:
    user = dovecot_no_idle.add_user()
    with dovecot_no_idle.client(user) as client:
        assert b"IDLE" not in client.capabilities()
    table = user.mailbox_config(folders=["INBOX"])
    home = tmp_path / "ws"
    write_config(home, [table])
    user.append([make_message(1)])
    opened = open_workspace(home)
    events: list[object] = []
    with _watching(opened, parse_mailbox(table, 1), events, interval=0.5) as thread:
        assert _wait_for(lambda: len(stored(home)) == 1)
        user.append([make_message(2)])
        assert _wait_for(lambda: len(stored(home)) == 2)
        polls = sum(isinstance(e, FolderDone) for e in events)
        # A few polls that find nothing (one STATUS each), then new mail is still seen.
        assert _wait_for(lambda: sum(isinstance(e, FolderDone) for e in events) >= polls + 2)
        user.append([make_message(3)])
        assert _wait_for(lambda: len(stored(home)) == 3)
    assert not thread.is_alive()
    assert not [e for e in events if isinstance(e, MailboxFailed)]
    assert any(isinstance(e, FolderDone) and e.unchanged for e in events)


def _watch_process(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rapport.tui.cli.main", "sync", "--home", str(home), "--watch",
         "--interval", "600", "-q", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_watch_gives_up_on_an_unreadable_secret_in_one_line(
    tmp_path: Path, imap_user: DovecotUser
) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config("bad", password_command=["false"]),
                        imap_user.mailbox_config("good", folders=["INBOX"])])
    imap_user.append([make_message(1)])

    alone = _watch_process(home, "--mailbox", "bad")
    out, err = alone.communicate(timeout=30)  # nothing left to watch: it exits by itself
    assert (alone.returncode, out) == (1, "")
    assert err == ("rapport: mailbox 'bad': password_command: false exited with status 1; "
                   "not watched any more\n")

    both = _watch_process(home)
    try:
        assert _wait_for(lambda: len(stored(home)) == 1, 30)  # the good one is watched
        assert both.poll() is None
    finally:
        both.send_signal(signal.SIGINT)
        out, err = both.communicate(timeout=30)
    # Ctrl-C ends a watch like any command: 130 and one line (the give-up was said before).
    assert (both.returncode, out) == (130, "")
    assert err == ("rapport: mailbox 'bad': password_command: false exited with status 1; "
                   "not watched any more\nrapport: interrupted\n")


def test_ctrl_c_stops_a_watch_in_one_line_with_status_130(
    tmp_path: Path, imap_user: DovecotUser
) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config("good", folders=["INBOX"])])
    imap_user.append([make_message(1)])
    watcher = _watch_process(home)
    try:
        assert _wait_for(lambda: len(stored(home)) == 1, 30)
    finally:
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=30)
    # 130, as a process ended by SIGINT: a shell loop around `rapport sync --watch` stops too.
    assert (watcher.returncode, out, err) == (130, "", "rapport: interrupted\n")


def test_ctrl_c_mid_sync_on_a_terminal_ends_the_bar_before_its_line(
    tmp_path: Path, imap_user: DovecotUser
) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config("work", folders=["INBOX"])])
    imap_user.deliver(make_message(n) for n in range(300))
    pid, fd = pty.fork()
    if pid == 0:  # the child: rapport on a terminal, one message per batch (a slow sync)
        os.environ["RAPPORT_SYNC_BATCH"] = "1"
        os.execv(sys.executable, [sys.executable, "-m", "rapport.tui.cli.main", "sync",
                                  "--home", str(home)])
    # Interrupted once the bar is drawn and a batch is stored: a sync in progress.
    screen = _read_pty_until(fd, lambda seen: b"work/INBOX \xe2\x96" in seen
                             and len(stored(home)) > 0)
    os.kill(pid, signal.SIGINT)
    screen += _read_pty_until(fd, lambda _seen: False)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 130
    text = screen.decode(errors="replace")
    assert "\nrapport: interrupted" in text.replace("\r\n", "\n")  # on a line of its own
    assert "Traceback" not in text
    assert 0 < len(stored(home)) < 300  # interrupted midway; what was stored stays


def _read_pty_until(fd: int, done: Callable[[bytes], bool], seconds: float = 30) -> bytes:
    """What the pseudo-terminal shows until `done(seen)` or the child is gone (read all the
    while: a full terminal buffer would block the child)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done(seen):
        if not select.select([fd], [], [], 0.2)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


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
    from rapport.mail.sync.run import sync_on_this_thread

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
