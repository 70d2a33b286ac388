"""Tests the workspace on real files: migrations from any version, private modes, stage safety."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import tomllib
from pathlib import Path

import pytest
from sqlite_utils import Database

from rapport.mail.config import (
    MAILBOX_KEYS,
    MAILDIR_KEYS,
    SMTP_KEYS,
    mailbox_configs,
    maildir_configs,
    smtp_settings,
)
from rapport.mail.send.unsubscribe import ANNOUNCE_KEYS, announce_settings
from rapport.store import config as store_config
from rapport.store.book import accounts, deals
from rapport.store.db import open_database
from rapport.store.errors import ConfigError, WorkspaceError
from rapport.store.migrations import migrations, schema_version
from rapport.store.money.rates import MONEY_KEYS, RATE_KEYS
from rapport.store.session import open_workspace

MIGRATION_NAMES = [m.name for m in migrations._migrations]


def version_after(applied: int) -> int:
    """user_version once the first `applied` migrations ran: the highest of their numbers
    (numbers are reserved per branch of work, so they may skip, and set_version keeps the max)."""
    return max(int(name[1:4]) for name in MIGRATION_NAMES[:applied]) if applied else 0


NEWEST_VERSION = version_after(len(MIGRATION_NAMES))
README = Path(__file__).resolve().parent.parent / "README.md"


def schema(path: Path) -> dict[str, str]:
    """name -> SQL of every table, index and trigger (FTS shadow tables included)."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND sql IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    return dict(rows)


def test_migrations_from_empty(tmp_path: Path) -> None:
    db = open_database(tmp_path / "fresh.db")
    try:
        assert schema_version(db) == NEWEST_VERSION
        applied = [m.name for m in migrations.applied(db)]
        assert applied == MIGRATION_NAMES
        tables = set(db.table_names())
        assert {"accounts", "account_domains", "contacts", "contact_emails", "deals",
                "activities", "folders", "messages", "messages_fts", "activities_fts"} <= tables
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        db.close()


@pytest.mark.parametrize("stop_before", MIGRATION_NAMES)
def test_migrations_from_every_earlier_version(tmp_path: Path, stop_before: str) -> None:
    """A file left at any earlier schema (an older Rapport) upgrades to the same schema."""
    reference = tmp_path / "reference.db"
    open_database(reference).close()

    old = tmp_path / "old.db"
    db = Database(sqlite3.connect(old))
    migrations.apply(db, stop_before=stop_before)
    position = MIGRATION_NAMES.index(stop_before)
    assert schema_version(db) == version_after(position)
    if position >= 1:
        # Data written under the old schema must survive the upgrade.
        db.execute(
            "INSERT INTO accounts (name, created_utc, updated_utc)"
            " VALUES ('Old Account', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')"
        )
    db.close()

    upgraded = open_database(old)
    try:
        assert schema_version(upgraded) == NEWEST_VERSION
        if position >= 1:
            assert [a.name for a in accounts.list_accounts(upgraded)] == ["Old Account"]
    finally:
        upgraded.close()
    assert schema(old) == schema(reference)


FIXTURES = Path(__file__).resolve().parent / "fixtures"
RELEASED_DUMPS = sorted(FIXTURES.glob("schema_v*.sql"))


def test_every_released_schema_has_a_dump() -> None:
    """The dumps were made with each release's own migration code (see their README)."""
    versions = {int(p.stem.split("_")[1][1:]) for p in RELEASED_DUMPS}
    assert versions == {1, 2, 3, 5, 6}
    # m002 shipped twice (the index was once added to it in place): both files exist.
    assert {p.stem for p in RELEASED_DUMPS} >= {"schema_v2_21c8e01", "schema_v2_87118bd"}


