"""Tests the workspace on real files: migrations from any version, private modes, stage safety."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from rapport.store import accounts, deals
from rapport.store.db import open_database
from rapport.store.errors import ConfigError
from rapport.store.migrations import migrations, schema_version
from rapport.store.session import open_workspace

MIGRATION_NAMES = [m.name for m in migrations._migrations]


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
        assert schema_version(db) == len(MIGRATION_NAMES)
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
    assert schema_version(db) == position
    if position >= 1:
        # Data written under the old schema must survive the upgrade.
        db.execute(
            "INSERT INTO accounts (name, created_utc, updated_utc)"
            " VALUES ('Old Account', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')"
        )
    db.close()

    upgraded = open_database(old)
    try:
        assert schema_version(upgraded) == len(MIGRATION_NAMES)
        if position >= 1:
            assert [a.name for a in accounts.list_accounts(upgraded)] == ["Old Account"]
    finally:
        upgraded.close()
    assert schema(old) == schema(reference)


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


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
