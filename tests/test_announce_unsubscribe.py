"""Announcements' unsubscribe headers checked against RFC 2369 and RFC 8058, on what a real SMTP
server received; replies and one-to-one drafts carry none; `rapport contact` and the export."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from rapport.mail.config import SmtpSettings
from rapport.mail.draft.context import Promotion
from rapport.mail.draft.install import install_default_templates
from rapport.mail.draft.render import load_template
from rapport.mail.send.announce import run_announcement
from rapport.store.book.accounts import create_account
from rapport.store.book.contacts import create_contact, find_contact_by_email
from rapport.store.errors import ConfigError
from rapport.store.mailstore.bounces import BounceNotice
from rapport.store.mailstore.messages import NewMessage, get_or_create_folder, save_batch
from rapport.store.session import OpenWorkspace, open_workspace
from rapport.tui.cli.main import main

pytest_plugins = ["smtp_fixture"]

PROMO = Promotion("Spring offer", ("Solvent X",), date(2026, 3, 1), date(2026, 4, 30))
URL = "https://rapport.example/unsubscribe?c=acme-7"
# RFC 2369: a comma-separated list of <URI>s (whitespace, including folding, allowed around).
_LIST = re.compile(r"^\s*<([^<>\s]+)>\s*(,\s*<([^<>\s]+)>\s*)*$")


def _workspace(home: Path, extra: str = "") -> OpenWorkspace:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        '[me]\nname = "Sam"\nemail = "sam@rapport.example"\n' + extra)
    opened = open_workspace(home)
    acme = create_account(opened.db, "Acme", domains=["acme.example"])
    create_contact(opened.db, account_id=acme.id, name="Ann Lee", emails=["ann@acme.example"])
    create_contact(opened.db, account_id=acme.id, name="Bo Berg", emails=["bo@acme.example"])
    install_default_templates(opened.workspace)
    return opened


def _send(opened: OpenWorkspace, smtp_server) -> list:  # noqa: ANN001
    template = load_template(opened.workspace.templates_dir, "promotion")
    result = run_announcement(opened.db, opened.workspace, opened.config, template,
                              segment_text="all", promotion=PROMO, mode="send",
                              smtp=SmtpSettings("127.0.0.1", smtp_server.port, "plain"))
    assert result.delivered == 2 and result.ok
    return [message_from_bytes(r.raw, policy=policy.default) for r in smtp_server.received]


def _header_lines(raw: bytes, name: str) -> list[str]:
    """The raw (unfolded) header fields called `name`, as they travelled."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = re.sub(r"\r\n[ \t]", " ", head)
    return [line.split(":", 1)[1].strip() for line in unfolded.split("\r\n")
            if line.split(":", 1)[0].lower() == name.lower()]


def test_one_click_headers_follow_rfc_8058(home: Path, smtp_server) -> None:  # noqa: ANN001
    opened = _workspace(home, f'[announce]\nunsubscribe_url = "{URL}"\n')
    received = _send(opened, smtp_server)
    for got, msg in zip(smtp_server.received, received, strict=True):
        [listed] = _header_lines(got.raw, "List-Unsubscribe")
        [post] = _header_lines(got.raw, "List-Unsubscribe-Post")
        assert "=?" not in listed  # never RFC 2047-encoded: a client would not find the links
        assert _LIST.match(listed), listed
        links = re.findall(r"<([^<>]+)>", listed)
        # RFC 8058 3.1: one HTTPS URI, and the POST body is exactly this key/value.
        assert [link for link in links if link.startswith("https://")] == [URL]
        assert post == "List-Unsubscribe=One-Click"
        assert links == [URL, "mailto:sam@rapport.example?subject=unsubscribe"]
        assert URL in msg.get_content()  # {{ unsubscribe }} in the built-in template
    opened.close()


def test_without_a_url_only_the_mailto_and_no_one_click(home: Path, smtp_server) -> None:  # noqa: ANN001
    opened = _workspace(home, '[announce]\nunsubscribe_address = "Stop@Rapport.example"\n')
    for got, msg in zip(smtp_server.received, _send(opened, smtp_server), strict=True):
        assert _header_lines(got.raw, "List-Unsubscribe") == [
            "<mailto:stop@rapport.example?subject=unsubscribe>"]
        assert _header_lines(got.raw, "List-Unsubscribe-Post") == []  # no https: no one-click
        assert "stop@rapport.example" in msg.get_content()
    opened.close()


@pytest.mark.parametrize(("table", "error"), [
    ('unsubscribe_url = "http://rapport.example/u"', "must be an https:// link"),
    ('unsubscribe_url = "https://rapport.example/u>, <https://evil.example"', "https:// link"),
    ('unsubscribe_address = "not an address"', "unsubscribe_address"),
    ('unsubscribe_words = []', "unsubscribe_words"),
    ('unsubscribe_adress = "x@y.example"', "unknown key 'unsubscribe_adress'"),
])
def test_bad_announce_config_is_one_clear_error(home: Path, table: str, error: str) -> None:
    opened = _workspace(home, f"[announce]\n{table}\n")
    template = load_template(opened.workspace.templates_dir, "promotion")
    with pytest.raises(ConfigError, match=re.escape(error)):
        run_announcement(opened.db, opened.workspace, opened.config, template,
                         segment_text="all", promotion=PROMO)
    opened.close()


