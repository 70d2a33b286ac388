"""Announcement delivery: refusals retried, crashes left uncertain and resolved, one IMAP login
per run, copies in Sent, the send rate's pacing, and a real process killed mid-run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from smtp_fixture import SmtpServer, _Handler
from test_drafting_announce import PROMO, _build

from rapport.mail.config import SmtpSettings
from rapport.mail.draft.render import load_template
from rapport.mail.send.announce import Pacer, run_announcement
from rapport.store.book.contacts import list_contacts
from rapport.store.mailstore.announcements import get_or_create_announcement, journal, mark_started

pytest_plugins = ["smtp_fixture"]

RAPPORT = Path(sys.executable).with_name("rapport")
PROMO_ARGS = ["--promo-name", "Winter offer", "--starts", "2026-12-01", "--ends", "2027-01-31"]


def _smtp_toml(port: int) -> str:
    return f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "plain"\n'


def _imap_toml(imap_user) -> str:  # noqa: ANN001
    box = imap_user.mailbox_config("work")
    return "[[mailbox]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in box.items())


def _run(opened, **args):  # noqa: ANN001, ANN003, ANN202
    template = load_template(opened.workspace.templates_dir, "promotion")
    return run_announcement(opened.db, opened.workspace, opened.config, template,
                            segment_text="stage=Won", promotion=PROMO, **args)


def _crashed_after_delivery(opened, email: str, mode: str) -> str:  # noqa: ANN001
    """The journal a crash between the delivery and mark_done_many leaves: 'started'."""
    announcement = get_or_create_announcement(opened.db, "promotion", PROMO.name)
    [contact] = [c for c in list_contacts(opened.db) if c.email == email]
    message_id = f"crashed-{contact.id}@rapport.example"
    mark_started(opened.db, announcement.id, contact.id, email, mode, message_id)
    return message_id


def _recipients(server: SmtpServer) -> list[str]:
    return sorted(r.recipients[0] for r in server.received)


def test_refused_delivery_is_failed_and_retried_next_run(
        home: Path, smtp_server: SmtpServer) -> None:
    opened, _ = _build(home, _smtp_toml(smtp_server.port))
    settings = SmtpSettings("127.0.0.1", smtp_server.port, "plain")
    smtp_server.handler.refuse.add("ann1@acme.example")
    first = _run(opened, mode="send", smtp=settings)
    assert (first.delivered, [p.who for p in first.failed]) == (2, ["Ann 1 <ann1@acme.example>"])
    assert "refused every recipient" in first.failed[0].reason and not first.ok
    smtp_server.handler.refuse.clear()
    second = _run(opened, mode="send", smtp=settings)
    assert (second.delivered, second.already, second.failed) == (1, 2, ())
    assert _recipients(smtp_server) == ["ann0@acme.example", "ann1@acme.example",
                                        "ann2@acme.example"]
    assert _run(opened, mode="send", smtp=settings).delivered == 0
    opened.close()


def test_unreachable_server_stops_the_run_and_nothing_counts_as_done(home: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    opened, _ = _build(home)
    from rapport.mail.send.smtp import SendError

    with pytest.raises(SendError, match="refused"):
        _run(opened, mode="send", smtp=SmtpSettings("127.0.0.1", port, "plain", timeout=3))
    [row] = opened.db.execute("SELECT id FROM announcements").fetchall()
    assert journal(opened.db, row[0]) == {}
    opened.close()


def test_uncertain_send_is_listed_not_resent_until_asked(
        home: Path, smtp_server: SmtpServer, capsys: pytest.CaptureFixture) -> None:
    from rapport.tui.cli.main import main

    opened, _ = _build(home, _smtp_toml(smtp_server.port))
    message_id = _crashed_after_delivery(opened, "ann1@acme.example", "send")
    opened.close()
    args = ["--home", str(home), "announce", "promotion", "--segment", "stage=Won", *PROMO_ARGS,
            "--send", "--rate", "6000/min"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert (f"uncertain Ann 1 <ann1@acme.example>: sent as <{message_id}>, not confirmed; not "
            "sent again (--retry-uncertain sends it again)") in out
    assert _recipients(smtp_server) == ["ann0@acme.example", "ann2@acme.example"]
    assert main(args[:4] + ["--segment", "stage=Won", *PROMO_ARGS]) == 0  # the dry run lists it
    assert "uncertain Ann 1" in capsys.readouterr().out
    assert main([*args, "--retry-uncertain"]) == 0
    assert "sent 1 of 3" in capsys.readouterr().out
    retried = [r for r in smtp_server.received if r.recipients == ["ann1@acme.example"]]
    assert [r.message["Message-ID"] for r in retried] == [f"<{message_id}>"]  # same Message-ID
    assert main([*args, "--retry-uncertain"]) == 0
    assert len(smtp_server.received) == 3


def _login_count(imap_user) -> int:  # noqa: ANN001
    log = (imap_user.server.root / "dovecot.log").read_text(errors="replace")
    return log.count(f"Login: user=<{imap_user.name}>")


@pytest.mark.dovecot
def test_uncertain_drafts_are_looked_up_in_drafts_over_one_login(home: Path, imap_user) -> None:  # noqa: ANN001
    from rapport.mail.draft.render import Draft
    from rapport.mail.send.compose import build_email

    opened, _ = _build(home, _imap_toml(imap_user))
    there = _crashed_after_delivery(opened, "ann0@acme.example", "drafts")
    lost = _crashed_after_delivery(opened, "ann1@acme.example", "drafts")
    crashed_copy = build_email(Draft("promotion", "announcement", "Winter offer for Acme",
                                     "ann0@acme.example", "", "x"), opened.config.me,
                               message_id=there)
    imap_user.append([crashed_copy.as_bytes()], folder="Drafts", flags=[b"\\Draft"])
    logins = _login_count(imap_user)
    result = _run(opened, mode="drafts")
    assert (result.delivered, result.confirmed) == (2, 1)  # ann1 (lost) and ann2 appended
    assert _login_count(imap_user) - logins == 1  # one connection for the whole run
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        data = client.fetch(client.search("ALL"), [b"BODY.PEEK[HEADER]"])
    headers = [message_from_bytes(d[b"BODY[HEADER]"], policy=policy.default)
               for d in data.values()]
    assert Counter(str(h["To"]).rpartition("<")[2].strip(">") for h in headers) == {
        "ann0@acme.example": 1, "ann1@acme.example": 1, "ann2@acme.example": 1}
    assert f"<{lost}>" in {h["Message-ID"] for h in headers}  # the lost one kept its id
    assert {r.status for r in journal(opened.db, 1).values()} == {"done"}
    opened.close()


def test_uncertain_outbox_draft_is_found_on_disk(home: Path) -> None:
    opened, _ = _build(home)
    first = _run(opened, mode="drafts", limit=1)
    assert first.delivered == 1
    [entry] = journal(opened.db, 1).values()
    opened.db.execute("UPDATE announcement_recipients SET status = 'started'")  # crash image
    opened.db.conn.commit()
    again = _run(opened, mode="drafts")
    assert (again.confirmed, again.delivered) == (1, 2)
    assert len(list((home / "outbox").iterdir())) == 3
    assert entry.message_id in {r.message_id for r in journal(opened.db, 1).values()}
    opened.close()


def test_rate_paces_between_sends_never_after_the_last(
        home: Path, smtp_server: SmtpServer) -> None:
    opened, _ = _build(home, _smtp_toml(smtp_server.port))
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    def clock() -> float:
        now[0] += 0.1  # each send "takes" 0.1 s of the interval
        return now[0]

    pacer = Pacer(120, clock=clock, sleep=sleep)  # 120/min: one send every 0.5 s
    result = _run(opened, mode="send", smtp=SmtpSettings("127.0.0.1", smtp_server.port, "plain"),
                  pacer=pacer)
    assert result.delivered == 3
    assert slept == [0.4, 0.4]  # two gaps for three messages, minus the time already spent
    assert Pacer(30).interval == 2.0 and Pacer(0).interval == 0.0
    opened.close()


@pytest.mark.dovecot
def test_copies_land_in_sent_with_seen_for_announcements_and_replies(
        home: Path, imap_user, smtp_server: SmtpServer) -> None:  # noqa: ANN001
    from test_drafting_cli import _workspace

    from rapport.tui.cli.main import main

    _workspace(home, _imap_toml(imap_user) + _smtp_toml(smtp_server.port))
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t",
                 "acknowledge", "--send"]) == 0
    assert main(["--home", str(home), "announce", "promotion", "--segment", "all", *PROMO_ARGS,
                 "--send", "--rate", "6000/min"]) == 0
    sent_ids = {r.message["Message-ID"] for r in smtp_server.received}
    assert len(sent_ids) == 2
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Sent Items", readonly=True)
        data = client.fetch(client.search("ALL"), [b"FLAGS", b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    copies = {d[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip():
              d[b"FLAGS"] for d in data.values()}
    assert set(copies) == sent_ids
    assert all(b"\\Seen" in flags for flags in copies.values())


class _SlowHandler(_Handler):
    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        await asyncio.sleep(0.15)
        return await super().handle_DATA(server, session, envelope)


def _kill_when(process: subprocess.Popen, ready, timeout: float = 30) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()


def _done_rows(home: Path) -> int:
    conn = sqlite3.connect(home / "rapport.db", timeout=5)
    try:
        return conn.execute("SELECT count(*) FROM announcement_recipients"
                            " WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def _many_contacts(home: Path, toml: str, count: int) -> list[str]:
    from rapport.store.book.contacts import create_contact

    opened, won = _build(home, toml)
    for i in range(count):
        create_contact(opened.db, account_id=won.id, name=f"Many {i}",
                       emails=[f"m{i}@acme.example"])
    emails = sorted(c.email for c in list_contacts(opened.db, won.id)
                    if c.email and not c.opted_out)
    opened.close()
    return emails


def _kill_mid_drafts_and_rerun(home: Path, emails: list[str]) -> None:
    """Kill -9 a drafts run once a first batch is journaled (the next is under way), rerun."""
    args = [str(RAPPORT), "--home", str(home), "announce", "promotion", "--segment", "stage=Won",
            *PROMO_ARGS, "--drafts"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _kill_when(process, lambda: _done_rows(home) >= 1)
    assert 1 <= _done_rows(home) < len(emails)
    rerun = subprocess.run(args, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert _done_rows(home) == len(emails)


@pytest.mark.dovecot
def test_sigkill_mid_drafts_then_rerun_reaches_everyone_exactly_once(
        home: Path, imap_user) -> None:  # noqa: ANN001
    emails = _many_contacts(home, _imap_toml(imap_user), 600)
    _kill_mid_drafts_and_rerun(home, emails)
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        data = client.fetch(client.search("ALL"), [b"BODY.PEEK[HEADER.FIELDS (TO)]"])
    reached = Counter(d[b"BODY[HEADER.FIELDS (TO)]"].decode().rpartition("<")[2].split(">")[0]
                      for d in data.values())
    assert sorted(reached) == emails and set(reached.values()) == {1}


def test_sigkill_mid_outbox_drafts_one_whole_file_per_contact(home: Path) -> None:
    """Files are written in batches with one sync: a kill leaves no half file under a real
    name, no 'done' row without its file, and the rerun writes each contact's file once."""
    emails = _many_contacts(home, "", 600)
    _kill_mid_drafts_and_rerun(home, emails)
    files = sorted((home / "outbox").iterdir())
    assert all(path.suffix == ".eml" for path in files)  # the killed run's temp files swept
    reached = Counter(message_from_bytes(path.read_bytes(), policy=policy.default)["To"]
                      .addresses[0].addr_spec for path in files)
    assert sorted(reached) == emails and set(reached.values()) == {1}
    conn = sqlite3.connect(home / "rapport.db")
    ids = [row[0] for row in conn.execute("SELECT message_id FROM announcement_recipients")]
    conn.close()
    assert sorted(f"{i}.eml" for i in ids) == sorted(path.name for path in files)


