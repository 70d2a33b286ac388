"""The pipelined first sync (mail/sync/pipeline.py): batches decoded in a worker process while
the next is fetched and the last stored, on a real Dovecot and real SQLite files. It stores
exactly what inline decoding stores, a message it cannot read is a recorded skip as before, a
dead worker is a one-line folder failure the next sync recovers from, and the worker never
outlives the sync (Ctrl-C, kill -9)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dovecot_server import DovecotUser, make_message
from sync_helpers import UNREADABLE, fail_to_decode, server_state, stored, write_config

from rapport.mail.config import parse_mailbox
from rapport.mail.sync import engine, fetch, pipeline
from rapport.mail.sync.events import FolderFailed, MessageSkipped
from rapport.mail.sync.mailbox import sync_mailbox
from rapport.store.session import open_workspace

pytestmark = pytest.mark.dovecot

ROWS = ("SELECT c.uid, m.message_id, m.subject, m.from_addr, m.date_utc, m.snippet, m.body_text,"
        " m.attachments, m.thread_id FROM message_copies c JOIN messages m ON m.id = c.message_id"
        " ORDER BY c.uid")


def _mixed(n: int) -> bytes:
    """Plain, HTML-only and alternative messages, some replies, some with an attachment."""
    head = (f"From: Contact {n % 7} <c{n % 7}@acme.example>\r\nTo: me@rapport.example\r\n"
            f"Subject: Offer {n}\r\nDate: Mon, 2 Nov 2026 10:{n % 60:02d}:00 +0000\r\n"
            f"Message-ID: <mixed-{n}@acme.example>\r\n"
            + (f"In-Reply-To: <mixed-{n - 1}@acme.example>\r\n" if n % 3 == 0 and n else "")
            + "MIME-Version: 1.0\r\n")
    text = f"Hello, about offer {n}.\r\n\r\nOn Mon, Anna wrote:\r\n> earlier text {n}\r\n"
    html = f"<html><body><p>Offer <b>{n}</b></p><table><tr><td>a</td><td>{n}</td></tr></table>"
    if n % 4 == 0:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text).encode()
    if n % 4 == 1:
        return (head + "Content-Type: text/html; charset=utf-8\r\n\r\n" + html).encode()
    if n % 4 == 2:
        return (head + 'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
                "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "--b\r\n"
                "Content-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--b--\r\n").encode()
    return (head + 'Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\n'
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "--m\r\n"
            f'Content-Type: application/pdf; name="q{n}.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--m--\r\n").encode()


def _decoders(monkeypatch: pytest.MonkeyPatch, *, worker: bool) -> list[Any]:
    """Small batches; the worker for any size (worker=True) or never; the decoders made."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 7)
    monkeypatch.setattr(pipeline, "PIPELINE_MIN_MESSAGES", 0 if worker else 10**9)
    made: list[Any] = []
    opener = pipeline.open_decoder

    def recording(new_messages: int, batch_size: int) -> Any:
        made.append(opener(new_messages, batch_size))
        return made[-1]

    monkeypatch.setattr(pipeline, "open_decoder", recording)
    return made