@pytest.mark.parametrize("dump", RELEASED_DUMPS, ids=lambda p: p.stem)
def test_released_database_upgrades_to_todays_schema(tmp_path: Path, dump: Path) -> None:
    """A file written by an earlier release (its rows included) opens as today's schema."""
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript(dump.read_text(encoding="utf-8"))
    released_version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    reference = tmp_path / "fresh.db"
    open_database(reference).close()

    db = open_database(old)
    try:
        assert schema_version(db) == NEWEST_VERSION
        assert sorted(m.name for m in migrations.applied(db)) == sorted(MIGRATION_NAMES)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        [account] = accounts.list_accounts(db)
        assert (account.name, account.tier, account.domains) == ("Old Account", "key",
                                                                 ("old.example",))
        [deal] = deals.list_deals(db)
        assert (deal.title, deal.stage, deal.value) == ("Old Deal", "Closing", 1200)
        # m014: the REAL value became whole minor units (cents), exact.
        assert db.execute("SELECT value_minor FROM deals").fetchall() == [(120000,)]
        assert db.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'turbines'"
                          ).fetchall() == [(1,)]
        assert db.execute("SELECT rowid FROM activities_fts WHERE activities_fts MATCH"
                          " 'zeppelins'").fetchall() == [(1,)]
        assert db.execute("SELECT uid FROM messages WHERE flags_dirty = 1").fetchall() == [(1,)]
        # m008 rebuilt messages: the rows pointing at it are kept, and a deleted id never returns.
        assert db.execute("SELECT message_id, rule FROM message_accounts").fetchall() == [
            (1, "contact")]
        assert db.execute("SELECT message_id, address FROM message_addresses").fetchall() == [
            (1, "olga@old.example")]
        db.execute("DELETE FROM messages WHERE id = 1")
        db.execute("INSERT INTO messages (folder_id, uid, message_id, thread_id, date_utc)"
                   " VALUES (1, 2, 'm2@old.example', 'm2@old.example', '2025-06-02T09:00:00Z')")
        assert db.execute("SELECT id FROM messages").fetchall() == [(2,)]
        if released_version >= 3:
            # The announcement journal (rebuilt by m005) still knows Olga was reached.
            assert db.execute("SELECT contact_id, status FROM announcement_recipients"
                              ).fetchall() == [(1, "done")]
    finally:
        db.close()
    assert schema(old) == schema(reference)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_workspace_is_private_under_a_loose_umask(tmp_path: Path, umask_022: None) -> None:
    home = tmp_path / "shared-server" / "ws"
    opened = open_workspace(home)
    accounts.create_account(opened.db, "ACME", domains=["acme.com"])  # makes -wal/-shm exist
    found = modes(home)
    assert {"config.toml", "rapport.db", "rapport.db-wal", "rapport.db-shm"} <= set(found)
    opened.close()
    wrong = {
        name: oct(mode) for name, mode in found.items()
        if mode != (0o700 if (home / name).is_dir() else 0o600)
    }
    assert wrong == {}
    # The folder we created above the workspace is private too.
    assert stat.S_IMODE((tmp_path / "shared-server").stat().st_mode) == 0o700


def test_xdg_workspace_is_private(tmp_path: Path, umask_022: None) -> None:
    # conftest points XDG_CONFIG_HOME / XDG_DATA_HOME into tmp_path.
    opened = open_workspace(None)
    config_dir, data_dir = opened.workspace.config_dir, opened.workspace.data_dir
    opened.close()
    assert config_dir == tmp_path / "xdg-config" / "rapport"
    assert data_dir == tmp_path / "xdg-data" / "rapport"
    for root in (config_dir, data_dir):
        assert all(
            mode == (0o700 if (root / name).is_dir() else 0o600)
            for name, mode in modes(root).items()
        ), modes(root)