def test_sigkill_mid_send_never_sends_twice_and_uncertain_ones_are_listed(home: Path) -> None:
    import socket

    from aiosmtpd.controller import Controller

    handler = _SlowHandler()
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        emails = _many_contacts(home, _smtp_toml(port), 12)
        args = [str(RAPPORT), "--home", str(home), "announce", "promotion", "--segment",
                "stage=Won", *PROMO_ARGS, "--send", "--rate", "6000/min"]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _kill_when(process, lambda: len(handler.received) >= 4)
        rerun = subprocess.run(args, capture_output=True, text=True, check=False)
        assert rerun.returncode == 0, rerun.stderr
        uncertain = [line.split(" <", 1)[1].split(">", 1)[0]
                     for line in rerun.stdout.splitlines() if line.startswith("uncertain ")]
        counts = Counter(r.recipients[0] for r in handler.received)
        assert set(counts.values()) == {1}  # nobody got it twice
        assert sorted(set(counts) | set(uncertain)) == emails  # everyone else was reached
        assert len(uncertain) <= 1  # at most the message in flight when the process died
    finally:
        controller.stop()


def test_interrupted_while_pacing_leaves_nothing_uncertain(
        home: Path, smtp_server: SmtpServer) -> None:
    opened, _ = _build(home, _smtp_toml(smtp_server.port))

    def ctrl_c(seconds: float) -> None:  # Ctrl-C while waiting for the second send's turn
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(opened, mode="send", smtp=SmtpSettings("127.0.0.1", smtp_server.port, "plain"),
             pacer=Pacer(1, sleep=ctrl_c))
    assert [r.status for r in journal(opened.db, 1).values()] == ["done"]
    rest = _run(opened, mode="send", smtp=SmtpSettings("127.0.0.1", smtp_server.port, "plain"))
    assert (rest.delivered, rest.uncertain) == (2, ())
    assert len(smtp_server.received) == 3
    opened.close()


