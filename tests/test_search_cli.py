"""The mail commands end to end: `rapport search/why/assign/unassign/override/pin/accounts
from-sender/export messages` on a workspace filled through the real Maildir ingest."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from rapport.mail.sync.maildir import sync_maildir
from rapport.store.book import accounts, deals
from rapport.store.session import open_workspace
from rapport.tui.cli.main import main

ME = frozenset({"me@vendor.example"})
MAILS = {
    "price": ("Bob <bob@acme.example>", "Re: price list", "The price is 10 EUR per seat.", ""),
    "hello": ("Pal <pal@gmail.com>", "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "hello from a friend", ""),
    "evil": ("x@evil.example", "=cmd|' /C calc'!A0", "formula", ""),
    "reply": ("me@vendor.example", "Re: Re: price list", "Deal!", "price"),
}


@pytest.fixture
def mail_home(tmp_path: Path) -> Path:
    root = tmp_path / "Mail"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for i, (key, (sender, subject, body, parent)) in enumerate(MAILS.items()):
        to = "bob@acme.example" if sender.startswith("me@") else "me@vendor.example"
        extra = f"In-Reply-To: <{parent}@t>\nReferences: <{parent}@t>\n" if parent else ""
        (root / "cur" / f"{i}.{key}:2,S").write_text(
            f"From: {sender}\nTo: {to}\nSubject: {subject}\nMessage-ID: <{key}@t>\n{extra}"
            f"Date: Mon, {i + 1} Mar 2026 10:00:00 +0000\n\n{body}\n"
        )
    home = tmp_path / "ws"
    opened = open_workspace(home)
    accounts.create_account(opened.db, "Acme", domains=("acme.example",))
    accounts.create_account(opened.db, "Globex", domains=("globex.example",))
    sync_maildir(opened.db, mailbox="local", path=root, my_addresses=ME)
    opened.close()
    return home


def run(home: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_search_json_quotes_ordinary_input(mail_home: Path, capsys) -> None:
    code, out, _ = run(mail_home, capsys, "search", "re:", "price", "--json")
    hits = json.loads(out)
    assert code == 0
    assert [(h["message_id"], h["accounts"]) for h in hits] == [
        ("reply@t", ["Acme"]),
        ("price@t", ["Acme"]),
    ]
    assert set(hits[0]) == {"id", "message_id", "date", "from", "subject", "accounts"}
    # Decoded headers are searchable, and column filters narrow the match.
    assert [
        h["message_id"] for h in json.loads(run(mail_home, capsys, "search", "grüße", "--json")[1])
    ] == ["hello@t"]
    assert (
        json.loads(run(mail_home, capsys, "search", "from:pal", "--json")[1])[0]["from"]
        == "pal@gmail.com"
    )
    assert (
        json.loads(run(mail_home, capsys, "search", "price", "--account", "Globex", "--json")[1])
        == []
    )


def test_search_operators_work_and_degrade_to_words(mail_home: Path, capsys) -> None:
    found = json.loads(run(mail_home, capsys, "search", "seat OR friend", "--json")[1])
    assert sorted(h["message_id"] for h in found) == ["hello@t", "price@t"]
    code, out, _ = run(mail_home, capsys, "search", "NOT", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_search_bad_syntax_is_one_line_exit_2(mail_home: Path, capsys) -> None:
    code, out, err = run(mail_home, capsys, "search", '"unclosed AND (')
    assert code == 2 and out == ""
    assert err.startswith("rapport: bad search syntax") and err.count("\n") == 1


def test_why_assign_unassign_override(mail_home: Path, capsys) -> None:
    code, out, _ = run(mail_home, capsys, "why", "<price@t>")
    assert code == 0 and "[domain] domain acme.example belongs to Acme" in out

    code, out, _ = run(mail_home, capsys, "why", "hello@t")
    assert "[freemail]" in out and "unassigned (review queue)" in out

    assert run(mail_home, capsys, "assign", "hello@t", "globex.example")[0] == 0
    assert "[assigned] assigned by hand to Globex" in run(mail_home, capsys, "why", "hello@t")[1]

    assert run(mail_home, capsys, "unassign", "price@t", "Acme")[0] == 0
    assert "[unassigned]" in run(mail_home, capsys, "why", "price@t")[1]
    assert run(mail_home, capsys, "unassign", "price@t", "Acme", "--clear")[0] == 0

    assert run(mail_home, capsys, "override", "Bob@Acme.example", "Globex", "--always")[0] == 0
    out = run(mail_home, capsys, "why", "price@t")[1]
    assert "[override]" in out and "[domain]" in out

    code, _, err = run(mail_home, capsys, "assign", "nope@t", "Acme")
    assert code == 2 and err.startswith("rapport: no message") and err.count("\n") == 1
    code, _, err = run(mail_home, capsys, "assign", "price@t", "Nobody")
    assert code == 2 and "no account named 'Nobody'" in err


def test_an_id_search_printed_never_names_a_message_stored_later(
    mail_home: Path, tmp_path: Path, capsys
) -> None:
    # The newest message (highest id) is deleted at its source, then new mail arrives: the id
    # printed before must name nothing now, not the new message (SQLite reuses the highest
    # rowid of a table without AUTOINCREMENT).
    hits = json.loads(run(mail_home, capsys, "search", "price", "--json")[1])
    newest = max(hits, key=lambda hit: hit["id"])
    cur = tmp_path / "Mail" / "cur"
    [gone] = [p for p in cur.iterdir() if p.name.split(".")[1].startswith(newest["message_id"][:-2])]
    gone.unlink()
    (cur / "9.late:2,").write_text("From: Bob <bob@acme.example>\nTo: me@vendor.example\n"
                                   "Subject: late news\nMessage-ID: <late@t>\n"
                                   "Date: Tue, 10 Mar 2026 10:00:00 +0000\n\nlate body\n")
    opened = open_workspace(mail_home)
    sync_maildir(opened.db, mailbox="local", path=tmp_path / "Mail", my_addresses=ME)
    opened.close()

    code, _, err = run(mail_home, capsys, "assign", str(newest["id"]), "Globex")

    assert code == 2 and err.startswith(f"rapport: no message '{newest['id']}'")
    [late] = json.loads(run(mail_home, capsys, "search", "late", "--json")[1])
    assert late["id"] > newest["id"] and late["accounts"] == ["Acme"]


def test_pin_and_export(mail_home: Path, capsys) -> None:
    opened = open_workspace(mail_home)
    acme = accounts.find_account(opened.db, "Acme")
    deal = deals.create_deal(
        opened.db,
        acme.id,
        "Seats",
        opened.config.pipeline.names[0],
        pipeline=opened.config.pipeline,
    )
    opened.close()
    assert run(mail_home, capsys, "pin", "price@t", str(deal.id))[0] == 0
    opened = open_workspace(mail_home)
    lost = deals.create_deal(opened.db, acme.id, "Gone", "Lost", pipeline=opened.config.pipeline)
    opened.close()
    code, _, err = run(mail_home, capsys, "pin", "hello@t", str(lost.id))
    assert code == 2 and "is lost" in err

    code, out, _ = run(mail_home, capsys, "export", "messages", "--format", "json")
    rows = {r["message_id"]: r for r in json.loads(out)}
    assert code == 0 and len(rows) == 4
    assert (rows["reply@t"]["deal"], rows["reply@t"]["folders"], rows["reply@t"]["mailbox"]) == (
        deal.id,
        "local/INBOX",
        "local",
    )
    assert rows["hello@t"]["accounts"] == [] and rows["hello@t"]["subject"] == "Grüße"

    code, out, _ = run(mail_home, capsys, "export", "messages", "--account", "Acme")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["message_id"] for r in table] == ["price@t", "reply@t"]
    assert table[0]["from"] == "Bob <bob@acme.example>" and table[0]["accounts"] == "Acme"

    out = run(mail_home, capsys, "export", "messages")[1]
    evil = [r for r in csv.DictReader(io.StringIO(out)) if r["message_id"] == "evil@t"][0]
    assert evil["subject"].startswith("'=")


def test_account_from_sender(mail_home: Path, capsys) -> None:
    code, out, _ = run(mail_home, capsys, "accounts", "from-sender", "evil@t")
    assert code == 0 and out.startswith("created account Evil (evil.example)")
    assert "1 message linked" in out
    code, _, err = run(mail_home, capsys, "accounts", "from-sender", "evil@t")
    assert code == 2 and "already a contact of account 'Evil'" in err
    code, out, _ = run(mail_home, capsys, "accounts", "from-sender", "hello@t", "--name", "Pal Ltd")
    assert code == 0 and out.startswith("created account Pal Ltd with contact Pal")


def test_search_activities_finds_notes_calls_meetings_and_objections(
    mail_home: Path, capsys
) -> None:
    from rapport.store.book import activities

    opened = open_workspace(mail_home)
    acme = accounts.find_account(opened.db, "Acme")
    globex = accounts.find_account(opened.db, "Globex")
    add = activities.add_activity
    add(opened.db, acme.id, "note", body="Budget for seats approved", date_utc="2026-03-01T09:00:00Z")
    add(opened.db, acme.id, "call", subject="Call with Bob", body="the price is too high",
        date_utc="2026-03-02T09:00:00Z")
    add(opened.db, globex.id, "objection", body="Price above the competitor's",
        date_utc="2026-03-03T09:00:00Z")
    add(opened.db, globex.id, "meeting", subject="Price review", date_utc="2026-03-04T09:00:00Z")
    add(opened.db, globex.id, "stage_change", body="price stage moved",  # not a search target
        date_utc="2026-03-05T09:00:00Z")
    opened.close()

    code, out, _ = run(mail_home, capsys, "search", "price", "--activities", "--json")
    assert code == 0
    assert [{k: h[k] for k in ("date", "kind", "account", "text")} for h in json.loads(out)] == [
        {"date": "2026-03-04T09:00:00Z", "kind": "meeting", "account": "Globex",
         "text": "Price review"},
        {"date": "2026-03-03T09:00:00Z", "kind": "objection", "account": "Globex",
         "text": "Price above the competitor's"},
        {"date": "2026-03-02T09:00:00Z", "kind": "call", "account": "Acme",
         "text": "Call with Bob\nthe price is too high"},
    ]
    assert all(isinstance(h["id"], int) for h in json.loads(out))
    code, out, _ = run(mail_home, capsys, "search", "price", "--activities", "--account", "Acme")
    assert code == 0 and out.splitlines()[0].split()[1:5] == ["2026-03-02", "call", "Acme", "Call"]
    assert len(out.splitlines()) == 1
    code, out, err = run(mail_home, capsys, "search", "nothing-like-it", "--activities")
    assert (code, out, err) == (0, "", "no activities found\n")
    # The message search and its JSON contract are unchanged.
    code, out, _ = run(mail_home, capsys, "search", "price", "--json")
    assert set(json.loads(out)[0]) == {"id", "message_id", "date", "from", "subject", "accounts"}