def _forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker forked, so it inherits this test's patched decoder: in a full run another
    thread of the test process (pytest-xdist's, a watcher's) would make it spawn a clean one."""
    monkeypatch.setattr(pipeline.threading, "active_count", lambda: 1)


def _sync(home: Path, user: DovecotUser) -> tuple[bool, list[object]]:
    cfg = parse_mailbox(user.mailbox_config(folders=["INBOX"]), 1)
    events: list[object] = []
    opened = open_workspace(home)
    try:
        ok = sync_mailbox(opened.db, cfg, my_addresses=frozenset(), report=events.append).ok
    finally:
        opened.close()
    return ok, events


def test_the_worker_stores_exactly_what_inline_decoding_stores(
    tmp_path: Path, imap_user: DovecotUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_user.append([_mixed(n) for n in range(60)])
    rows = {}
    for worker in (False, True):
        made = _decoders(monkeypatch, worker=worker)
        home = tmp_path / f"ws-{worker}"
        assert _sync(home, imap_user)[0]
        kinds = {type(d).__name__ for d in made}
        assert kinds == ({"ProcessDecoder"} if worker else {"InlineDecoder"})
        with sqlite3.connect(home / "rapport.db") as conn:
            rows[worker] = conn.execute(ROWS).fetchall()
        assert stored(home) == server_state(imap_user)
    assert len(rows[True]) == 60
    assert rows[True] == rows[False]
    assert multiprocessing.active_children() == []  # the worker ended with the sync


def test_a_message_the_worker_cannot_read_is_a_recorded_skip(
    tmp_path: Path, imap_user: DovecotUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _decoders(monkeypatch, worker=True)
    _forked(monkeypatch)
    fail_to_decode(monkeypatch, {UNREADABLE})  # a forked worker decodes with the patch too
    uids = imap_user.append([make_message(n, subject=UNREADABLE if n == 11 else None)
                             for n in range(20)])
    ok, events = _sync(tmp_path / "ws", imap_user)
    assert ok and {type(d).__name__ for d in made} == {"ProcessDecoder"}
    assert [(e.uid, e.reason) for e in events if isinstance(e, MessageSkipped)] == [
        (uids[11], "unreadable (ValueError: a decoder bug)")]
    assert sorted(stored(tmp_path / "ws")) == uids[:11] + uids[12:]


def test_a_dead_worker_fails_the_folder_in_one_line_and_the_next_sync_recovers(
    tmp_path: Path, imap_user: DovecotUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    _decoders(monkeypatch, worker=True)
    _forked(monkeypatch)
    build = fetch._build

    def dying_build(uid: int, meta: dict[bytes, object], *rest: Any) -> object:
        header = meta.get(fetch.HEADER_KEY)
        if isinstance(header, bytes) and b"Message 16" in header:
            os._exit(3)  # as a crash in a C library would end the worker
        return build(uid, meta, *rest)

    monkeypatch.setattr(fetch, "_build", dying_build)
    imap_user.append([make_message(n) for n in range(30)])
    home = tmp_path / "ws"
    ok, events = _sync(home, imap_user)
    failures = [e.message for e in events if isinstance(e, FolderFailed)]
    assert not ok and failures == [
        "mailbox 'test', folder 'INBOX': sync failed: the decoding process ended unexpectedly "
        "(exit code 3)"]
    assert 0 < len(stored(home)) < 30  # the batches before it were committed
    assert multiprocessing.active_children() == []
    monkeypatch.setattr(fetch, "_build", build)
    assert _sync(home, imap_user)[0]
    assert stored(home) == server_state(imap_user)


def _group_gone(pgid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _stored_count(home: Path) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'rapport.db'}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_the_worker_never_outlives_an_interrupted_sync(
    tmp_path: Path, imap_user: DovecotUser, how: str
) -> None:
    """Ctrl-C (SIGINT to the terminal's whole process group) ends the sync with its one line;
    kill -9 of the sync alone leaves the worker to notice its pipe closed. Either way nothing
    of the process group is left, and a rerun stores exactly the server's messages."""
    imap_user.deliver(make_message(n) for n in range(1500))
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX"])])
    env = {**os.environ, "RAPPORT_SYNC_BATCH": "25", "RAPPORT_SYNC_PIPELINE_MIN": "0"}
    command = [sys.executable, "-m", "rapport.tui.cli.main", "sync", "--home", str(home), "-q"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while _stored_count(home) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the sync ended before it could be interrupted"
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if how == "ctrl-c":
        assert (proc.returncode, err.decode()) == (130, "rapport: interrupted\n")
    assert _group_gone(proc.pid), "a process of the sync outlived it"
    done = subprocess.run(command, env=env, capture_output=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, b"")
    assert stored(home) == server_state(imap_user)
