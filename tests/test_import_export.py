"""Tests `rapport import` / `rapport export` through the real CLI on real workspace files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from rapport.store.book import accounts, activities, contacts, deals
from rapport.store.errors import InputError
from rapport.store.session import open_workspace
from rapport.tui.cli.main import main

ACCOUNTS_CSV = """\
Name,DOMAIN,tier,owner,tags,stage,value,currency,expected_close,next_action,next_action_due,notes
ACME Chemicals,acme.com; acme-chem.de,key,Sam,"chemicals, export",Proposal presented,"12,500.50",EUR,2027-03-01,Send revised offer,3 Dec 2026,"two
lines"
Borealis Logistics,borealis.eu,standard,,logistics,,,,,,,
Cortex Foods,cortex-foods.fr,,Kim,food,Won / support,80000,eur,,,,
"""

CONTACTS_CSV = """\
account,name,email,role,phone,opt_out
ACME Chemicals,Ann Lee,ann@acme.com;ann.lee@acme.com,Buyer,+49 30 1234,no
,Bo Berg,bo@borealis.eu,CFO,,yes
cortex-foods.fr,Chloé Roux,,Head of purchasing,,
"""

DEALS_CSV = """\
account,title,stage,value,currency,probability,expected_close,next_action,next_action_due
ACME Chemicals,Solvents framework,Closing,40000,EUR,85%,2027-01-15,Call legal,2026-12-20
"""


def run(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def counts(home: Path) -> tuple[int, int, int, int]:
    opened = open_workspace(home)
    try:
        return tuple(  # type: ignore[return-value]
            opened.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("accounts", "contacts", "deals", "activities")
        )
    finally:
        opened.close()


def export_all(home: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    out = {}
    for kind in ("accounts", "contacts", "deals"):
        assert run(home, "export", kind, "--format", fmt) == 0
        out[kind] = capsys.readouterr().out
    return out


@pytest.fixture
def book(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    home = tmp_path / "book"
    assert run(home, "import", "accounts", str(write(tmp_path, "a.csv", ACCOUNTS_CSV))) == 0
    assert run(home, "import", "contacts", str(write(tmp_path, "c.csv", CONTACTS_CSV))) == 0
    assert run(home, "import", "deals", str(write(tmp_path, "d.csv", DEALS_CSV))) == 0
    capsys.readouterr()
    return home


def test_import_reads_every_column(book: Path) -> None:
    opened = open_workspace(book)
    db = opened.db
    by_title = {d.title: d for d in deals.list_deals(db)}
    acme = by_title["ACME Chemicals"]
    assert (acme.stage, acme.value, acme.expected_close.isoformat(), acme.next_action,
            acme.next_action_due.isoformat()) == (
        "Proposal presented", 12500.5, "2027-03-01", "Send revised offer", "2026-12-03")
    assert by_title["Cortex Foods"].currency == "EUR"
    assert by_title["Solvents framework"].probability == 85
    ann = contacts.find_contact_by_email(db, "ann.lee@acme.com")
    assert ann and ann.emails == ("ann@acme.com", "ann.lee@acme.com") and ann.role == "Buyer"
    bo = contacts.find_contact_by_email(db, "bo@borealis.eu")
    # No account column: the address's domain names the account.
    assert bo and bo.opted_out and bo.account_id == ann.account_id + 1
    names = {c.name: c.account_id for c in contacts.list_contacts(db)}
    assert names["Chloé Roux"] is not None
    opened.close()


def _without_ids(exports: dict[str, str], fmt: str) -> dict[str, object]:
    deals_text = exports["deals"]
    if fmt == "json":
        rows = [{k: v for k, v in row.items() if k != "id"} for row in json.loads(deals_text)]
    else:
        rows = [line.split(",", 1)[1] for line in deals_text.splitlines()]
    return {**exports, "deals": rows}


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_round_trips(book: Path, tmp_path: Path, fmt: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    first = export_all(book, fmt, capsys)
    copy = tmp_path / f"copy-{fmt}"
    for kind in ("accounts", "contacts", "deals"):
        path = write(tmp_path, f"{kind}.{fmt}", first[kind])
        assert run(copy, "import", kind, str(path)) == 0
    capsys.readouterr()
    # Deal ids are the workspace's own (a new workspace numbers them in import order).
    assert _without_ids(export_all(copy, fmt, capsys), fmt) == _without_ids(first, fmt)
    assert counts(copy)[:3] == counts(book)[:3] == (3, 3, 3)
    if fmt == "json":
        rows = json.loads(first["accounts"])
        assert rows[0]["domain"] == ["acme.com", "acme-chem.de"] and rows[0]["value"] == 12500.5


def test_reimport_updates_never_duplicates(book: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    before = counts(book)
    for kind, text in (("accounts", ACCOUNTS_CSV), ("contacts", CONTACTS_CSV), ("deals", DEALS_CSV)):
        assert run(book, "import", kind, str(write(tmp_path, f"again-{kind}.csv", text))) == 0
    assert counts(book) == before
    assert "0 created, 3 updated" in capsys.readouterr().out
    # Keyed by domain: a renamed account row updates the same account and moves its deal.
    moved = ACCOUNTS_CSV.replace("ACME Chemicals,acme.com", "ACME Chemie,acme.com").replace(
        "Proposal presented", "Objections")
    assert run(book, "import", "accounts", str(write(tmp_path, "moved.csv", moved))) == 0
    opened = open_workspace(book)
    acme = [d for d in deals.list_deals(opened.db) if d.title == "ACME Chemicals"][0]
    assert (acme.account_name, acme.stage) == ("ACME Chemie", "Objections")
    changes = activities.list_activities(opened.db, acme.account_id, kinds=["stage_change"])
    assert [(a.from_stage, a.to_stage) for a in changes] == [("Proposal presented", "Objections")]
    opened.close()
    assert counts(book)[:3] == before[:3]


BAD_ACCOUNTS = """\
name,domain,stage,value,expected_close
Good One,good.com,Prospect,10,
Bad Date,bad-date.com,Prospect,10,32/13/2026
Bad Stage,bad-stage.com,Dreaming,10,
,nameless.com,,,
Good One Again,good.com,Prospect,10,
Bad Value,bad-value.com,Prospect,lots,
"""

BAD_CONTACTS = """\
account,name,email
Known,Ann,ann@known.com
Nowhere Inc,Bob,bob@nowhere.com
Known,Ann Twin,ANN@known.com
Known,Broken,not-an-address
"""


def test_bad_rows_reject_the_whole_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    code = run(home, "import", "accounts", str(write(tmp_path, "bad.csv", BAD_ACCOUNTS)))
    err = capsys.readouterr().err
    assert code == 2
    assert counts(home) == (0, 0, 0, 0)
    lines = err.strip().splitlines()
    assert [line.split(": ", 1)[0].rsplit(":", 1)[1] for line in lines[:-1]] == [
        "3", "4", "5", "6", "7"]
    assert "bad date '32/13/2026' in expected_close" in lines[0]
    assert "unknown stage 'Dreaming'" in lines[1]
    assert "missing name" in lines[2]
    assert "duplicate account" in lines[3] and "also on line 2" in lines[3]
    assert "bad amount 'lots'" in lines[4]
    assert lines[-1].startswith("rapport: ") and "5 of 6 rows are bad; nothing imported" in lines[-1]
    assert "Traceback" not in err

    assert run(home, "import", "accounts", str(write(tmp_path, "known.csv", "name\nKnown\n"))) == 0
    code = run(home, "import", "contacts", str(write(tmp_path, "badc.csv", BAD_CONTACTS)))
    err = capsys.readouterr().err
    assert code == 2 and counts(home)[1] == 0
    assert "badc.csv:3: unknown account 'Nowhere Inc'" in err
    assert "badc.csv:4: duplicate email ann@known.com (also on line 2)" in err
    assert "badc.csv:5: 'not-an-address' is not an email address" in err


def test_skip_bad_imports_the_good_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    code = run(home, "import", "accounts", str(write(tmp_path, "bad.csv", BAD_ACCOUNTS)), "--skip-bad")
    captured = capsys.readouterr()
    assert code == 0
    assert "1 created, 0 updated, 5 bad rows skipped" in captured.out
    assert "bad.csv:4: skipped: unknown stage 'Dreaming'" in captured.err
    assert counts(home)[:3] == (1, 0, 1)


VCARDS = """\
BEGIN:VCARD
VERSION:3.0
FN:Ann Lee
N:Lee;Ann;;;
ORG:ACME Chemicals;Purchasing
TITLE:Buyer
EMAIL;TYPE=INTERNET:ann.private@acme.com
EMAIL;TYPE=INTERNET,pref:ann@acme.com
TEL;TYPE=WORK:+49 30 1234
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Jürgen Kühn
EMAIL;PREF=1:juergen@borealis.eu
TEL;VALUE=uri:tel:+33-1-23
END:VCARD
"""


def test_vcard_3_and_4(book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "people.vcf", VCARDS)
    assert run(book, "import", "contacts", str(path)) == 0
    assert "1 created, 1 updated" in capsys.readouterr().out
    opened = open_workspace(book)
    ann = contacts.find_contact_by_email(opened.db, "ann.private@acme.com")
    assert ann and ann.emails == ("ann@acme.com", "ann.lee@acme.com", "ann.private@acme.com")
    jk = contacts.find_contact_by_email(opened.db, "juergen@borealis.eu")
    assert jk and jk.name == "Jürgen Kühn" and jk.account_id is not None
    opened.close()
    bad = write(tmp_path, "bad.vcf", VCARDS.replace("ORG:ACME Chemicals", "ORG:Unknown GmbH"))
    assert run(book, "import", "contacts", str(bad)) == 2
    assert "bad.vcf:1: unknown account 'Unknown GmbH'" in capsys.readouterr().err


def test_spreadsheet_csv_semicolons_bom_and_cp1252(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """What a European Excel saves: ';' separators, decimal commas, a BOM or Windows-1252."""
    text = ("Name;Domain;Stage;Value;Expected_Close\n"
            "Südzucker Logistik;suedlog.de;Closing;12.500,50;01.02.2027\n")
    home = tmp_path / "ws"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert run(home, "import", "accounts", str(bom)) == 0
    windows = tmp_path / "win.csv"
    windows.write_bytes(text.replace("Closing", "Objections").encode("cp1252"))
    assert run(home, "import", "accounts", str(windows)) == 0
    opened = open_workspace(home)
    [deal] = deals.list_deals(opened.db)
    opened.close()
    assert (deal.account_name, deal.stage, deal.value, deal.expected_close.isoformat()) == (
        "Südzucker Logistik", "Objections", 12500.5, "2027-02-01")


def import_err(home: Path, kind: str, path: Path, capsys: pytest.CaptureFixture[str],
               *extra: str) -> tuple[int, list[str]]:
    code = run(home, "import", kind, str(path), *extra)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip().splitlines()


def test_json_rows_with_impossible_text_are_bad_items(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A lone surrogate was a UnicodeEncodeError traceback; lists, objects and NULs got in."""
    home = tmp_path / "ws"
    path = tmp_path / "a.json"
    path.write_text('[{"name": "\\ud800"}, {"name": ["a", "b"]}, {"name": {"x": 1}},'
                    ' {"name": "nul\\u0000here"}, {"name": "Fine", "domain": ["fine.com", "fine.de"],'
                    ' "tags": ["x", "y"]}, 7]', encoding="utf-8")
    code, lines = import_err(home, "accounts", path, capsys)
    assert code == 2
    assert lines[:-1] == [
        f"{path}: item 1: name: is not valid Unicode (a lone surrogate)",
        f"{path}: item 2: name: a list where one value was expected",
        f"{path}: item 3: name: an object where one value was expected",
        f"{path}: item 4: name: contains a NUL character",
        f"{path}: item 6: not a JSON object",
    ]
    assert lines[-1].startswith("rapport: ") and "5 of 6 rows are bad" in lines[-1]
    assert counts(home)[0] == 0
    assert run(home, "import", "accounts", str(path), "--skip-bad") == 0
    opened = open_workspace(home)
    [fine] = accounts.list_accounts(opened.db)
    opened.close()
    # Lists are fine where a column holds several values, as `export --format json` writes them.
    assert (fine.name, fine.domains, fine.tags) == ("Fine", ("fine.com", "fine.de"), ("x", "y"))