def test_one_to_one_drafts_carry_no_unsubscribe(home: Path) -> None:
    opened = _workspace(home, f'[announce]\nunsubscribe_url = "{URL}"\n')
    # A template of the user's that also serves announcements: one-to-one, the footer is empty.
    (opened.workspace.templates_dir / "news.j2").write_text(
        '+++\nkind = "new"\nsubject = "News"\nto = "{{ contact.address }}"\n+++\n'
        "Dear {{ contact.name }},\n\nwe moved.\n{{ unsubscribe }}\n")
    opened.close()
    assert main(["--home", str(home), "draft", "new", "news", "--to", "ann@acme.example"]) == 0
    [eml] = list((home / "outbox").iterdir())
    raw = eml.read_bytes()
    assert b"we moved." in raw
    assert b"List-Unsubscribe" not in raw and URL.encode() not in raw


def _bounce(opened: OpenWorkspace, address: str) -> None:
    folder = get_or_create_folder(opened.db, "local", "INBOX", "inbox")
    save_batch(opened.db, folder.id, [NewMessage(
        uid=1, message_id="dsn-1@mx.example", date_utc="2026-11-02T10:00:00Z",
        from_addr="mailer-daemon@mx.example",
        bounces=(BounceNotice(address, True, "5.1.1", "user unknown"),))],
        last_uid=1, uidvalidity=1, highestmodseq=None, my_addresses=frozenset())


def test_contact_show_clear_bounce_and_export(home: Path, capsys: pytest.CaptureFixture) -> None:
    opened = _workspace(home)
    _bounce(opened, "ann@acme.example")
    opened.close()
    run = lambda *args: main(["--home", str(home), *args])  # noqa: E731

    assert run("export", "contacts") == 0
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert (rows["ann@acme.example"]["bounced"], rows["bo@acme.example"]["bounced"]) == (
        "2026-11-02", "")

    assert run("contact", "Ann@Acme.example") == 0
    out = capsys.readouterr().out
    assert "bounced:   2026-11-02 (5.1.1 user unknown)" in out and "account:   Acme" in out
    assert run("contact", "ann@acme.example", "clear-bounce") == 0
    assert capsys.readouterr().out == "ann@acme.example: bounce cleared\n"
    assert run("contact", "ann@acme.example", "clear-bounce") == 0
    assert capsys.readouterr().out == "ann@acme.example: had no bounce mark\n"
    opened = open_workspace(home)
    assert find_contact_by_email(opened.db, "ann@acme.example").bounced_utc is None  # type: ignore[union-attr]
    opened.close()

    # Bad input: one line, no traceback; exit 2 for what is no address and for an unknown one.
    assert run("contact", "not-an-address", "clear-bounce") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not an email address" in err
    assert run("contact", "nobody@acme.example") == 2  # unknown: bad input, as everywhere
    assert capsys.readouterr().err == "rapport: no contact has the address nobody@acme.example\n"
    with pytest.raises(SystemExit) as exit_:
        run("contact", "ann@acme.example", "unbounce")
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.mark.dovecot
def test_announcement_drafts_carry_the_headers_and_a_reply_none(home: Path, imap_user) -> None:  # noqa: ANN001
    """Saved as drafts in a real Dovecot's Drafts folder (not sent): the same headers; a reply
    drafted into the same folder carries none."""
    import json

    from rapport.mail.message.decode import decode_message

    box = imap_user.mailbox_config("work")
    opened = _workspace(home, f'[announce]\nunsubscribe_url = "{URL}"\n[[mailbox]]\n'
                        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in box.items()))
    template = load_template(opened.workspace.templates_dir, "promotion")
    result = run_announcement(opened.db, opened.workspace, opened.config, template,
                              segment_text="all", promotion=PROMO, mode="drafts")
    assert result.delivered == 2 and result.ok
    question = (b"From: Ann Lee <ann@acme.example>\r\nTo: Sam <sam@rapport.example>\r\n"
                b"Subject: Price list\r\nDate: Mon, 2 Nov 2026 10:15:00 +0000\r\n"
                b"Message-ID: <ask-1@acme.example>\r\n\r\nCould you send it?\r\n")
    folder = get_or_create_folder(opened.db, "work", "INBOX", "inbox")
    save_batch(opened.db, folder.id, [decode_message(question, uid=1)], last_uid=1,
               uidvalidity=1, highestmodseq=None, my_addresses=frozenset({"sam@rapport.example"}))
    opened.close()
    assert main(["--home", str(home), "draft", "reply", "ask-1@acme.example",
                 "--template", "acknowledge"]) == 0

    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        drafts = [d[b"BODY[]"] for d in client.fetch(client.search("ALL"), [b"BODY.PEEK[]"]).values()]
    listed = sorted((_header_lines(raw, "Subject")[0] == "Re: Price list",
                     _header_lines(raw, "List-Unsubscribe"),
                     _header_lines(raw, "List-Unsubscribe-Post")) for raw in drafts)
    links = [f"<{URL}>, <mailto:sam@rapport.example?subject=unsubscribe>"]
    assert listed == [(False, links, ["List-Unsubscribe=One-Click"])] * 2 + [(True, [], [])]
