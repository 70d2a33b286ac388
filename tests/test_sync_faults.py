"""Issue 12, against a real Dovecot: no lost flag, no source-name collision, no blocked mailbox,
no escaped error, no two syncs of one mailbox at once, "up to date" when it is, and the imaplib
internals we rely on still there."""

from __future__ import annotations

import imaplib
import os
import sqlite3
import subprocess
import sys
import threading
import tomllib
from contextlib import closing
from importlib.metadata import version
from pathlib import Path

import pytest
from dovecot_server import (
    DovecotServer,
    DovecotUser,
    dovecot_condstore_only_fixture,  # noqa: F401 - the fixture, for this module
    make_message,
)
from sync_helpers import TcpProxy, run_sync, server_state, stored, write_config

from rapport.mail.config import parse_mailbox
from rapport.mail.sync import maildir as maildir_sync
from rapport.mail.sync.events import MailboxFailed, MessageSkipped
from rapport.mail.sync.imap import close, connect
from rapport.mail.sync.lock import mailbox_lock
from rapport.mail.sync.mailbox import sync_mailbox
from rapport.mail.sync.narrow import LEFT_OUT
from rapport.mail.sync.watch import watch_mailbox
from rapport.store.db import open_database
from rapport.store.mailstore import messages as store
from rapport.store.mailstore.syncstate import StaleSyncState, list_skipped
from rapport.store.session import open_workspace
from rapport.tui.cli.main import main

pytestmark = pytest.mark.dovecot
ROOT = Path(__file__).resolve().parent.parent


def _message_id(home: Path, uid: int, folder: str = "INBOX") -> int:
    with sqlite3.connect(home / "rapport.db") as conn:
        return int(conn.execute(
            "SELECT m.id FROM messages m JOIN folders f ON f.id = m.folder_id"
            " WHERE f.name = ? AND m.uid = ?", [folder, uid]).fetchone()[0])


def _dirty(home: Path) -> list[tuple[int, int, int]]:
    with sqlite3.connect(home / "rapport.db") as conn:
        return conn.execute("SELECT uid, seen, flags_dirty FROM messages ORDER BY uid").fetchall()


def _set_seen_elsewhere(home: Path, message_id: int, seen: bool) -> None:
    """What the TUI does on its own database connection: mark read or unread."""
    db = open_database(home / "rapport.db")
    try:
        store.set_flags(db, message_id, seen=seen)
    finally:
        db.close()


# 1. Compare-and-clear of dirty flags -------------------------------------------------------

def test_mark_unread_during_the_flag_push_is_kept_and_pushed_next(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = TcpProxy(imap_user.server.plain_port)
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(port=proxy.port, folders=["INBOX"])])
    [uid] = imap_user.append([make_message(1)])
    with closing(proxy):
        assert run_sync(home, capsys, "-q")[0] == 0
        message = _message_id(home, uid)
        _set_seen_elsewhere(home, message, True)  # "mark read" in the TUI
        # ...and "mark unread" while the sync is pushing that \Seen (the STORE is in flight).
        proxy.before_forwarding(b"UID STORE",
                                lambda: _set_seen_elsewhere(home, message, False))
        assert run_sync(home, capsys, "-q")[0] == 0
        assert _dirty(home) == [(uid, 0, 1)]  # the later change is neither lost nor cleared
        assert run_sync(home, capsys, "-q")[0] == 0
    assert _dirty(home) == [(uid, 0, 0)]
    assert server_state(imap_user)[uid][1] == 0  # the server ends unread, as the user left it


def test_maildir_flag_write_back_keeps_a_change_made_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "mail"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    (root / "cur" / "1700000000.1.host:2,").write_bytes(make_message(1))
    home = tmp_path / "ws"
    opened = open_workspace(home)
    try:
        maildir_sync.sync_maildir(opened.db, mailbox="local", path=root, my_addresses=frozenset())
        [message] = store.list_messages(opened.db)
        store.set_flags(opened.db, message.id, seen=True)
        rename = os.rename

        def rename_while_the_user_changes_it(source: object, target: object) -> None:
            _set_seen_elsewhere(home, message.id, False)  # "mark unread" during the write-back
            rename(source, target)  # type: ignore[arg-type]

        monkeypatch.setattr(maildir_sync.os, "rename", rename_while_the_user_changes_it)
        maildir_sync.sync_maildir(opened.db, mailbox="local", path=root, my_addresses=frozenset())
        monkeypatch.setattr(maildir_sync.os, "rename", rename)
        again = store.get_message(opened.db, message.id)
        assert (again.seen, again.flags_dirty) == (False, True)
        maildir_sync.sync_maildir(opened.db, mailbox="local", path=root, my_addresses=frozenset())
        again = store.get_message(opened.db, message.id)
        assert (again.seen, again.flags_dirty) == (False, False)
    finally:
        opened.close()
    [name] = [p.name for p in (root / "cur").iterdir()]
    assert "S" not in name.split(":2,")[1]  # the file says unread too


