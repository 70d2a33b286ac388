"""Bounces and unsubscribe replies end to end: an announcement sent through a real Postfix on
127.0.0.1, the DSN it produces and a partner's reply synced from a real Dovecot, and the next
run of the segment skipping the dead address and the partner who asked to stop."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path

import pytest
from dovecot_server import DovecotUser
from postfix_server import DEAD_DOMAIN, LIVE, MANAGER, PostfixServer, postfix  # noqa: F401

from rapport.mail.config import SmtpSettings, parse_mailbox
from rapport.mail.draft.context import Promotion
from rapport.mail.draft.install import install_default_templates
from rapport.mail.draft.render import load_template
from rapport.mail.send.announce import run_announcement, summary_line
from rapport.mail.send.unsubscribe import unsubscribe_rules
from rapport.mail.sync.mailbox import sync_mailbox
from rapport.store.book.accounts import create_account
from rapport.store.book.contacts import create_contact, find_contact_by_email
from rapport.store.mailstore import bounces, messages, why
from rapport.store.session import OpenWorkspace, open_workspace

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

DEAD = f"anna@{DEAD_DOMAIN}"
PROMO = Promotion("Spring offer", ("Solvent X",), date(2026, 3, 1), date(2026, 4, 30))


def _workspace(home: Path, imap_user: DovecotUser) -> OpenWorkspace:
    home.mkdir(parents=True, exist_ok=True)
    box = imap_user.mailbox_config("work", folders=["INBOX"])
    (home / "config.toml").write_text(
        f'[me]\nname = "Manager"\nemail = "{MANAGER}"\n[[mailbox]]\n'
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in box.items()))
    opened = open_workspace(home)
    partner = create_account(opened.db, "Partner", tags=["chemicals"])
    create_contact(opened.db, account_id=partner.id, name="Anna Dead", emails=[DEAD])
    create_contact(opened.db, account_id=partner.id, name="Carl Live", emails=[LIVE])
    install_default_templates(opened.workspace)
    return opened


def _announce(opened: OpenWorkspace, postfix: PostfixServer, mode: str = "send",  # noqa: F811
              campaign: str = ""):  # noqa: ANN202
    template = load_template(opened.workspace.templates_dir, "promotion")
    return run_announcement(opened.db, opened.workspace, opened.config, template,
                            segment_text="tag=chemicals", promotion=PROMO, mode=mode,
                            smtp=SmtpSettings("127.0.0.1", postfix.port, "plain"),
                            campaign=campaign)


def _sync(opened: OpenWorkspace, imap_user: DovecotUser) -> None:
    cfg = parse_mailbox(imap_user.mailbox_config("work", folders=["INBOX"]), 1)
    summary = sync_mailbox(opened.db, cfg, my_addresses=opened.config.me.all_addresses,
                           unsubscribe=unsubscribe_rules(opened.config))
    assert summary.ok, summary


def _reply(sender: str, subject: str, body: str, in_reply_to: str, n: int) -> bytes:
    # A minute ahead: written after the bounce (dates have whole seconds).
    when = datetime.now(UTC) + timedelta(minutes=1)
    return (f"From: {sender}\r\nTo: Manager <{MANAGER}>\r\nSubject: {subject}\r\n"
            f"Date: {format_datetime(when)}\r\n"
            f"Message-ID: <reply-{n}@partner.example>\r\nIn-Reply-To: <{in_reply_to}>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
            ).encode()


def test_a_real_bounce_marks_the_contact_and_the_next_run_skips_it(
        home: Path, imap_user: DovecotUser, postfix: PostfixServer) -> None:  # noqa: F811
    opened = _workspace(home, imap_user)
    first = _announce(opened, postfix)
    assert first.delivered == 2 and first.ok, summary_line(first)
    # Postfix takes both, delivers Carl's and bounces Anna's to us: the DSN lands in our INBOX.
    dsn = postfix.wait_for_bounce(DEAD)
    imap_user.append([dsn])
    _sync(opened, imap_user)

    anna = find_contact_by_email(opened.db, DEAD)
    assert anna is not None and anna.bounced_utc is not None
    assert anna.bounce_reason == '5.1.1 unknown user: "anna"'
    [stored] = [m for m in messages.list_messages(opened.db) if m.subject.startswith("Undelivered")]
    linked = [(r.account, r.rule) for r in why.explain(opened.db, stored.id) if r.linked]
    assert linked == [("Partner", "bounce")]  # on Partner's timeline, not unassigned
    kinds = [r[0] for r in opened.db.execute(
        "SELECT kind FROM activities WHERE kind = 'bounce' AND contact_id = ?", [anna.id])]
    assert kinds == ["bounce"]

    # The next run of the segment (a reminder: a fresh announcement) skips the dead address.
    dry = _announce(opened, postfix, mode="dry-run", campaign="Reminder")
    assert (dry.eligible, dry.bounced) == (1, 1)
    assert "skipped 1 bounced, 0 opted out" in summary_line(dry)
    before = len(postfix.delivered_to_live())
    again = _announce(opened, postfix, campaign="Reminder")
    assert again.delivered == 1 and again.ok
    assert len(postfix.wait_for_live(before + 1)) == before + 1

    # Anna writes to us after all: the address works, the mark goes.
    imap_user.append([_reply(DEAD, "New address?", "Hi, I am back.", "x@y", 1)])
    _sync(opened, imap_user)
    anna = find_contact_by_email(opened.db, DEAD)
    assert anna is not None and anna.bounced_utc is None
    opened.close()


def test_an_unsubscribe_reply_opts_out_and_the_next_run_skips_it(
        home: Path, imap_user: DovecotUser, postfix: PostfixServer) -> None:  # noqa: F811
    opened = _workspace(home, imap_user)
    before = len(postfix.delivered_to_live())  # the session's Postfix: earlier tests' mail
    assert _announce(opened, postfix).delivered == 2
    postfix.wait_for_bounce(DEAD)  # not synced here: only Carl matters
    received = message_from_bytes(postfix.wait_for_live(before + 1)[-1], policy=policy.default)
    # What Carl's mailbox got through a real MTA carries the unsubscribe link and footer.
    assert str(received["List-Unsubscribe"]) == f"<mailto:{MANAGER}?subject=unsubscribe>"
    assert "To receive no more announcements" in received.get_content()
    message_id = str(received["Message-ID"]).strip("<>")

    imap_user.append([
        _reply(LIVE, "Re: Spring offer for Partner", "Sounds good!", message_id, 1),
        _reply(LIVE, "Re: Spring offer for Partner", "Unsubscribe\r\n\r\n> Dear Carl,", message_id,
               2)])
    _sync(opened, imap_user)
    carl = find_contact_by_email(opened.db, LIVE)
    assert carl is not None and carl.opted_out
    [pending] = bounces.pending_optouts(opened.db)
    assert (pending.address, pending.account_name) == (LIVE, "Partner")
    timeline = opened.db.execute(
        "SELECT kind, message_id FROM activities WHERE kind = 'opt_out'").fetchall()
    assert timeline == [("opt_out", "reply-2@partner.example")]

    dry = _announce(opened, postfix, mode="dry-run", campaign="Reminder")
    assert (dry.eligible, dry.opted_out) == (1, 1)  # Anna only (her bounce was not synced)
    opened.close()
