"""`rapport draft reply` end to end: a stored message, a real Dovecot Drafts folder, the outbox, SMTP."""

from __future__ import annotations

import json
import stat
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from rapport.mail.parse import parse_message
from rapport.store.accounts import create_account
from rapport.store.activities import list_activities
from rapport.store.contacts import create_contact
from rapport.store.messages import get_or_create_folder, save_batch
from rapport.store.session import open_workspace
from rapport.tui.cli.main import main

pytest_plugins = ["smtp_fixture"]

ORIGINAL = (
    b"From: Alice Martin <alice@acme.example>\r\nTo: Sam <sam@rapport.example>, "
    b"Bob <bob@acme.example>\r\nSubject: Re: Price list\r\nDate: Mon, 2 Nov 2026 10:15:00 +0000\r\n"
    b"Message-ID: <orig-7@acme.example>\r\nReferences: <root-7@acme.example>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hello Sam,\r\ncould you send the price list?\r\n"
)


def _workspace(home: Path, extra_toml: str = "") -> int:
    """A workspace with [me], an account, its contact and the original message stored."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        '[me]\nname = "Sam Seller"\nemail = "sam@rapport.example"\n'
        'signature = "Sam Seller, Rapport GmbH"\n' + extra_toml
    )
    opened = open_workspace(home)
    account = create_account(opened.db, "Acme", domains=["acme.example"])
    create_contact(opened.db, account_id=account.id, name="Alice Martin",
                   emails=["alice@acme.example"])
    folder = get_or_create_folder(opened.db, "local", "INBOX", "inbox")
    save_batch(opened.db, folder.id, [parse_message(ORIGINAL, uid=1)], last_uid=1,
               uidvalidity=1, highestmodseq=None, my_addresses=frozenset({"sam@rapport.example"}))
    opened.close()
    return account.id


def _check_reply(raw: bytes) -> None:
    back = message_from_bytes(raw, policy=policy.default)
    assert str(back["To"]) == "Alice Martin <alice@acme.example>"
    assert str(back["Cc"]) == "Bob <bob@acme.example>"
    assert str(back["Subject"]) == "Re: Price list"
    assert back["In-Reply-To"] == "<orig-7@acme.example>"
    assert back["References"] == "<root-7@acme.example> <orig-7@acme.example>"
    text = back.get_content().replace("\r\n", "\n")
    assert text.startswith("Dear Alice,\n")
    assert "-- \nSam Seller, Rapport GmbH\n" in text
    assert text.endswith("> Hello Sam,\n> could you send the price list?\n")


def test_reply_without_imap_goes_to_outbox_eml(home: Path, capsys: pytest.CaptureFixture) -> None:
    account_id = _workspace(home)
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example",
                 "--template", "acknowledge"]) == 0
    [eml] = list((home / "outbox").iterdir())
    assert stat.S_IMODE(eml.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "outbox").stat().st_mode) == 0o700
    _check_reply(eml.read_bytes())
    assert "saved to" in capsys.readouterr().out
    opened = open_workspace(home)
    [activity] = list_activities(opened.db, account_id, kinds=["draft"])
    assert activity.subject == "Re: Price list"
    assert eml.name.startswith(activity.message_id[:20])
    opened.close()


@pytest.mark.dovecot
def test_reply_lands_in_imap_drafts_with_draft_flag(home: Path, imap_user) -> None:  # noqa: ANN001
    box = imap_user.mailbox_config("work")
    toml = "[[mailbox]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in box.items())
    _workspace(home, toml)
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example",
                 "--template", "acknowledge"]) == 0
    flags = imap_user.flags("Drafts")
    assert [b"\\Draft" in f for f in flags.values()] == [True]
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        [data] = client.fetch(client.search("ALL"), [b"BODY.PEEK[]"]).values()
    raw = data[b"BODY[]"]
    _check_reply(raw)
    parsed = parse_message(raw)
    assert (parsed.in_reply_to, parsed.refs) == (
        "orig-7@acme.example", ("root-7@acme.example", "orig-7@acme.example"))
    assert not (home / "outbox").exists()


def test_reply_send_is_received_by_smtp(home: Path, smtp_server) -> None:  # noqa: ANN001
    account_id = _workspace(home, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
                                  'security = "plain"\n')
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example",
                 "--template", "acknowledge", "--send"]) == 0
    [got] = smtp_server.received
    assert sorted(got.recipients) == ["alice@acme.example", "bob@acme.example"]
    _check_reply(got.raw)
    opened = open_workspace(home)
    assert [a.kind for a in list_activities(opened.db, account_id)] == ["sent"]
    opened.close()


def test_cli_errors_are_one_line(home: Path, capsys: pytest.CaptureFixture) -> None:
    _workspace(home)
    capsys.readouterr()
    assert main(["--home", str(home), "draft", "reply", "nope@x", "--template", "acknowledge"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no message 'nope@x'" in err
    (home / "templates" / "evil.j2").write_text('+++\nkind = "reply"\n+++\n{{ "".__class__ }}\n')
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t", "evil"]) == 2
    err = capsys.readouterr().err
    assert err == ("rapport: template 'evil', line 4: not allowed in templates: access to "
                   "attribute '__class__' of 'str' object is unsafe.\n")
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t", "nope"]) == 1
    assert "no template 'nope'" in capsys.readouterr().err
    assert main(["--home", str(home), "templates"]) == 0
    listing = capsys.readouterr().out
    assert "acknowledge\treply\t" in listing and "promotion\tannouncement\t" in listing
