"""The CLI as a newcomer meets it: init, refused folders, exit 2 for bad input, clear wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from rapport.tui.cli.main import main
from tests.test_drafting_cli import _with_deals
from tests.test_search_cli import mail_home, run  # noqa: F401 (fixture)


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("argv", [["status"], ["search", "x"], ["templates"], ["export", "accounts"],
                                  ["sync"], ["report"], []])
def test_reading_commands_refuse_a_folder_that_is_not_a_workspace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    typo = tmp_path / "wrokspace"
    assert main(["--home", str(typo), *argv]) == 2
    err = _err(capsys)
    assert err.startswith(f"rapport: {typo} is not a Rapport workspace (no config.toml)")
    assert f"rapport init --home {typo}" in err
    assert not typo.exists()  # nothing created behind the user's back


def test_init_writes_config_and_templates_and_prints_the_next_three_steps(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    assert main(["init", "--home", str(home)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"workspace created: {home}"
    assert [line[:3] for line in out[1:]] == ["1. ", "2. ", "3. "]
    assert str(home / "config.toml") in out[1] and f"rapport sync --home {home}" in out[3]
    assert (home / "config.toml").read_text().startswith("# Rapport workspace configuration.")
    assert (home / "config.toml").stat().st_mode & 0o777 == 0o600
    assert (home / "templates" / "promotion.j2").is_file()
    assert main(["--home", str(home), "status"]) == 0
    capsys.readouterr()
    assert main(["init", "--home", str(home)]) == 0  # again: nothing overwritten
    assert capsys.readouterr().out.startswith(f"workspace already there: {home}")


def test_import_creates_a_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "accounts.csv"
    csv.write_text("name,domains\nAcme,acme.example\n")
    assert main(["--home", str(tmp_path / "ws"), "import", "accounts", str(csv)]) == 0
    assert (tmp_path / "ws" / "config.toml").is_file()


def test_missing_import_columns_are_said_to_be_missing(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "deals.csv"
    csv.write_text("value,stage\n10,Prospect\n")
    assert main(["--home", str(tmp_path / "ws"), "import", "deals", str(csv)]) == 2
    assert _err(capsys) == (f"rapport: {csv}: the account and title columns are missing "
                            "(the file has: stage, value)\n")


def test_unknown_account_and_message_exit_2(mail_home: Path,  # noqa: F811
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["why", "nope@nowhere"], ["assign", "hello@t", "No Such Co"],
                 ["search", "x", "--account", "No Such Co"], ["pin", "nope@x", "1"],
                 ["export", "messages", "--account", "No Such Co"]):
        code, _out, err = run(mail_home, capsys, *argv)
        assert code == 2 and err.startswith("rapport: no ") and err.count("\n") == 1, (argv, err)


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_search_limit_below_one_is_refused(mail_home: Path, capsys: pytest.CaptureFixture[str],  # noqa: F811
                                           limit: str) -> None:
    code, out, err = run(mail_home, capsys, "search", "price", "--limit", limit)
    assert (code, out) == (2, "") and err == f"rapport: --limit {limit}: give at least 1\n"


def test_override_needs_a_whole_address(mail_home: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    code, _out, err = run(mail_home, capsys, "override", "foo@bar", "Acme", "--always")
    assert code == 2 and err == "rapport: 'foo@bar' is not an email address\n"


def test_draft_new_to_an_unknown_address_names_it(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "ws"
    _with_deals(home)
    capsys.readouterr()
    assert main(["--home", str(home), "draft", "new", "proposal_sent", "--to", "unknown@x.example"]) == 2
    assert _err(capsys).startswith("rapport: no contact unknown@x.example")
