"""`rapport draft reply` end to end: a stored message, a real Dovecot Drafts folder, the outbox, SMTP."""

from __future__ import annotations

import json
import stat
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from rapport.mail.message.decode import decode_message
from rapport.store.book.accounts import create_account
from rapport.store.book.activities import list_activities
from rapport.store.book.contacts import create_contact
from rapport.store.mailstore.messages import get_or_create_folder, save_batch
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
    save_batch(opened.db, folder.id, [decode_message(ORIGINAL, uid=1)], last_uid=1,
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
    assert f"saved to {eml}\n" in capsys.readouterr().out  # the full path (issue 14)
    opened = open_workspace(home)
    [activity] = list_activities(opened.db, account_id, kinds=["draft"])
    assert activity.subject == "Re: Price list"
    assert eml.name.startswith(activity.message_id[:20])
    opened.close()


@pytest.mark.dovecot
def test_reply_lands_in_imap_drafts_with_draft_flag(home: Path, imap_user,  # noqa: ANN001
                                                    capsys: pytest.CaptureFixture) -> None:
    box = imap_user.mailbox_config("work")
    toml = "[[mailbox]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in box.items())
    _workspace(home, toml)
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example",
                 "--template", "acknowledge"]) == 0
    assert "saved to the IMAP folder Drafts of mailbox work\n" in capsys.readouterr().out
    flags = imap_user.flags("Drafts")
    assert [b"\\Draft" in f for f in flags.values()] == [True]
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        [data] = client.fetch(client.search("ALL"), [b"BODY.PEEK[]"]).values()
    raw = data[b"BODY[]"]
    _check_reply(raw)
    parsed = decode_message(raw)
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
    assert main(["--home", str(home), "draft", "reply", "nope@x", "--template", "acknowledge"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no message 'nope@x'" in err
    (home / "templates" / "evil.j2").write_text('+++\nkind = "reply"\n+++\n{{ "".__class__ }}\n')
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t", "evil"]) == 2
    err = capsys.readouterr().err
    assert err == ("rapport: template 'evil', line 4: not allowed in templates: access to "
                   "attribute '__class__' of 'str' object is unsafe.\n")
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t", "nope"]) == 2
    assert "no template 'nope'" in capsys.readouterr().err
    (home / "templates" / "evil.j2").unlink()
    assert main(["--home", str(home), "templates"]) == 0
    listing = capsys.readouterr().out
    assert "acknowledge\treply\t" in listing and "promotion\tannouncement\t" in listing


def test_templates_listing_reports_broken_ones(home: Path, capsys: pytest.CaptureFixture) -> None:
    _workspace(home)
    assert main(["--home", str(home), "templates"]) == 0  # installs the built-ins
    folder = home / "templates"
    (folder / "unclosed.j2").write_text('+++\nkind = "reply"\n+++\nHello {{ contact.name\n')
    (folder / "badkind.j2").write_text('+++\nkind = "memo"\n+++\nHi\n')
    (folder / "badtoml.j2").write_text('+++\nsubject = "x\n+++\nHi\n')
    capsys.readouterr()
    assert main(["--home", str(home), "templates"]) == 1
    captured = capsys.readouterr()
    lines = dict(line.split("\t", 1) for line in captured.out.splitlines())
    assert lines["acknowledge"].startswith("reply\t")  # the good ones are still listed
    assert lines["unclosed"].startswith("broken\ttemplate 'unclosed', line 4: unexpected end")
    assert lines["badkind"] == ("broken\ttemplate 'badkind', line 2: kind must be one of reply, "
                                "announcement, new, not 'memo'")
    assert lines["badtoml"].startswith("broken\ttemplate 'badtoml', line 2: front matter is not "
                                       "valid TOML")
    assert captured.err == "rapport: 3 broken template(s): badkind, badtoml, unclosed\n"


def _with_deals(home: Path, extra_toml: str = "") -> None:
    """_workspace plus two open deals for Acme (the later one most recently active)."""
    from rapport.store.book.deals import create_deal

    account_id = _workspace(home, extra_toml)
    opened = open_workspace(home)
    pipeline = opened.config.pipeline
    create_deal(opened.db, account_id, "Solvents 2027", "Proposal presented", pipeline=pipeline,
                value=12500, next_action="Call back")
    create_deal(opened.db, account_id, "Gaskets", "Closing", pipeline=pipeline, value=800)
    opened.db.execute("UPDATE deals SET last_activity_utc = '2020-01-01T00:00:00Z'"
                      " WHERE title = 'Gaskets'")
    opened.db.conn.commit()
    opened.close()


def _command_for(name: str, kind: str) -> list[str]:
    if kind == "reply":
        return ["draft", "reply", "orig-7@acme.example", "-t", name]
    if kind == "new":
        return ["draft", "new", name, "--to", "alice@acme.example"]
    return ["announce", name, "--segment", "all", "--promo-name", "Winter offer", "--starts",
            "2026-12-01", "--ends", "2027-01-31"]


def test_every_builtin_template_renders_through_its_command(
        home: Path, capsys: pytest.CaptureFixture) -> None:
    from rapport.mail.draft.install import builtin_templates
    from rapport.mail.draft.render import parse_template

    _with_deals(home)
    for name, text in builtin_templates().items():
        kind = parse_template(text, name).kind
        assert main(["--home", str(home), *_command_for(name, kind)]) == 0, (
            name, capsys.readouterr().err)
        assert capsys.readouterr().err == ""
    texts = [message_from_bytes(p.read_bytes(), policy=policy.default).get_content()
             for p in (home / "outbox").iterdir()]
    # follow_up_meeting sees the account's open deal, the most recently active one.
    [follow_up] = [t for t in texts if "taking the time to meet" in t]
    assert "Solvents 2027" in follow_up and "Gaskets" not in follow_up
    # The name is signed once: by the signature, not also by the template.
    assert all(t.count("Sam Seller") == 1 for t in texts)


def test_reply_sees_the_pinned_deal_and_renders_without_any(
        home: Path, capsys: pytest.CaptureFixture) -> None:
    from rapport.store.mailstore.corrections import pin_thread
    from rapport.store.mailstore.messages import find_message

    _with_deals(home)
    opened = open_workspace(home)
    message = find_message(opened.db, "orig-7@acme.example")
    gaskets = opened.db.execute("SELECT id FROM deals WHERE title = 'Gaskets'").fetchone()[0]
    pin_thread(opened.db, message.thread_id, gaskets, pipeline=opened.config.pipeline)
    opened.close()
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t",
                 "follow_up_meeting"]) == 0
    [eml] = list((home / "outbox").iterdir())
    assert "- Gaskets" in eml.read_text()
    bare = home.parent / "bare"
    _workspace(bare)  # an account without any deal
    assert main(["--home", str(bare), "draft", "reply", "orig-7@acme.example", "-t",
                 "follow_up_meeting"]) == 0
    capsys.readouterr()