def _drafts_messages(imap_user) -> dict[str, tuple[bytes, ...]]:  # noqa: ANN001
    """To address -> flags of every message in Drafts."""
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        data = client.fetch(client.search("ALL"), [b"FLAGS", b"BODY.PEEK[HEADER]"])
    found: dict[str, tuple[bytes, ...]] = {}
    for item in data.values():
        header = message_from_bytes(item[b"BODY[HEADER]"], policy=policy.default)
        address = header["To"].addresses[0].addr_spec
        assert address not in found, f"{address} drafted twice"
        found[address] = item[b"FLAGS"]
    return found


@pytest.mark.dovecot
def test_multiappend_stores_a_batch_at_once_and_a_refused_batch_stores_nothing(
        home: Path, imap_user) -> None:  # noqa: ANN001
    from rapport.mail.send.outbox import ImapFolder, pick_mailbox

    opened, _ = _build(home, _imap_toml(imap_user))
    box = pick_mailbox(opened.config)
    assert box is not None
    raws = [f"From: a@acme.example\r\nTo: n{i}@acme.example\r\nSubject: {i}\r\n\r\nx\r\n".encode()
            for i in range(3)]
    missing = ImapFolder(box, "No such folder")
    assert missing.append_many(raws, (b"\\Draft",)) is False  # NO [TRYCREATE]: nothing stored
    missing.close()
    drafts = ImapFolder(box, "drafts")
    assert drafts.append_many(raws, (b"\\Draft",)) is True
    drafts.close()
    found = _drafts_messages(imap_user)
    assert sorted(found) == [f"n{i}@acme.example" for i in range(3)]
    assert all(b"\\Draft" in flags for flags in found.values())
    opened.close()