def test_rapport_home_env_names_the_workspace(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAPPORT_HOME", str(tmp_path / "from-env"))
    opened = open_workspace(None)
    opened.close()
    assert opened.workspace.db_path == tmp_path / "from-env" / "rapport.db"


def test_stage_rename_or_removal_refused_while_deals_use_it(home: Path) -> None:
    opened = open_workspace(home)
    acme = accounts.create_account(opened.db, "ACME")
    deals.create_deal(opened.db, acme.id, "Deal", "Objections", pipeline=opened.config.pipeline)
    opened.close()
    config = home / "config.toml"
    original = config.read_text()
    # Rename "Objections" -> "Concerns": the deal in Objections would be orphaned.
    config.write_text(original.replace('name = "Objections"', 'name = "Concerns"'))
    with pytest.raises(ConfigError, match=r"no longer has stage 'Objections' \(1 deal\)"):
        open_workspace(home)
    # Removing an unused stage is fine.
    config.write_text("\n".join(
        line for line in original.splitlines() if 'name = "Referral"' not in line
    ))
    opened = open_workspace(home)
    assert "Referral" not in opened.config.pipeline.names
    opened.close()


def test_bad_toml_names_the_line(home: Path) -> None:
    open_workspace(home).close()
    (home / "config.toml").write_text('stale_after_days = 30\n[me]\nname = "unterminated\n')
    with pytest.raises(ConfigError, match="line 3"):
        open_workspace(home)


@pytest.mark.parametrize(("toml", "needle"), [
    ("[me]\naddresses = 5\n", "[me] addresses must be a list"),
    ("[me]\naddresses = [1, 2]\n", "[me] addresses must be a list"),
    ("[me]\nname = 5\n", "[me] name must be a string"),
    ("stale_after_days = inf\n", "stale_after_days must be a whole number"),
    ("stale_after_days = nan\n", "stale_after_days must be a whole number"),
    ("stale_after_days = -1\n", "stale_after_days must be between 0 and"),
    ("stale_after_days = 1e300\n", "stale_after_days must be between 0 and"),
    ("sync_interval_minutes = 1e400\n", "sync_interval_minutes must be a whole number"),
    ("sync_interval_minutes = 0\n", "sync_interval_minutes must be between 1 and"),
    ("sync_interval_minutes = -5\n", "sync_interval_minutes must be between 1 and"),
    ("sync_interval_minutes = 2.5\n", "sync_interval_minutes must be a whole number"),
    ('[pipeline]\nstages = ["Lead", "   "]\n', "stage 2: needs a name"),
    ('[pipeline]\nstages = [{ name = "" }]\n', "stage 1: needs a name"),
    ('[pipeline]\nstages = [{ name = " \\t " }]\n', "stage 1: needs a name"),
    ('[pipeline]\nstages = [{ name = "A", rotting_days = inf }]\n', "rotting_days must be a whole"),
    ('[pipeline]\nstages = [{ name = "A", rotting_days = -3 }]\n', "rotting_days must be between 0"),
    ('[pipeline]\nstages = [{ name = "A", probability = 101 }]\n', "probability must be 0-100"),
    ('[pipeline]\nstages = [{ name = "A", probability = -1 }]\n', "probability must be 0-100"),
    ('[pipeline]\nstages = [{ name = "A", probability = nan }]\n', "probability must be 0-100"),
    ('[pipeline]\nstages = [{ name = "A", probability = "high" }]\n', "probability must be a number"),
    # A typo is refused, not silently ignored (the default would win without a word).
    ("stale_after_day = 10\n", "unknown key 'stale_after_day' at the top level"),
    ('[me]\nemail_address = "a@b.example"\n', "unknown key 'email_address' in [me]"),
    ("[pipeline]\nstale_days = 3\n", "unknown key 'stale_days' in [pipeline]"),
    ('[pipeline]\nstages = [{ name = "A", rotting = 3 }]\n', "unknown key 'rotting' in [pipeline] stage 'A'"),
])
def test_impossible_config_values_are_refused(home: Path, toml: str, needle: str) -> None:
    """Each was a TypeError/OverflowError traceback, or silently clamped to 0."""
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(toml)
    with pytest.raises(ConfigError) as caught:
        open_workspace(home)
    assert needle in caught.value.message
    assert caught.value.message.startswith(f"{home / 'config.toml'}: ")
    assert "\n" not in caught.value.message


def test_sane_config_values_still_read(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(
        "stale_after_days = 0\nsync_interval_minutes = 15.0\n"
        '[me]\naddresses = "me@example.com"\n'
        '[pipeline]\nstages = [" Lead  in ", { name = "Done", probability = 100, rotting_days = 0,'
        ' kind = "won" }]\n'
    )
    opened = open_workspace(home)
    config = opened.config
    opened.close()
    assert (config.stale_after_days, config.sync_interval_minutes) == (0, 15)
    assert config.me.addresses == ("me@example.com",)
    assert list(config.pipeline.names) == ["Lead in", "Done"]


def readme_config_example() -> str:
    """The ```toml block of the README's configuration reference."""
    section = README.read_text(encoding="utf-8").split("## Configuration reference", 1)[1]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


def test_readme_config_reference_is_what_the_loader_reads() -> None:
    """The README's example loads as written, and it names every key the loaders accept."""
    example = readme_config_example()
    config = store_config.parse_config(tomllib.loads(example))
    assert [box.name for box in mailbox_configs(config)] == ["work"]
    assert [box.name for box in maildir_configs(config)] == ["archive"]
    assert smtp_settings(config.raw).host == "smtp.example.com"
    assert announce_settings(config).url == ""  # every [announce] key is commented out
    assert config.pipeline == store_config.Pipeline()  # the default stages, as documented
    # Keys written as `key = ` (commented out or not, stage keys inside their inline tables).
    documented = set(re.findall(r"(?:^[#\s]*|\{ |, )([a-z_0-9]+) = ", example, flags=re.MULTILINE))
    accepted = {*store_config.TOP_LEVEL_KEYS, *store_config.ME_KEYS, *store_config.PIPELINE_KEYS,
                *store_config.STAGE_KEYS, *MONEY_KEYS, *RATE_KEYS, *MAILBOX_KEYS, *MAILDIR_KEYS,
                *SMTP_KEYS, *ANNOUNCE_KEYS}
    tables = {"me", "pipeline", "money", "mailbox", "maildir", "smtp", "announce"}
    assert sorted(accepted - tables - documented) == []
    assert sorted(documented - accepted) == []


@pytest.mark.parametrize(("toml", "needle"), [
    ('[[mailbox]]\nname = "w"\nhost = "h"\nusername = "u"\nkeyring = true\npasword_command = "p"\n',
     "unknown key 'pasword_command' in [[mailbox]] 'w'"),
    ('[[maildir]]\npath = "~/Mail"\nfolder = "x"\n', "unknown key 'folder' in [[maildir]] 1"),
    ('[smtp]\nhost = "h"\ntls_verify = false\n', "unknown key 'tls_verify' in [smtp]"),
])
def test_unknown_keys_in_mail_tables_are_refused(toml: str, needle: str) -> None:
    config = store_config.parse_config(tomllib.loads(toml))
    with pytest.raises(ConfigError) as caught:
        mailbox_configs(config)
        maildir_configs(config)
        smtp_settings(config.raw)
    assert needle in caught.value.message


def test_home_that_is_a_file_is_left_alone(tmp_path: Path) -> None:
    """--home naming a regular file: a one-line error, and the user's file keeps its mode."""
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes\n")
    precious.chmod(0o644)
    with pytest.raises(WorkspaceError, match="is not a folder"):
        open_workspace(precious)
    assert stat.S_IMODE(precious.stat().st_mode) == 0o644
    assert precious.read_text() == "my notes\n"
    # A file in the middle of the path is refused the same way, nothing created under it.
    with pytest.raises(WorkspaceError, match="is not a folder"):
        open_workspace(precious / "ws")
    assert precious.read_text() == "my notes\n"


def test_database_path_that_is_a_folder(home: Path) -> None:
    open_workspace(home).close()
    for name in ("rapport.db", "rapport.db-wal", "rapport.db-shm"):
        (home / name).unlink(missing_ok=True)
    (home / "rapport.db").mkdir()
    with pytest.raises(WorkspaceError, match="is not a file"):
        open_workspace(home)
    assert stat.S_IMODE((home / "rapport.db").stat().st_mode) != 0o600


def test_an_existing_read_only_database_is_not_made_writable(home: Path) -> None:
    """The mode is only ever tightened: a user's deliberate 0400 stays 0400."""
    open_workspace(home).close()
    db_path = home / "rapport.db"
    db_path.chmod(0o644)
    open_workspace(home).close()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    db_path.chmod(0o400)
    if os.geteuid() == 0:
        open_workspace(home).close()  # root writes anyway; what matters is the mode
    else:
        with pytest.raises(WorkspaceError, match="read-only"):
            open_workspace(home)
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o400