def test_terminal_escapes_never_reach_the_book(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    evil = "Evil\x1b]0;pwned\x07 GmbH"
    csv_text = (f"name,domain,owner,tags,notes\n\"{evil}\",evil.com,\"Sam\x1b[31m\",\"a\x9b1m,b\","
                "\"line one\nline\ttwo\x1b[2J\"\n")
    assert run(home, "import", "accounts", str(write(tmp_path, "evil.csv", csv_text))) == 0
    contacts_csv = "account,name,role,email\nEvil GmbH,\"Eve\x1b[8m Hidden\",\"CFO\x07\",eve@evil.com\n"
    assert run(home, "import", "contacts", str(write(tmp_path, "c.csv", contacts_csv))) == 0
    opened = open_workspace(home)
    [account] = accounts.list_accounts(opened.db)
    [contact] = contacts.list_contacts(opened.db)
    opened.close()
    assert (account.name, account.owner, account.tags) == ("Evil GmbH", "Sam", ("a", "b"))
    assert account.notes == "line one\nline\ttwo"
    assert (contact.name, contact.role) == ("Eve Hidden", "CFO")


@pytest.mark.parametrize("cell", ["1", "March", "monday", "12:30", "99", "1 Mar", "March 2026",
                                  "31.02.2026", "2026-13-01"])
def test_dates_need_a_day_a_month_and_a_year(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             cell: str) -> None:
    """Each of these used to import as a made-up date in 2000 (or this year), exit 0."""
    home = tmp_path / "ws"
    path = write(tmp_path, "d.csv", f"name,expected_close\nACME,{cell}\n")
    code, lines = import_err(home, "accounts", path, capsys)
    assert code == 2
    assert lines[0].startswith(f"{path}:2: bad date {cell!r} in expected_close")
    assert counts(home)[0] == 0


@pytest.mark.parametrize(("cell", "day"), [
    ("2026-03-01", "2026-03-01"), ("1 Mar 2026", "2026-03-01"), ("03/01/2026", "2026-03-01"),
    ("1.3.2026", "2026-03-01"), ("2026-03-01T23:30:00Z", "2026-03-01"),
    ("2026-03-01 09:15", "2026-03-01"), ("March 1, 2026", "2026-03-01"),
])
def test_real_dates_still_read(tmp_path: Path, cell: str, day: str) -> None:
    home = tmp_path / "ws"
    assert run(home, "import", "accounts",
               str(write(tmp_path, "d.csv", f"name,expected_close\nACME,\"{cell}\"\n"))) == 0
    opened = open_workspace(home)
    [deal] = deals.list_deals(opened.db)
    opened.close()
    assert deal.expected_close is not None and deal.expected_close.isoformat() == day


@pytest.mark.parametrize(("text", "name"), [
    ('name,domain\n"ACME,acme.com\nBorealis,borealis.eu\n', "2"),
    ('name\nACME\n"V";"x"\n', "3"),
])
def test_malformed_csv_is_a_file_error_naming_the_line(tmp_path: Path, text: str, name: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    path = write(tmp_path, "bad.csv", text)
    code, lines = import_err(home, "accounts", path, capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"rapport: {path}:{name}: not valid CSV")
    assert counts(home)[0] == 0


def test_a_quote_left_open_that_closes_later_is_a_bad_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Valid CSV by the letter, but a name that swallowed three lines is a stray quote."""
    home = tmp_path / "ws"
    path = write(tmp_path, "bad.csv", 'name,domain\n"ACME,acme.com\nFoo,foo.com\nBar",bar.com\n')
    code, lines = import_err(home, "accounts", path, capsys)
    assert code == 2
    assert lines[0] == f"{path}:2: name runs over lines 2-4 (a quote left open?)"


def test_duplicate_columns_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    path = write(tmp_path, "dup.csv", "name,domain,Name\nACME,acme.com,Other\n")
    code, lines = import_err(home, "accounts", path, capsys)
    assert code == 2
    assert lines == [f"rapport: {path}:1: column 'name' appears twice in the header"]


def test_unparseable_vcard_line_is_a_bad_row_in_our_format(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """vobject used to drop the line (and log its own 'Skipped line 7' on stderr)."""
    home = tmp_path / "ws"
    text = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Good Card\r\nEMAIL:good@example.com\r\nEND:VCARD\r\n"
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nEMAIL;;;;:\r\nEND:VCARD\r\n")
    path = write(tmp_path, "c.vcf", text)
    code, lines = import_err(home, "contacts", path, capsys)
    assert code == 2
    assert lines == [f"{path}:9: unreadable vCard line 'EMAIL;;;;:'",
                     f"rapport: {path}: 1 of 2 rows are bad; nothing imported (fix them, or use "
                     "--skip-bad to import the good rows)"]
    assert counts(home)[1] == 0


def test_binary_file_header_is_not_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    path = tmp_path / "blob.csv"
    path.write_bytes(b"\x1b]0;pwned\x07\x1b[31mred,\x07bell\n1,2\n")
    code, lines = import_err(home, "accounts", path, capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0] == f"rapport: {path}: the name column is missing (the file has: bell, red)"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00name\n")
    code, lines = import_err(home, "accounts", path, capsys)
    assert code == 2 and len(lines) == 1 and "\x00" not in lines[0] and "\x7f" not in lines[0]
    assert "NUL" in lines[0]


@pytest.mark.parametrize(("sep", "cell", "value"), [
    (";", "12.500", "12500"), (";", "1.234.567", "1234567"), (";", "12.500,50", "12500.5"),
    (";", "12,5", "12.5"), (";", "1,234", "1.234"), (";", "12.5", "12.5"), (";", "12.50", "12.5"),
    (",", '"12,500.50"', "12500.5"), (",", "12.500", "12.5"), (",", '"1,234"', "1234"),
    ("\t", "12.345", "12.345"),
])
def test_amounts_follow_the_files_conventions(tmp_path: Path, sep: str, cell: str,
                                              value: str) -> None:
    """In a ';' file (European spreadsheets) '.' groups thousands and ',' is the decimal mark.

    In Bahraini dinars, which have three decimals: 1.234 and 12.345 are exact amounts there."""
    home = tmp_path / "ws"
    text = f"name{sep}value{sep}currency\nACME{sep}{cell}{sep}bhd\n"
    assert run(home, "import", "accounts", str(write(tmp_path, "v.csv", text))) == 0
    opened = open_workspace(home)
    [deal] = deals.list_deals(opened.db)
    opened.close()
    assert (deal.value, deal.currency) == (Decimal(value), "BHD")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_contact_without_account_stays_without_one(tmp_path: Path, fmt: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Unlinked at a domain an account owns: the export says '-', so import never guesses."""
    home = tmp_path / "ws"
    opened = open_workspace(home)
    acme = accounts.create_account(opened.db, "ACME", domains=["acme.com"])
    contacts.create_contact(opened.db, account_id=None, name="Free Lancer",
                            emails=["free@acme.com"])
    contacts.create_contact(opened.db, account_id=acme.id, name="Ann", emails=["ann@acme.com"])
    opened.close()
    exported = export_all(home, fmt, capsys)
    for target in (home, tmp_path / "copy"):
        for kind in ("accounts", "contacts"):
            assert run(target, "import", kind, str(write(tmp_path, f"{kind}.{fmt}",
                                                          exported[kind]))) == 0
        opened = open_workspace(target)
        linked = {c.name: c.account_id is not None for c in contacts.list_contacts(opened.db)}
        opened.close()
        assert linked == {"Ann": True, "Free Lancer": False}
    capsys.readouterr()
    assert export_all(tmp_path / "copy", fmt, capsys) == exported
    # An empty cell still means "find the account from the email's domain".
    assert run(home, "import", "contacts", str(write(
        tmp_path, "infer.csv", "account,name,email\n,Bea,bea@acme.com\n"))) == 0
    opened = open_workspace(home)
    bea = contacts.find_contact_by_email(opened.db, "bea@acme.com")
    opened.close()
    assert bea is not None and bea.account_id == acme.id


def test_exported_deals_of_one_account_import_back(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Deals are keyed by account and title, so the API refuses a second deal of one title."""
    home = tmp_path / "ws"
    opened = open_workspace(home)
    pipeline = opened.config.pipeline
    acme = accounts.create_account(opened.db, "ACME")
    other = accounts.create_account(opened.db, "Borealis")
    deals.create_deal(opened.db, acme.id, "Framework 2027", "Prospect", pipeline=pipeline)
    with pytest.raises(InputError, match="ACME' already has a deal titled 'framework 2027'"):
        deals.create_deal(opened.db, acme.id, "framework  2027", "Closing", pipeline=pipeline)
    second = deals.create_deal(opened.db, acme.id, "Spare parts", "Closing", pipeline=pipeline)
    with pytest.raises(InputError, match="already has a deal titled"):
        deals.update_deal(opened.db, second.id, title="FRAMEWORK 2027")
    deals.update_deal(opened.db, second.id, title="Spare Parts")  # its own title, recased
    deals.create_deal(opened.db, other.id, "Framework 2027", "Prospect", pipeline=pipeline)
    opened.close()
    exported = export_all(home, "csv", capsys)
    copy = tmp_path / "copy"
    said = []
    for kind in ("accounts", "deals"):
        assert run(copy, "import", kind, str(write(tmp_path, f"{kind}.csv", exported[kind]))) == 0
        said.append(capsys.readouterr().out.strip())
    # Three rows, two accounts: ACME is created once, not created then "updated" by its 2nd deal.
    assert said == ["accounts: 2 created, 0 updated (deals: 3 created, 0 updated)",
                    "deals: 0 created, 3 updated"]
    assert export_all(copy, "csv", capsys) == exported
    assert counts(copy)[2] == 3
