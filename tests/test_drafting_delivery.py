"""Announcement delivery: refusals retried, crashes left uncertain and resolved, one IMAP login
per run, copies in Sent, the send rate's pacing, and a real process killed mid-run."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from smtp_fixture import SmtpServer, _Handler
from test_drafting_announce import PROMO, _build

from rapport.mail.announce import Pacer, run_announcement
from rapport.mail.drafting import load_template
from rapport.mail.smtp import SmtpSettings
from rapport.store.announcements import get_or_create_announcement, journal, mark_started
from rapport.store.contacts import list_contacts

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
    """The journal a crash between the delivery and mark_done leaves: 'started'."""
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
    from rapport.mail.smtp import SendError

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
    from rapport.mail.compose import build_email
    from rapport.mail.drafting import Draft

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
    from rapport.store.contacts import create_contact

    opened, won = _build(home, toml)
    for i in range(count):
        create_contact(opened.db, account_id=won.id, name=f"Many {i}",
                       emails=[f"m{i}@acme.example"])
    emails = sorted(c.email for c in list_contacts(opened.db, won.id)
                    if c.email and not c.opted_out)
    opened.close()
    return emails


@pytest.mark.dovecot
def test_sigkill_mid_drafts_then_rerun_reaches_everyone_exactly_once(
        home: Path, imap_user) -> None:  # noqa: ANN001
    emails = _many_contacts(home, _imap_toml(imap_user), 150)
    args = [str(RAPPORT), "--home", str(home), "announce", "promotion", "--segment", "stage=Won",
            *PROMO_ARGS, "--drafts"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _kill_when(process, lambda: _done_rows(home) >= 20)
    assert 20 <= _done_rows(home) < len(emails)
    rerun = subprocess.run(args, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        data = client.fetch(client.search("ALL"), [b"BODY.PEEK[HEADER.FIELDS (TO)]"])
    reached = Counter(d[b"BODY[HEADER.FIELDS (TO)]"].decode().rpartition("<")[2].split(">")[0]
                      for d in data.values())
    assert sorted(reached) == emails and set(reached.values()) == {1}
    assert _done_rows(home) == len(emails)


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