def test_templates_are_refused_by_the_wrong_command(
        home: Path, capsys: pytest.CaptureFixture) -> None:
    _with_deals(home)
    capsys.readouterr()
    cases = [
        (["draft", "reply", "orig-7@acme.example", "-t", "promotion"],
         "template 'promotion' is an announcement template; a reply needs kind = 'reply'"),
        (["draft", "new", "acknowledge", "--to", "alice@acme.example"],
         "template 'acknowledge' is a reply template; rapport draft new needs kind = 'new'"),
        (_command_for("acknowledge", "announcement"),
         "template 'acknowledge' is a reply template; an announcement needs"),
        (["draft", "new", "proposal_sent", "--to", "not-an-address"], "--to: "),
        (["draft", "new", "proposal_sent", "--to", "alice@acme.example", "--deal", "999"],
         "no deal with id 999"),
    ]
    for args, message in cases:
        assert main(["--home", str(home), *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith(f"rapport: {message}") and err.count("\n") == 1, err
    assert not (home / "outbox").exists()


def test_draft_new_to_a_contact_with_a_deal_then_send(
        home: Path, smtp_server, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    _with_deals(home, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
                      'security = "plain"\n')
    opened = open_workspace(home)
    gaskets = opened.db.execute("SELECT id FROM deals WHERE title = 'Gaskets'").fetchone()[0]
    opened.close()
    assert main(["--home", str(home), "draft", "new", "proposal_sent", "--to",
                 "ALICE@acme.example", "--deal", str(gaskets), "--send"]) == 0
    [got] = smtp_server.received
    assert got.recipients == ["alice@acme.example"]
    assert str(got.message["Subject"]) == "Our proposal: Gaskets"
    assert str(got.message["To"]) == "Alice Martin <alice@acme.example>"
    assert "sent <" in capsys.readouterr().out
    opened = open_workspace(home)
    [activity] = list_activities(opened.db, 1, kinds=["sent"])
    assert activity.deal_id == gaskets
    opened.close()


def test_reply_edit_in_editor_on_the_cli(home: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    _workspace(home)
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/^Subject: Re: Price list$/Subject: Re: Price list '
                      '(revised)/; s/^Dear Alice,$/Dear Alice, as promised:/" "$1"\n')
    editor.chmod(0o700)
    monkeypatch.setenv("EDITOR", str(editor))
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t",
                 "acknowledge", "--edit"]) == 0
    [eml] = list((home / "outbox").iterdir())
    back = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert str(back["Subject"]) == "Re: Price list (revised)"
    assert back.get_content().startswith("Dear Alice, as promised:")
    assert back["In-Reply-To"] == "<orig-7@acme.example>"
    failing = tmp_path / "fail.sh"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(0o700)
    monkeypatch.setenv("EDITOR", str(failing))
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t",
                 "acknowledge", "--edit"]) == 2
    assert len(list((home / "outbox").iterdir())) == 1  # nothing saved after a failed edit
    capsys.readouterr()
    latin = tmp_path / "latin.sh"
    latin.write_text("#!/bin/sh\nprintf 'Caf\\351\\n' >> \"$1\"\n")  # an editor saving Latin-1
    latin.chmod(0o700)
    monkeypatch.setenv("EDITOR", str(latin))
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t",
                 "acknowledge", "--edit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rapport: the edited draft is not UTF-8 text (byte 0xe9 at offset ")
    assert err.count("\n") == 1
    assert len(list((home / "outbox").iterdir())) == 1


def test_reply_to_a_stored_message_with_line_separators_in_its_subject(
        home: Path, capsys: pytest.CaptureFixture) -> None:
    """A message synced before ingest dropped U+2028 still gets a reply, one line subject."""
    from dataclasses import replace

    _workspace(home)
    opened = open_workspace(home)
    folder = get_or_create_folder(opened.db, "local", "INBOX", "inbox")
    hostile = replace(decode_message(ORIGINAL.replace(b"orig-7", b"hostile-1"), uid=2),
                      subject="Hi\u2028Bcc: e@evil.example\u2029x")
    save_batch(opened.db, folder.id, [hostile], last_uid=2, uidvalidity=1, highestmodseq=None,
               my_addresses=frozenset({"sam@rapport.example"}))
    opened.close()
    assert main(["--home", str(home), "draft", "reply", "hostile-1@acme.example", "-t",
                 "acknowledge"]) == 0
    assert capsys.readouterr().err == ""
    [eml] = list((home / "outbox").iterdir())
    back = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert str(back["Subject"]) == "Re: Hi Bcc: e@evil.example x" and back["Bcc"] is None
