"""IMAP sync against a real Dovecot: first sync, new mail, flags both ways, expunge, UIDVALIDITY."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path

import pytest
from dovecot_server import DovecotServer, DovecotUser, make_message
from sync_helpers import (
    UNREADABLE,
    TcpProxy,
    fail_to_decode,
    run_sync,
    server_state,
    stored,
    write_config,
)

from rapport.mail.config import parse_mailbox
from rapport.mail.sync.engine import Capabilities
from rapport.mail.sync.events import FolderDone, MessageSkipped
from rapport.mail.sync.imap import close, connect
from rapport.mail.sync.mailbox import sync_mailbox
from rapport.store.mailstore.messages import set_flags
from rapport.store.session import open_workspace

pytestmark = pytest.mark.dovecot

MULTIPART = (
    b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@acme.example>\r\n"
    b"To: Me <me@rapport.example>\r\nSubject: =?utf-8?b?UXVvdGUgZsO8ciBRMw==?=\r\n"
    b"Date: Tue, 3 Nov 2026 08:00:00 +0100\r\nMessage-ID: <quote-q3@acme.example>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
    b"--B\r\nContent-Type: multipart/alternative; boundary=\"C\"\r\n\r\n"
    b"--C\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\nPrix: 12 EUR, gr=FC=DFe\r\n"
    b"--C\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML version</p>\r\n--C--\r\n"
    b"--B\r\nContent-Type: application/pdf; name=\"quote.pdf\"\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''Angebot%20Q3.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(bytes(12000)).replace(b"\n", b"\r\n")
    + b"--B--\r\n"
)
HTML_ONLY = (
    b"From: news@vendor.example\r\nTo: me@rapport.example\r\nSubject: html only\r\n"
    b"Message-ID: <html-only@vendor.example>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><body><h1>Offer</h1><p>Price <b>list</b> inside</p><script>x()</script></body></html>\r\n"
)


FORWARDS = [
    # Inline forward inside multipart/mixed; the enclosed message is multipart/alternative.
    b"From: ann@acme.example\r\nTo: me@rapport.example\r\nSubject: Fwd: prices\r\n"
    b"Message-ID: <fwd-inline@acme.example>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\n"
    b"Content-Type: text/plain\r\n\r\nSee below.\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: supplier@globex.example\r\nSubject: =?utf-8?q?Preisliste_K=C3=B6ln?=\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"i\"\r\n\r\n"
    b"--i\r\nContent-Type: text/plain\r\n\r\nzanzibar pricing inside\r\n"
    b"--i\r\nContent-Type: text/html\r\n\r\n<p>html twin</p>\r\n--i--\r\n--o--\r\n",
    # The whole message is a forwarded single-part message.
    b"From: ann@acme.example\r\nTo: me@rapport.example\r\nSubject: Fwd: whole\r\n"
    b"Message-ID: <fwd-whole@acme.example>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: message/rfc822\r\n\r\nFrom: c@globex.example\r\nSubject: Original\r\n\r\n"
    b"the original quokka text\r\n",
    # A forward attached as a file: listed, never fetched.
    b"From: ann@acme.example\r\nTo: me@rapport.example\r\nSubject: attached\r\n"
    b"Message-ID: <fwd-attached@acme.example>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\n"
    b"Content-Type: text/plain\r\n\r\nAttached.\r\n--o\r\nContent-Type: message/rfc822\r\n"
    b"Content-Disposition: attachment\r\n\r\nFrom: x@y.example\r\nSubject: Old thread\r\n\r\n"
    b"wombat secret\r\n--o--\r\n",
]


@pytest.fixture
def home(tmp_path: Path, imap_user: DovecotUser) -> Path:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config()])
    return home


def test_first_sync_stores_headers_text_parts_attachment_metadata_and_roles(
    home: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    imap_user.append([make_message(1), MULTIPART, HTML_ONLY])
    imap_user.append([make_message(2)], flags=[b"\\Seen", b"\\Flagged"])
    imap_user.append([make_message(3, sender="me@rapport.example")], folder="Sent Items")
    imap_user.append([make_message(4)], folder="Drafts", flags=[b"\\Draft"])

    code, out, err = run_sync(home, capsys)

    assert (code, err) == (0, "")
    assert "test/INBOX: 4 new" in out  # not a TTY: plain lines
    assert stored(home) == server_state(imap_user)
    assert stored(home, "Sent Items") == server_state(imap_user, "Sent Items")
    assert len(stored(home, "Drafts")) == 1
    with sqlite3.connect(home / "rapport.db") as conn:
        folders = dict(conn.execute("SELECT name, role FROM folders").fetchall())
        assert folders == {"INBOX": "inbox", "Sent Items": "sent", "Drafts": "drafts"}
        row = conn.execute(
            "SELECT from_name, subject, body_text, attachments, date_utc, size FROM messages "
            "WHERE message_id = 'quote-q3@acme.example'"
        ).fetchone()
        html = conn.execute(
            "SELECT body_text FROM messages WHERE message_id = 'html-only@vendor.example'"
        ).fetchone()[0]
        direction = conn.execute(
            "SELECT direction FROM messages m JOIN folders f ON f.id = m.folder_id "
            "WHERE f.name = 'Sent Items'"
        ).fetchone()[0]
        draft = conn.execute(
            "SELECT draft FROM messages m JOIN folders f ON f.id = m.folder_id "
            "WHERE f.name = 'Drafts'"
        ).fetchone()[0]
    from_name, subject, body, attachments, date_utc, size = row
    assert (from_name, subject, date_utc) == ("Jörg Müller", "Quote für Q3", "2026-11-03T07:00:00Z")
    assert "Prix: 12 EUR, grüße" in body and "HTML version" not in body  # plain preferred
    [attachment] = json.loads(attachments)  # listed from BODYSTRUCTURE, never downloaded
    assert (attachment["name"], attachment["type"]) == ("Angebot Q3.pdf", "application/pdf")
    assert abs(attachment["size"] - 12000) < 120  # decoded size, estimated from the encoded one
    assert size == len(MULTIPART)
    assert "Offer" in html and "Price list inside" in html and "<" not in html
    assert (direction, draft) == ("out", 1)


def test_attachments_are_listed_but_never_downloaded(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    attachment = base64.encodebytes(os.urandom(1_500_000)).replace(b"\n", b"\r\n")
    big = MULTIPART.replace(base64.encodebytes(bytes(12000)).replace(b"\n", b"\r\n"), attachment)
    assert len(big) > 2_000_000
    imap_user.append([big])
    proxy = TcpProxy(imap_user.server.plain_port)  # counts what the server sends back
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(port=proxy.port, folders=["INBOX"])])
    try:
        code, _out, err = run_sync(home, capsys)
    finally:
        proxy.close()

    assert (code, err) == (0, "")
    with sqlite3.connect(home / "rapport.db") as conn:
        body, attachments = conn.execute("SELECT body_text, attachments FROM messages").fetchone()
    assert "Prix: 12 EUR" in body
    assert json.loads(attachments)[0]["size"] > 1_400_000  # listed with its size...
    assert proxy.received < 50_000  # ...but its 2 MB never crossed the wire


def test_forwarded_messages_keep_their_text_as_the_maildir_path_does(
    home: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    from rapport.mail.message.decode import decode_message
    from rapport.tui.cli.main import main

    imap_user.append(FORWARDS)
    assert run_sync(home, capsys)[0] == 0
    with sqlite3.connect(home / "rapport.db") as conn:
        rows = dict((mid, (body, json.loads(att))) for mid, body, att in conn.execute(
            "SELECT message_id, body_text, attachments FROM messages"))
    for raw in FORWARDS:
        maildir = decode_message(raw)  # what the Maildir ingest keeps of the same message
        body, attachments = rows[maildir.message_id]
        assert body == maildir.body_text
        assert [(a["name"], a["type"]) for a in attachments] == [
            (name, ctype) for name, ctype, _size in maildir.attachments]
    assert "Forwarded message: Preisliste Köln" in rows["fwd-inline@acme.example"][0]
    assert "html twin" not in rows["fwd-inline@acme.example"][0]  # plain preferred inside too
    assert "wombat" not in rows["fwd-attached@acme.example"][0]
    assert rows["fwd-attached@acme.example"][1][0]["name"] == "Old thread.eml"
    for word, found in (("zanzibar", ["fwd-inline@acme.example"]),
                        ("quokka", ["fwd-whole@acme.example"]), ("wombat", [])):
        capsys.readouterr()
        assert main(["search", "--home", str(home), "--json", word]) == 0
        assert [h["message_id"] for h in json.loads(capsys.readouterr().out)] == found


def test_resync_picks_up_new_mail_flag_changes_and_expunges(
    home: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    uids = imap_user.append(make_message(n) for n in range(1, 7))
    assert run_sync(home, capsys)[0] == 0

    imap_user.set_flags(uids[:2], [b"\\Seen"])
    imap_user.set_flags(uids[2:3], [b"\\Answered", b"\\Flagged"])
    imap_user.expunge(uids[3:5])
    imap_user.append([make_message(7), make_message(8)])
    code, out, _ = run_sync(home, capsys)

    assert code == 0
    assert "test/INBOX: 2 new, 3 flag changes, 2 removed" in out
    assert stored(home) == server_state(imap_user)
    assert sorted(stored(home)) == [uids[0], uids[1], uids[2], uids[5], uids[5] + 1, uids[5] + 2]


def _inbox_done_after_expunge(user: DovecotUser, home: Path) -> FolderDone:
    """Sync, expunge two messages on the server, resync: the INBOX's FolderDone of the resync."""
    uids = user.append(make_message(n) for n in range(1, 7))
    cfg = parse_mailbox(user.mailbox_config(folders=["INBOX"]), 1)
    opened = open_workspace(home)
    events: list[object] = []
    try:
        assert sync_mailbox(opened.db, cfg, my_addresses=frozenset()).ok
        user.expunge(uids[1:3])
        assert sync_mailbox(opened.db, cfg, my_addresses=frozenset(), report=events.append).ok
    finally:
        opened.close()
    assert stored(home) == server_state(user)
    [done] = [e for e in events if isinstance(e, FolderDone)]
    return done


