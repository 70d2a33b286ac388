"""Provides `open_workspace`: the folder, its config and its migrated database, ready to use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from rapport.store.config import DEFAULT_CONFIG, Config, load_config
from rapport.store.db import open_database
from rapport.store.errors import ConfigError
from rapport.store.workspace import (
    Workspace,
    make_private_dir,
    resolve_workspace,
    write_private_file,
)


@dataclass
class OpenWorkspace:
    """A workspace with its config read and its database open (on the calling thread)."""

    workspace: Workspace
    config: Config
    db: Database

    def close(self) -> None:
        self.db.close()

    def reopen_db(self) -> Database:
        """A new connection to the same file, for another thread."""
        return open_database(self.workspace.db_path)


def ensure_workspace(workspace: Workspace) -> Workspace:
    """Create the folders (0700) and a default config.toml (0600) if they are missing."""
    make_private_dir(workspace.config_dir)
    make_private_dir(workspace.data_dir)
    write_private_file(workspace.config_path, DEFAULT_CONFIG, overwrite=False)
    return workspace


def check_stages_in_use(db: Database, config: Config) -> None:
    """Refuse a pipeline that renamed or removed a stage deals still use."""
    configured = {name.casefold() for name in config.pipeline.names}
    rows = db.execute("SELECT stage, count(*) FROM deals GROUP BY stage").fetchall()
    orphans = [(stage, n) for stage, n in rows if stage.casefold() not in configured]
    if orphans:
        listed = ", ".join(f"{stage!r} ({n} deal{'s' if n != 1 else ''})" for stage, n in orphans)
        where = config.path or "config.toml"
        raise ConfigError(
            f"{where}: [pipeline] no longer has stage {listed}; "
            "move those deals to another stage before renaming or removing it"
        )


def open_workspace(home: str | Path | None = None, *, create: bool = True) -> OpenWorkspace:
    """Resolve `--home`/`$RAPPORT_HOME`/XDG, create what is missing, read config, open the DB."""
    workspace = resolve_workspace(home)
    if create:
        ensure_workspace(workspace)
    config = load_config(workspace.config_path)
    db = open_database(workspace.db_path)
    try:
        check_stages_in_use(db, config)
    except ConfigError:
        db.close()
        raise
    return OpenWorkspace(workspace=workspace, config=config, db=db)
