"""Tests `rapport add`, `rapport deal`, `rapport archive` and the deal export columns (issue 13)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from tests.test_cli_foundation import assert_one_line_error, rapport


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def ok(home: Path, *args: str) -> str:
    result = rapport("--home", str(home), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def bad(home: Path, *args: str, needle: str) -> None:
    result = rapport("--home", str(home), *args)
    assert_one_line_error(result, needle)
    assert result.returncode == 2


def test_add_decide_archive_and_export(home: Path) -> None:
    account = json.loads(ok(home, "add", "account", "Acme Chem", "--domain", "acme.example",
                            "--domain", "acme.de", "--tier", "key", "--tag", "chem", "--json"))
    assert (account["name"], account["domains"], account["tier"], account["tags"]) == (
        "Acme Chem", ["acme.example", "acme.de"], "key", ["chem"])
    assert isinstance(account["id"], int)
    contact = json.loads(ok(home, "add", "contact", "Ann@Acme.example", "--account", "acme.de", "--name", "Ann Lee",
                            "--role", "Buyer", "--phone", "+33 1", "--opt-out", "--json"))
    assert (contact["emails"], contact["account_id"], contact["opted_out"]) == (
        ["ann@acme.example"], account["id"], True)
    deal = json.loads(ok(home, "add", "deal", "Acme Chem", "Resin 2027", "--stage", "closing", "--value", "40,000",
                         "--close", "2027-01-15", "--next", "Call legal", "--due", "2027-01-02", "--json"))
    assert (deal["stage"], deal["value"], deal["expected_close"], deal["next_action_due"]) == (
        "Closing", 40000.0, "2027-01-15", "2027-01-02")
    second = json.loads(ok(home, "add", "deal", "Acme Chem", "Solvents", "--json"))
    assert second["stage"] == "Prospect"
    deal_id = str(deal["id"])
    assert ok(home, "deal", str(second["id"]), "move", "needs identified").strip() == (
        f"deal {second['id']} in Needs identified")
    lost = json.loads(ok(home, "deal", deal_id, "lost", "--reason", "Price", "--note", "too dear", "--json"))
    assert (lost["stage"], lost["lost_reason"], lost["lost_note"], lost["open_stage"]) == (
        "Lost", "price", "too dear", "Closing")
    assert ok(home, "deal", deal_id, "reopen").strip() == f"deal {deal_id} reopened in Closing"
    won = json.loads(ok(home, "deal", deal_id, "won", "--value", "38000", "--json"))
    assert (won["stage"], won["value"]) == ("Won / support", 38000.0)
    ok(home, "deal", str(second["id"]), "lost", "--reason", "timing")

    rows = list(csv.DictReader(io.StringIO(ok(home, "export", "deals"))))
    assert [(r["id"], r["status"], r["lost_reason"]) for r in rows] == [
        (deal_id, "won", ""), (str(second["id"]), "lost", "timing")]
    assert list(rows[0])[:4] == ["id", "account", "title", "status"]

    assert ok(home, "archive", "deal", deal_id).strip() == f"deal {deal_id} archived"
    assert ok(home, "archive", "deal", deal_id).strip() == f"deal {deal_id} was archived already"
    archived = json.loads(ok(home, "archive", "contact", "ANN@acme.example", "--json"))
    assert archived["archived_utc"]
    assert [r["id"] for r in csv.DictReader(io.StringIO(ok(home, "export", "deals")))] == [str(second["id"])]
    everything = json.loads(ok(home, "export", "deals", "--archived", "--format", "json"))
    assert [(r["id"], bool(r["archived"])) for r in everything] == [(deal["id"], True), (second["id"], False)]
    assert ok(home, "export", "contacts").strip() == "account,name,email,role,phone,opt_out,bounced"
    ok(home, "archive", "account", "Acme Chem")
    assert ok(home, "export", "accounts").splitlines()[1:] == []
    assert len(json.loads(ok(home, "export", "accounts", "--archived", "--format", "json"))) == 2


@pytest.fixture(scope="module")
def small_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Acme with a contact, an open deal (id 1) and a won one (id 2); built once, copied per test."""
    home = tmp_path_factory.mktemp("book") / "home"
    ok(home, "add", "account", "Acme", "--domain", "acme.example")
    ok(home, "add", "contact", "old@acme.example", "--account", "Acme")
    ok(home, "add", "deal", "Acme", "Open one")
    ok(home, "add", "deal", "Acme", "Done one")
    ok(home, "deal", "2", "won")
    return home


@pytest.mark.parametrize(("args", "needle"), [
    (("add", "account", "  "), "an account needs a name"),
    (("add", "account", "X", "--domain", "not a domain"), "not a domain name"),
    (("add", "account", "X", "--tier", "gold"), "tier must be"),
    (("add", "account", "Acme"), "already exists"),
    (("add", "contact", "nobody", "--account", "Acme"), "not an email address"),
    (("add", "contact", "a@b.example", "--account", "Nope"), "unknown account 'Nope'"),
    (("add", "contact", "old@acme.example", "--account", "Acme"), "belongs to another contact"),
    (("add", "deal", "Nope", "T"), "unknown account"),
    (("add", "deal", "Acme", "T", "--stage", "Won / support"), "won stage"),
    (("add", "deal", "Acme", "T", "--stage", "Nowhere"), "unknown stage"),
    (("add", "deal", "Acme", "T", "--value", "lots"), "bad amount"),
    (("add", "deal", "Acme", "T", "--close", "someday"), "not a date"),
    (("add", "deal", "Acme", "T", "--due", "fri"), "a due date needs a next action"),
    (("add", "deal", "Acme", "Open one"), "already has a deal titled"),
    (("deal", "x", "won"), "is not a number"),
    (("deal", "999", "won"), "no deal with id 999"),
    (("deal", "1", "won", "--value", "-3"), "bad amount"),
    (("deal", "1", "lost", "--reason", "bored"), "unknown lost reason"),
    (("deal", "1", "reopen"), "open already"),
    (("deal", "1", "move", "Lost"), "lost stage"),
    (("deal", "1", "move", "Nowhere"), "unknown stage"),
    (("deal", "1", "fly"), "invalid choice"),
    (("deal", "2", "move", "Closing"), "already won"),
    (("archive", "deal", "Open one"), "named by its id"),
    (("archive", "account", "Nope"), "no account named 'Nope'"),
    (("archive", "contact", "who@acme.example"), "no contact with email"),
    (("archive", "contact", "77"), "no contact with id 77"),
    (("archive", "planet", "1"), "invalid choice"),
    (("export", "deals", "--output", "/nonexistent-rapport/sub/deals.csv"), "no folder /nonexistent-rapport/sub"),
    (("export", "deals", "--output", "/"), "is a folder"),
])
def test_bad_input_is_one_line_exit_2(small_book: Path, home: Path, args: tuple[str, ...],
                                      needle: str) -> None:
    shutil.copytree(small_book, home)
    bad(home, *args, needle=needle)
    # Nothing half-written: the book is as it was.
    assert len(json.loads(ok(home, "export", "deals", "--format", "json"))) == 2
