"""The read-only commands (status, search, why, export) open the workspace without sqlite-utils
(issue 15): what they load is asserted, never how long it takes; a database that needs setting
up or migrating is still opened, and migrated, as by every other command."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlite_utils import Database

from rapport.store.book import accounts, deals
from rapport.store.migrations import migrations, schema_version
from rapport.store.reader import ReadDatabase, migration_names
from rapport.store.session import open_for_reading, open_workspace

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Heavy modules a read-only command has no use for.
NOT_LOADED = ("sqlite_utils", "jinja2", "textual", "dateutil", "imapclient", "click")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    opened = open_workspace(home)
    acme = accounts.create_account(opened.db, "Acme", domains=["acme.example"]).id
    deals.create_deal(opened.db, acme, "Turbines", "Closing", pipeline=opened.config.pipeline, value="1200.50")
    opened.close()
    return home


def loaded_by(home: Path, *args: str, probe: tuple[str, ...] = NOT_LOADED) -> tuple[str, list[str]]:
    """Run `rapport --home HOME ARGS` in a fresh interpreter: its output and the modules of
    `probe` (by default the heavy ones) it imported."""
    script = ("import sys\nfrom rapport.tui.cli.main import main\ncode = main(sys.argv[1:])\n"
              f"print('LOADED', [m for m in {probe!r} if m in sys.modules], file=sys.stderr)\n"
              "sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", script, "--home", str(home), *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = result.stderr.split("LOADED ", 1)[1].strip()
    return result.stdout, json.loads(loaded.replace("'", '"'))


@pytest.mark.parametrize("args", [("status", "--json"), ("status",), ("search", "turbines"),
                                  ("export", "deals"), ("export", "messages", "--format", "json")])
def test_read_only_commands_load_no_heavy_module(home: Path, args: tuple[str, ...]) -> None:
    out, loaded = loaded_by(home, *args)
    assert loaded == []
    if args == ("status", "--json"):
        status = json.loads(out)
        assert status["deals"] == 1 and status["pipeline_value"]["open_value"] == 1200.5
    if args[0] == "export" and args[1] == "deals":
        assert "Turbines" in out


# Lighter modules `status` paid for without using them (issue 15: a few ms each): the XDG lookup
# (with --home), ctypes, shutil (argparse's terminal width), hashlib, importlib.resources, the deal rows.
STATUS_NOT_LOADED = ("platformdirs", "ctypes", "shutil", "hashlib", "importlib.resources",
                     "rapport.store.book.deals")


def test_status_loads_only_what_it_uses(home: Path) -> None:
    loaded_by(home, "status")  # the first command copies the built-in templates (a write)
    out, loaded = loaded_by(home, "status", "--json", probe=STATUS_NOT_LOADED)
    assert loaded == [] and json.loads(out)["deals"] == 1


def test_a_writing_command_still_loads_sqlite_utils(home: Path) -> None:
    """The check above can fail: the same probe sees sqlite-utils where it is used."""
    _out, loaded = loaded_by(home, "add", "account", "Borealis")
    assert "sqlite_utils" in loaded


def test_the_shipped_migrations_are_known_by_their_files() -> None:
    """The read path finds pending migrations by file name: each registered migration is named
    after its module, so a new one (a new file) sends the open through the migrating path."""
    registered = {m.name for m in migrations.pending(Database(memory=True))}
    assert registered and migration_names() == registered


def test_a_current_database_is_read_without_sqlite_utils(home: Path) -> None:
    opened = open_for_reading(home)
    try:
        assert isinstance(opened.db, ReadDatabase)
        assert [row["name"] for row in opened.db.query("SELECT name FROM accounts")] == ["Acme"]
    finally:
        opened.close()


def test_a_database_with_a_migration_to_apply_is_migrated(tmp_path: Path) -> None:
    """A database from an earlier release: status opens it the migrating way, and it upgrades."""
    home = tmp_path / "ws"
    open_workspace(home).close()
    (home / "rapport.db").unlink()
    conn = sqlite3.connect(home / "rapport.db")
    conn.executescript((FIXTURES / "schema_v6_a97b6aa.sql").read_text(encoding="utf-8"))
    conn.close()
    opened = open_for_reading(home)
    try:
        assert not isinstance(opened.db, ReadDatabase)
        assert migrations.pending(opened.db) == []
        assert schema_version(opened.db) >= 14
    finally:
        opened.close()
    again = open_for_reading(home)
    try:
        assert isinstance(again.db, ReadDatabase)  # migrated once: read the quick way from now on
    finally:
        again.close()


def test_a_missing_database_is_made_as_by_every_command(home: Path) -> None:
    shutil.rmtree(home / "templates", ignore_errors=True)
    (home / "rapport.db").unlink()
    opened = open_for_reading(home)
    try:
        assert not isinstance(opened.db, ReadDatabase) and migrations.pending(opened.db) == []
    finally:
        opened.close()


def test_each_command_is_mapped_to_the_group_that_registers_it() -> None:
    """main.py builds only the named command's group: its map must say what the groups register."""
    import argparse

    from rapport.tui.cli.main import COMMAND_GROUP, COMMAND_GROUPS, _command_modules, build_parser

    registered: dict[str, str] = {}
    for group, module in zip(COMMAND_GROUPS, _command_modules(), strict=True):
        subparsers = argparse.ArgumentParser().add_subparsers()
        module.register(subparsers, {})
        registered.update({command: group for command in subparsers.choices})
    assert registered == COMMAND_GROUP
    whole, _exporters = build_parser()
    [listed] = [action.choices for action in whole._actions if isinstance(action, argparse._SubParsersAction)]
    assert set(listed) == set(COMMAND_GROUP) | {"export"}


@pytest.mark.parametrize(("argv", "command"), [
    ([], ""), (["--home", "x"], ""), (["--home=x"], ""), (["status"], "status"),
    (["--home", "x", "search", "q"], "search"), (["--home=x", "why", "3"], "why"), (["-h"], None),
    (["--home", "x", "--help"], None), (["export", "deals"], "export"),
])
def test_the_command_is_read_after_the_home_option(argv: list[str], command: str | None) -> None:
    from rapport.tui.cli.main import named_command

    assert named_command(argv) == command