# 2. Source names unique across [[mailbox]] and [[maildir]] ---------------------------------

def test_two_maildirs_with_one_name_are_a_config_error_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a" / "work", tmp_path / "b" / "work"  # both default to "work"
    for root in (first, second):
        for sub in ("cur", "new", "tmp"):
            (root / sub).mkdir(parents=True)
    home = tmp_path / "ws"
    write_config(home, [], maildirs=[{"path": str(first)}, {"path": str(second)}])
    code, out, err = run_sync(home, capsys)
    assert (code, out) == (2, "")  # a config error is bad input
    assert err == (f"rapport: [[maildir]] 'work' ({second}) has the same name as [[maildir]] "
                   f"'work' ({first}): source names must be unique; give one of them another "
                   'name = "..."\n')


def test_a_maildir_named_as_a_mailbox_is_a_config_error(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "Work"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config("work")], maildirs=[{"path": str(root)}])
    code, _out, err = run_sync(home, capsys)
    assert code == 2  # a config error is bad input
    assert err.startswith(f"rapport: [[maildir]] 'Work' ({root}) has the same name as "
                          "[[mailbox]] 'work' (127.0.0.1)")


# 3. One unreadable message no longer blocks its mailbox -------------------------------------

def test_an_unreadable_message_is_skipped_with_the_servers_words_and_retried(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX"])])
    uids = imap_user.append([make_message(n) for n in range(5)])
    imap_user.make_unreadable(uids[2])  # Dovecot answers with BYE and ends the session

    code, _out, err = run_sync(home, capsys, "-q")
    assert code == 0
    assert err.startswith(f"rapport: mailbox 'test', folder 'INBOX': message UID {uids[2]} "
                          "skipped: the server failed to send it: FETCH failed: Internal error")
    assert err.count("\n") == 1
    assert sorted(stored(home)) == uids[:2] + uids[3:]  # the rest are stored
    [skip] = list_skipped_at(home)
    assert (skip.uid, skip.retry) == (uids[2], True)
    assert skip.reason.startswith("the server failed to send it: FETCH failed: Internal error")

    assert main(["status", "--home", str(home)]) == 0
    status = capsys.readouterr().out
    assert f"test/INBOX UID {uids[2]}: the server failed to send it: FETCH failed" in status
    assert "(retried at every sync)" in status

    run_sync(home, capsys, "-q")  # still unreadable: asked again, still skipped, nothing lost
    assert [s.uid for s in list_skipped_at(home)] == [uids[2]]
    imap_user.make_readable(uids[2])
    code, _out, err = run_sync(home, capsys, "-q")
    assert (code, err) == (0, "")
    assert stored(home) == server_state(imap_user)  # all five now
    assert list_skipped_at(home) == []


def list_skipped_at(home: Path) -> list:  # noqa: ANN001
    db = open_database(home / "rapport.db")
    try:
        return list_skipped(db)
    finally:
        db.close()


def test_a_uid_left_out_of_the_fetch_answer_is_recorded_not_dropped(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = TcpProxy(imap_user.server.plain_port)
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(port=proxy.port, folders=["INBOX"])])
    uids = imap_user.append([make_message(n) for n in range(3)])
    # Another client expunges message 2 after our SEARCH and before our FETCH reaches Dovecot,
    # which then answers for it with an empty stand-in ("OK [EXPUNGEISSUED]").
    proxy.before_forwarding(b"UID FETCH", lambda: imap_user.expunge([uids[1]]))
    events: list[object] = []
    cfg = parse_mailbox(imap_user.mailbox_config(port=proxy.port, folders=["INBOX"]), 1)
    opened = open_workspace(home)
    try:
        with closing(proxy):
            assert sync_mailbox(opened.db, cfg, my_addresses=frozenset(),
                                report=events.append).ok
            left_out = [(e.uid, e.reason) for e in events if isinstance(e, MessageSkipped)]
            assert left_out == [(uids[1], LEFT_OUT)]
            assert [s.uid for s in list_skipped(opened.db)] == [uids[1]]
            # Asked again at the next sync: the server no longer has it, so its record goes.
            assert sync_mailbox(opened.db, cfg, my_addresses=frozenset()).ok
            assert list_skipped(opened.db) == []
    finally:
        opened.close()
    assert sorted(stored(home)) == [uids[0], uids[2]]


# 4. Every exception stays in its mailbox --------------------------------------------------

POISON = "poison-pill"