@pytest.fixture
def dovecot_no_multiappend() -> Iterator[object]:
    """A real Dovecot that does not offer MULTIAPPEND (as many servers do not)."""
    import shutil
    import tempfile

    from dovecot_server import DOVECOT, DovecotServer

    class NoMultiappend(DovecotServer):
        def config_text(self) -> str:
            text = super().config_text()
            assert " MULTIAPPEND " in text
            return text.replace(" MULTIAPPEND ", " ")

    if DOVECOT is None:
        pytest.skip("dovecot is not installed")
    root = Path(tempfile.mkdtemp(prefix="rapport-dovecot-nomulti-"))
    server = NoMultiappend(root, condstore=False)  # an explicit capability list, then edited
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.dovecot
def test_drafts_fall_back_to_one_append_each_without_multiappend(
        home: Path, dovecot_no_multiappend) -> None:  # noqa: ANN001
    from rapport.mail.send.outbox import ImapFolder, pick_mailbox

    imap_user = dovecot_no_multiappend.add_user()
    opened, _ = _build(home, _imap_toml(imap_user))
    box = pick_mailbox(opened.config)
    assert box is not None
    folder = ImapFolder(box, "drafts")
    assert folder.append_many([b"a", b"b"], (b"\\Draft",)) is False  # not offered: not tried
    folder.close()
    result = _run(opened, mode="drafts")
    assert (result.delivered, result.failed) == (3, ())
    found = _drafts_messages(imap_user)
    assert sorted(found) == ["ann0@acme.example", "ann1@acme.example", "ann2@acme.example"]
    assert all(b"\\Draft" in flags for flags in found.values())
    assert _run(opened, mode="drafts").delivered == 0
    opened.close()