def test_qresync_vanished_finds_the_expunges_not_the_count_check(
    home: Path, imap_user: DovecotUser
) -> None:
    done = _inbox_done_after_expunge(imap_user, home)
    # VANISHED did the work: the count check (the safety net) had nothing left to remove.
    assert (done.removed, done.expunges_via, done.recounted) == (2, "vanished", 0)


def test_without_qresync_the_uid_scan_finds_the_expunges(
    tmp_path: Path, dovecot_no_condstore: DovecotServer
) -> None:
    user = dovecot_no_condstore.add_user()
    home = tmp_path / "ws"
    write_config(home, [user.mailbox_config()])
    done = _inbox_done_after_expunge(user, home)
    assert (done.removed, done.expunges_via, done.recounted) == (2, "scan", 0)


def test_no_change_resync_is_answered_by_status_alone(
    home: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    imap_user.append(make_message(n) for n in range(1, 4))
    assert run_sync(home, capsys)[0] == 0
    opened = open_workspace(home)
    events: list[object] = []
    cfg = parse_mailbox(imap_user.mailbox_config(), 1)
    try:
        sync_mailbox(opened.db, cfg, my_addresses=frozenset(), report=events.append)
        imap_user.set_flags([1], [b"\\Seen"])  # HIGHESTMODSEQ moves: no longer "unchanged"
        sync_mailbox(opened.db, cfg, my_addresses=frozenset(), report=events.append)
    finally:
        opened.close()
    done = [e for e in events if isinstance(e, FolderDone)]
    assert [(e.folder, e.unchanged) for e in done] == [
        ("INBOX", True), ("Sent Items", True), ("Drafts", True),
        ("INBOX", False), ("Sent Items", True), ("Drafts", True),
    ]
    assert stored(home)[1][1] == 1


def test_uidvalidity_change_reidentifies_the_stored_messages_and_fetches_the_rest(
    home: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    imap_user.append(make_message(n) for n in range(1, 5))
    assert run_sync(home, capsys)[0] == 0
    with sqlite3.connect(home / "rapport.db") as conn:
        before = conn.execute("SELECT uidvalidity FROM folders WHERE name = 'INBOX'").fetchone()[0]
        row_ids = dict(conn.execute("SELECT message_id, id FROM messages").fetchall())

    imap_user.bump_uidvalidity()
    imap_user.append([make_message(5)])
    code, out, _err = run_sync(home, capsys)
    assert code == 0 and "UIDVALIDITY changed: 4 re-identified, 1 fetched" in out

    with sqlite3.connect(home / "rapport.db") as conn:
        after = conn.execute("SELECT uidvalidity FROM folders WHERE name = 'INBOX'").fetchone()[0]
        ids = [r[0] for r in conn.execute("SELECT message_id FROM messages m JOIN folders f "
                                          "ON f.id = m.folder_id WHERE f.name = 'INBOX'")]
        kept = dict(conn.execute("SELECT message_id, id FROM messages").fetchall())
    assert after != before
    assert stored(home) == server_state(imap_user)
    assert len(ids) == len(set(ids)) == 5
    assert {mid: kept[mid] for mid in row_ids} == row_ids  # same ids as before the change


def test_a_message_not_found_again_after_a_uidvalidity_change_is_fetched_and_the_rest_kept(
    home: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    """UID 2 is not recognised (its stored identity altered here): it is fetched anew, and the
    copies found again above it are neither dropped nor fetched twice."""
    imap_user.append(make_message(n) for n in range(1, 5))
    assert run_sync(home, capsys)[0] == 0
    with sqlite3.connect(home / "rapport.db") as conn:
        conn.execute("UPDATE messages SET identity = 'altered' WHERE uid = 2")
        kept = dict(conn.execute("SELECT uid, id FROM messages WHERE uid != 2").fetchall())

    imap_user.bump_uidvalidity()
    code, out, _err = run_sync(home, capsys)

    assert code == 0 and "UIDVALIDITY changed: 3 re-identified, 1 fetched" in out
    assert stored(home) == server_state(imap_user)
    with sqlite3.connect(home / "rapport.db") as conn:
        rows = dict(conn.execute("SELECT uid, id FROM messages").fetchall())
    assert len(rows) == 4 and {uid: rows[uid] for uid in kept} == kept
    assert run_sync(home, capsys)[0] == 0 and stored(home) == server_state(imap_user)


def _skip_records(home: Path) -> list[tuple[int, str]]:
    """(uid, reason) of the INBOX messages the sync skipped, as the workspace records them."""
    with sqlite3.connect(home / "rapport.db") as conn:
        return conn.execute(
            "SELECT s.uid, s.reason FROM skipped_messages s JOIN folders f ON f.id = s.folder_id"
            " WHERE f.name = 'INBOX' ORDER BY s.uid").fetchall()


SKIPPED_BECAUSE = "unreadable (ValueError: a decoder bug)"


def test_a_skipped_message_keeps_the_status_check_working_until_it_is_expunged(
    home: Path, imap_user: DovecotUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_to_decode(monkeypatch, {UNREADABLE})
    good, bad = imap_user.append([make_message(1), make_message(2, subject=UNREADABLE)])
    cfg = parse_mailbox(imap_user.mailbox_config(folders=["INBOX"]), 1)
    events: list[object] = []
    opened = open_workspace(home)
    records = []
    try:
        for step in ("first", "unchanged", "expunged", "unchanged again"):
            if step == "expunged":
                imap_user.expunge([bad])
            assert sync_mailbox(opened.db, cfg, my_addresses=frozenset(), report=events.append).ok
            records.append(_skip_records(home))
    finally:
        opened.close()
    assert [(e.uid, e.reason) for e in events if isinstance(e, MessageSkipped)] == [
        (bad, SKIPPED_BECAUSE)]
    assert records == [[(bad, SKIPPED_BECAUSE)], [(bad, SKIPPED_BECAUSE)], [], []]
    # The server's MESSAGES (2, then 1) matched stored + skipped: STATUS alone answered the
    # second and fourth syncs. VANISHED named the skipped UID; no stored message went.
    done = [(e.unchanged, e.removed, e.expunges_via, e.recounted)
            for e in events if isinstance(e, FolderDone)]
    assert done == [(False, 0, "", 0), (True, 0, "", 0), (False, 0, "vanished", 0),
                    (True, 0, "", 0)]
    assert sorted(stored(home)) == [good]


@pytest.mark.parametrize("expunges_via", ["scan", ""])
def test_without_qresync_an_expunged_skipped_message_loses_its_record(
    tmp_path: Path, dovecot: DovecotServer, dovecot_no_condstore: DovecotServer,
    monkeypatch: pytest.MonkeyPatch, expunges_via: str,
) -> None:
    """"scan": no CONDSTORE, the UID scan finds it. "": CONDSTORE without QRESYNC, where only
    the count check (stored + skipped vs EXISTS, then SEARCH ALL) can."""
    fail_to_decode(monkeypatch, {UNREADABLE})
    user = (dovecot_no_condstore if expunges_via == "scan" else dovecot).add_user()
    home = tmp_path / "ws"
    write_config(home, [user.mailbox_config()])
    good, bad = user.append([make_message(1), make_message(2, subject=UNREADABLE)])
    cfg = parse_mailbox(user.mailbox_config(folders=["INBOX"]), 1)
    client = connect(cfg)
    if expunges_via == "":
        client.enable("CONDSTORE")
        client._rapport_capabilities = Capabilities(condstore=True, qresync=False)
    events: list[object] = []
    opened = open_workspace(home)
    try:
        assert sync_mailbox(opened.db, cfg, my_addresses=frozenset(), client=client).ok
        assert _skip_records(home) == [(bad, SKIPPED_BECAUSE)]
        user.expunge([bad])
        searches: list[object] = []
        search = client.search

        def noted_search(criteria: object = "ALL", *args: object) -> list[int]:
            searches.append(criteria)  # a note of what is asked; the real server answers
            return search(criteria, *args)

        client.search = noted_search  # type: ignore[method-assign]
        assert sync_mailbox(opened.db, cfg, my_addresses=frozenset(), report=events.append,
                            client=client).ok
    finally:
        opened.close()
        close(client)
    assert _skip_records(home) == []
    # The scan knew the skipped UID, so the count check agreed and had nothing to search for.
    assert searches == ([] if expunges_via == "scan" else [["ALL"]])
    [done] = [e for e in events if isinstance(e, FolderDone)]
    assert (done.unchanged, done.removed, done.expunges_via) == (False, 0, expunges_via)
    assert sorted(stored(home)) == [good]


def test_a_uidvalidity_reset_drops_the_skip_records_with_the_messages(
    home: Path, imap_user: DovecotUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = {UNREADABLE}
    fail_to_decode(monkeypatch, failing)
    imap_user.append([make_message(1), make_message(2, subject=UNREADABLE)])
    cfg = parse_mailbox(imap_user.mailbox_config(folders=["INBOX"]), 1)
    events: list[object] = []
    opened = open_workspace(home)
    try:
        assert sync_mailbox(opened.db, cfg, my_addresses=frozenset()).ok
        assert len(_skip_records(home)) == 1
        failing.clear()  # a fixed decoder reads it now, under whatever UID it gets
        imap_user.bump_uidvalidity()
        assert sync_mailbox(opened.db, cfg, my_addresses=frozenset()).ok
        assert _skip_records(home) == []
        assert sync_mailbox(opened.db, cfg, my_addresses=frozenset(), report=events.append).ok
    finally:
        opened.close()
    assert stored(home) == server_state(imap_user) and len(stored(home)) == 2
    # Two stored, none skipped, two on the server: STATUS alone answers again.
    assert [e.unchanged for e in events if isinstance(e, FolderDone)] == [True]


def test_flags_changed_in_rapport_are_pushed_to_the_server(
    home: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    uids = imap_user.append([make_message(1), make_message(2)], flags=[b"\\Seen"])
    assert run_sync(home, capsys)[0] == 0
    opened = open_workspace(home)
    try:
        ids = dict(opened.db.execute("SELECT uid, id FROM messages").fetchall())
        set_flags(opened.db, ids[uids[0]], seen=False, flagged=True)
    finally:
        opened.close()

    assert run_sync(home, capsys)[0] == 0

    server = imap_user.flags()
    assert b"\\Seen" not in server[uids[0]] and b"\\Flagged" in server[uids[0]]
    assert b"\\Seen" in server[uids[1]]
    with sqlite3.connect(home / "rapport.db") as conn:
        assert conn.execute("SELECT count(*) FROM messages WHERE flags_dirty = 1").fetchone() == (0,)
    assert stored(home) == server_state(imap_user)


def test_server_without_condstore_falls_back_to_flag_scans(
    tmp_path: Path, dovecot_no_condstore: DovecotServer, capsys: pytest.CaptureFixture[str]
) -> None:
    user = dovecot_no_condstore.add_user()
    with dovecot_no_condstore.client(user) as client:
        assert b"CONDSTORE" not in client.capabilities()
        assert b"QRESYNC" not in client.capabilities()
    home = tmp_path / "ws"
    write_config(home, [user.mailbox_config()])
    uids = user.append(make_message(n) for n in range(1, 5))
    assert run_sync(home, capsys)[0] == 0

    user.set_flags(uids[:1], [b"\\Flagged"])
    user.expunge(uids[1:2])
    user.append([make_message(5)])
    code, out, _ = run_sync(home, capsys)

    assert code == 0
    assert "test/INBOX: 1 new, 1 flag changes, 1 removed" in out
    assert stored(home) == server_state(user)


def test_missing_folder_is_reported_and_the_rest_synced(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX", "Archive/2019"])])
    imap_user.append([make_message(1)])

    code, _out, err = run_sync(home, capsys)

    assert code == 1
    assert err.splitlines() == [
        "rapport: mailbox 'test', folder 'Archive/2019': folder not found on the server "
        "(vanished or renamed?)"
    ]
    assert len(stored(home)) == 1


def test_sync_also_ingests_maildirs_and_refuses_unknown_names(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    local = tmp_path / "Mail"
    for sub in ("cur", "new", "tmp"):
        (local / sub).mkdir(parents=True)
    (local / "cur" / "1700000000.1.host:2,S").write_bytes(make_message(1, message_id="local@x"))
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config()], maildirs=[{"name": "archive",
                                                                 "path": str(local)}])
    imap_user.append([make_message(2, message_id="remote@x")])

    code, _out, err = run_sync(home, capsys, "--mailbox", "nope")
    assert (code, err) == (2, "rapport: no [[mailbox]] or [[maildir]] named 'nope' in "
                              "config.toml (known: test, archive)\n")
    code, _out, err = run_sync(home, capsys, "--mailbox", "archive")
    assert (code, err) == (0, "")
    assert [m for m, *_ in stored(home).values()] == ["local@x"]  # only the Maildir's INBOX
    code, _out, err = run_sync(home, capsys)
    assert (code, err) == (0, "")
    with sqlite3.connect(home / "rapport.db") as conn:
        rows = conn.execute("SELECT f.mailbox, m.message_id, m.seen FROM messages m "
                            "JOIN folders f ON f.id = m.folder_id ORDER BY f.mailbox").fetchall()
    assert rows == [("archive", "local@x", 1), ("test", "remote@x", 0)]


def test_a_folder_deleted_on_the_server_is_reported_once_and_dropped(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    with imap_user.server.client(imap_user) as client:
        client.create_folder("Projects")
    imap_user.append([make_message(1), make_message(2)], folder="Projects")
    imap_user.append([make_message(3)])
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX", "Projects"])])
    assert run_sync(home, capsys)[0] == 0
    assert len(stored(home, "Projects")) == 2

    with imap_user.server.client(imap_user) as client:
        client.delete_folder("Projects")
    code, _out, err = run_sync(home, capsys)

    assert code == 1
    vanished = "folder vanished from the server; its 2 stored messages were removed from Rapport"
    # INBOX's line came after it: said again at the end, where it cannot scroll away.
    assert err == (f"rapport: mailbox 'test', folder 'Projects': {vanished}\n"
                   f"rapport: sync incomplete, 1 failure:\nrapport:   test/Projects: {vanished}\n")
    assert stored(home, "Projects") == {} and len(stored(home)) == 1
    code, _out, err = run_sync(home, capsys)  # still configured: still an error, now shorter
    assert (code, err) == (1, "rapport: mailbox 'test', folder 'Projects': folder not found on "
                              "the server (vanished or renamed?)\n")