def _poison(home: Path) -> None:
    """A real SQLite error for one mailbox's mail only (as a full disk or a corrupt page)."""
    with sqlite3.connect(home / "rapport.db") as conn:
        conn.execute(f"CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.subject = "
                     f"'{POISON}' BEGIN SELECT RAISE(ABORT, 'database refused it'); END")


def test_a_database_error_in_one_mailbox_leaves_the_others_synced(
    tmp_path: Path, dovecot: DovecotServer, capsys: pytest.CaptureFixture[str]
) -> None:
    bad, good = dovecot.add_user(), dovecot.add_user()
    bad.append([make_message(1, subject=POISON)])
    good.append([make_message(2)])
    home = tmp_path / "ws"
    write_config(home, [bad.mailbox_config("bad", folders=["INBOX"]),
                        good.mailbox_config("good", folders=["INBOX"])])
    _poison(home)
    code, _out, err = run_sync(home, capsys, "-q")
    assert code == 1
    assert err == ("rapport: mailbox 'bad', folder 'INBOX': sync failed: IntegrityError: "
                   "database refused it\n")
    assert len(stored(home)) == 1  # the good mailbox's message


def test_a_failing_watcher_says_one_line_and_restarts_with_backoff(
    tmp_path: Path, imap_user: DovecotUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault outside any mailbox's sync (played by a bug in the IDLE wait, the only way to
    reach it now that sync_mailbox keeps its own) costs one line and a backoff, not the
    watcher: it goes on and still stores new mail."""
    from rapport.mail.sync import watch as watch_module

    real_wait = watch_module.wait_for_change
    calls: list[int] = []

    def buggy_wait(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            imap_user.append([make_message(2)])  # new mail, which the restarted watcher stores
        if len(calls) <= 2:
            raise KeyError("a bug")
        real_wait(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(watch_module, "wait_for_change", buggy_wait)
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX"])])
    imap_user.append([make_message(1)])
    opened = open_workspace(home)
    timeline: list[object] = []
    cfg = parse_mailbox(imap_user.mailbox_config(folders=["INBOX"]), 1)
    try:
        gave_up = watch_mailbox(opened, cfg, interval=600, report=timeline.append,
                                should_stop=lambda: len(stored(home)) == 2,
                                sleep=lambda seconds: timeline.append(float(seconds)))
    finally:
        opened.close()
    assert gave_up == ""
    failures = [e.message for e in timeline if isinstance(e, MailboxFailed)]
    assert failures == ["mailbox 'test': watcher failed: KeyError: 'a bug'; restarting"] * 2
    pauses: list[float] = []
    for item in timeline:
        if isinstance(item, MailboxFailed):
            pauses.append(0.0)
        elif isinstance(item, float) and pauses:
            pauses[-1] += item
    assert pauses == [1.0, 2.0]  # backoff, not a busy loop


# 5. One sync per mailbox at a time; state writes check UIDVALIDITY ----------------------

def test_a_second_sync_waits_then_names_the_holder_and_skips(
    tmp_path: Path, dovecot: DovecotServer
) -> None:
    busy, free = dovecot.add_user(), dovecot.add_user()
    busy.append([make_message(1)])
    free.append([make_message(2)])
    home = tmp_path / "ws"
    write_config(home, [busy.mailbox_config("busy", folders=["INBOX"]),
                        free.mailbox_config("free", folders=["INBOX"])])
    opened = open_workspace(home)
    try:
        with mailbox_lock(opened.db, "busy"):  # a sync of "busy" in progress (the TUI's, say)
            done = subprocess.run(
                [sys.executable, "-m", "rapport.tui.cli.main", "sync", "--home", str(home), "-q"],
                env={**os.environ, "RAPPORT_LOCK_WAIT": "1"}, capture_output=True, text=True,
                timeout=60)
    finally:
        opened.close()
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"rapport: mailbox 'busy': another sync of it is running (pid {os.getpid()} on ")
    assert done.stderr.endswith("skipped this time\n") and done.stderr.count("\n") == 1
    assert len(stored(home)) == 1  # the free mailbox synced


def test_a_lock_released_within_the_wait_lets_the_second_sync_run(
    tmp_path: Path, imap_user: DovecotUser
) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX"])])
    imap_user.append([make_message(1)])
    opened = open_workspace(home)
    cfg = parse_mailbox(imap_user.mailbox_config(folders=["INBOX"]), 1)
    release = threading.Event()
    holding = threading.Event()

    def first_sync() -> None:
        db = opened.reopen_db()
        try:
            with mailbox_lock(db, "test"):
                holding.set()
                release.wait(30)
        finally:
            db.close()

    holder = threading.Thread(target=first_sync)
    holder.start()
    try:
        assert holding.wait(30)
        events: list[object] = []
        # The second sync waits; the first finishes meanwhile (released at its first poll).
        threading.Thread(target=release.set).start()
        summary = sync_mailbox(opened.db, cfg, my_addresses=frozenset(), report=events.append)
        assert summary.ok and summary.added == 1
    finally:
        release.set()
        holder.join(30)
        opened.close()


def test_a_stale_run_cannot_undo_a_uidvalidity_reset(tmp_path: Path) -> None:
    opened = open_workspace(tmp_path / "ws")
    try:
        folder = store.get_or_create_folder(opened.db, "work", "INBOX", "inbox")
        store.save_batch(opened.db, folder.id, [store.NewMessage(uid=1, message_id="a@x")],
                         last_uid=1, uidvalidity=100, highestmodseq=5, my_addresses=frozenset())
        store.reset_folder(opened.db, folder.id, uidvalidity=200)  # another run saw a reset
        with pytest.raises(StaleSyncState, match="UIDVALIDITY changed from 100 to 200"):
            store.save_batch(opened.db, folder.id, [store.NewMessage(uid=2, message_id="b@x")],
                             last_uid=2, uidvalidity=100, highestmodseq=None,
                             my_addresses=frozenset())
        after = store.get_folder(opened.db, folder.id)
        assert (after.uidvalidity, after.last_uid) == (200, 0)
        assert store.list_messages(opened.db) == []
    finally:
        opened.close()


# 6. "Up to date" after our own flag push, with or without CONDSTORE ---------------------

@pytest.mark.parametrize("server", ["dovecot", "dovecot_condstore_only", "dovecot_no_condstore"])
def test_a_sync_after_our_own_flag_push_is_up_to_date(
    tmp_path: Path, server: str, request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dovecot: DovecotServer = request.getfixturevalue(server)
    user = dovecot.add_user()
    proxy = TcpProxy(dovecot.plain_port)
    home = tmp_path / "ws"
    write_config(home, [user.mailbox_config(port=proxy.port, folders=["INBOX"])])
    [uid] = user.append([make_message(1)])
    with closing(proxy):
        run_sync(home, capsys)
        _set_seen_elsewhere(home, _message_id(home, uid), True)
        code, out, _err = run_sync(home, capsys)
        assert (code, "up to date" in out) == (0, False), _err  # the push is a change
        fetches = proxy.count(b"UID FETCH")
        code, out, _err = run_sync(home, capsys)
    assert (code, out) == (0, "test/INBOX: up to date\n")
    if server != "dovecot_no_condstore":
        assert proxy.count(b"UID FETCH") == fetches  # one STATUS said so: no FETCH at all
    assert server_state(user)[uid][1] == 1


def test_condstore_without_qresync_finds_expunges_by_the_count(
    tmp_path: Path, dovecot_condstore_only: DovecotServer, capsys: pytest.CaptureFixture[str]
) -> None:
    user = dovecot_condstore_only.add_user()
    with dovecot_condstore_only.client(user) as client:
        caps = client.capabilities()
        assert b"CONDSTORE" in caps and b"QRESYNC" not in caps
    home = tmp_path / "ws"
    write_config(home, [user.mailbox_config(folders=["INBOX"])])
    uids = user.append([make_message(n) for n in range(4)])
    run_sync(home, capsys, "-q")
    user.expunge([uids[1]])
    user.set_flags([uids[2]], [b"\\Flagged"])
    code, _out, err = run_sync(home, capsys, "-q")
    assert (code, err) == (0, "")
    assert stored(home) == server_state(user)


# 7. imapclient pinned; the internals we use still exist --------------------------------

def test_imapclient_is_pinned_below_its_next_major_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [pin] = [d for d in project["dependencies"] if d.lower().startswith("imapclient")]
    installed_major = int(version("imapclient").split(".")[0])
    assert pin.replace(" ", "").lower() == f"imapclient>=3.0,<{installed_major + 1}"


def test_the_imaplib_internals_the_engine_uses_are_there(imap_user: DovecotUser) -> None:
    """mail/sync uses `client._imap` (imaplib's IMAP4) for its fast FETCH reader, VANISHED
    and BYE replies, the SELECTED state and IDLE's line reads: a release renaming them fails
    here, not in a user's sync."""
    client = connect(parse_mailbox(imap_user.mailbox_config(), 1))
    try:
        imap = client._imap  # noqa: SLF001
        assert isinstance(imap, imaplib.IMAP4)
        assert isinstance(imap.untagged_responses, dict)
        assert imap.state == "AUTH"
        client.select_folder("INBOX", readonly=True)
        assert imap.state == "SELECTED"
        imap.debug = 0
        typ, _data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
        assert typ == "OK"
        assert callable(imap._get_line)  # noqa: SLF001
        imap.send(b"A999 NOOP\r\n")
        assert imap._get_line().startswith(b"A999 OK")  # noqa: SLF001
    finally:
        close(client)