def test_outbox_temp_files_of_a_dead_run_are_swept(home: Path) -> None:
    opened, _ = _build(home)
    outbox = home / "outbox"
    outbox.mkdir(mode=0o700)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = outbox / f".half-written@rapport.example.eml.tmp{dead}"
    stale.write_bytes(b"From: half")
    live = outbox / f".other@rapport.example.eml.tmp{os.getppid()}"  # a process still running
    live.write_bytes(b"From: other")
    assert _run(opened, mode="drafts").delivered == 3
    assert not stale.exists() and live.exists()
    written = [p for p in outbox.iterdir() if p.suffix == ".eml"]
    assert len(written) == 3 and all(p.stat().st_mode & 0o777 == 0o600 for p in written)
    opened.close()


def test_connection_lost_after_the_message_went_out_is_uncertain_never_resent(
        home: Path, smtp_server: SmtpServer) -> None:
    """The server took ann1's message and the connection broke before its 250: it went out,
    the client cannot know, so it is uncertain (not 'failed', which would send it again)."""
    opened, _ = _build(home, _smtp_toml(smtp_server.port))
    settings = SmtpSettings("127.0.0.1", smtp_server.port, "plain")
    smtp_server.handler.hang_up_after_data.add("ann1@acme.example")
    first = _run(opened, mode="send", smtp=settings)
    assert (first.delivered, first.failed, first.ok) == (1, (), False)
    assert [p.who for p in first.uncertain] == ["Ann 1 <ann1@acme.example>"]
    assert "not confirmed" in first.uncertain[0].reason and first.stopped
    second = _run(opened, mode="send", smtp=settings)
    assert (second.delivered, [p.who for p in second.uncertain]) == (
        1, ["Ann 1 <ann1@acme.example>"])
    assert _recipients(smtp_server) == ["ann0@acme.example", "ann1@acme.example",
                                        "ann2@acme.example"]  # each exactly once
    opened.close()


def test_connection_lost_before_the_message_is_failed_and_sent_next_run(
        home: Path, smtp_server: SmtpServer) -> None:
    opened, _ = _build(home, _smtp_toml(smtp_server.port))
    settings = SmtpSettings("127.0.0.1", smtp_server.port, "plain")
    smtp_server.handler.hang_up_at_rcpt.add("ann1@acme.example")
    first = _run(opened, mode="send", smtp=settings)
    assert (first.delivered, [p.who for p in first.failed], first.uncertain) == (
        1, ["Ann 1 <ann1@acme.example>"], ())
    second = _run(opened, mode="send", smtp=settings)
    assert (second.delivered, second.uncertain, second.failed) == (2, (), ())
    assert _recipients(smtp_server) == ["ann0@acme.example", "ann1@acme.example",
                                        "ann2@acme.example"]
    opened.close()
