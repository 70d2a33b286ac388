"""Provides `open_workspace`: the folder, its config and its migrated database, ready to use."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rapport.store.config import DEFAULT_CONFIG, Config, load_config
from rapport.store.errors import ConfigError, NotAWorkspace
from rapport.store.workspace import (
    Workspace,
    check_writable,
    make_private_dir,
    resolve_workspace,
    write_private_file,
)

if TYPE_CHECKING:
    from sqlite_utils import Database


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
        from rapport.store.db import open_database

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


def is_workspace(workspace: Workspace) -> bool:
    """A folder is a workspace once it has its config.toml or its database (whatever their state:
    an unreadable config is reported by its loader, not as 'not a workspace')."""
    return os.path.lexists(workspace.config_path) or os.path.lexists(workspace.db_path)


def not_a_workspace(workspace: Workspace) -> NotAWorkspace:
    folder = workspace.config_dir
    if folder.exists() and not folder.is_dir():
        return NotAWorkspace(f"{folder} is not a folder (a file of that name is in the way)")
    # A --home (or $RAPPORT_HOME) folder holds everything; the XDG default needs no option.
    init = f"rapport init --home {folder}" if folder == workspace.data_dir else "rapport init"
    return NotAWorkspace(f"{folder} is not a Rapport workspace (no config.toml); create one with "
                         f"`{init}`, or try `rapport demo`")


def next_steps(workspace: Workspace) -> list[str]:
    """The three steps from a new workspace to a working one (also shown by an empty TUI)."""
    home = workspace.config_dir
    option = f" --home {home}" if home == workspace.data_dir else ""
    return [f"1. Edit {workspace.config_path}: your name and address under [me], and a "
            "[[mailbox]] (IMAP) or [[maildir]] to read mail from.",
            f"2. Import your book: rapport import accounts FILE.csv{option} (then contacts, deals).",
            f"3. Sync and open it: rapport sync{option}, then rapport{option}."]


def open_workspace(home: str | Path | None = None, *, create: bool = True) -> OpenWorkspace:
    """Resolve `--home`/`$RAPPORT_HOME`/XDG, read config, open the DB. With `create`, a new
    workspace is made; without, a folder that is not a workspace is refused (NotAWorkspace):
    a mistyped --home never leaves an empty workspace behind."""
    workspace = resolve_workspace(home)
    if not create and not is_workspace(workspace):
        raise not_a_workspace(workspace)
    ensure_workspace(workspace)  # a workspace's missing parts (an XDG data folder) are made
    config = load_config(workspace.config_path)
    # Imported here: store.db loads sqlite-utils and the migrations, which open_for_reading avoids.
    from rapport.store.db import open_database

    return _checked(workspace, config, open_database(workspace.db_path))


def open_for_reading(home: str | Path | None = None) -> OpenWorkspace:
    """The workspace for a command that only reads (status, search, why, export): its config and
    a plain SQLite connection, without loading sqlite-utils. A database that is missing or needs
    setting up or migrating is opened by `open_workspace` instead, which does that.

    Only `db.execute`, `db.query`, `db.conn` and `db.close` work on what it returns (store/reader.py); the
    read-only commands use nothing else, and their tests run through here."""
    from rapport.store.reader import open_reader

    return _open_plain(home, open_reader, ensure=False)


def open_for_sync(home: str | Path | None = None) -> OpenWorkspace:
    """`open_workspace(home, create=False)` for `rapport sync`, with sqlite-utils imported only once
    the sync needs more than reading folder states and stamping them (store/lazydb.py): a sync
    that finds nothing new never loads it."""
    from rapport.store.lazydb import open_lazily

    return _open_plain(home, open_lazily, ensure=True)


def _open_plain(home: str | Path | None, connect: Callable[[Path, int], object | None], *,
                ensure: bool) -> OpenWorkspace:
    """The workspace with the database opened by `connect` (not sqlite-utils); through
    `open_workspace` when `connect` declines (a database to set up or migrate)."""
    from rapport.store.reader import busy_timeout_ms

    workspace = resolve_workspace(home)
    if not is_workspace(workspace):
        raise not_a_workspace(workspace)
    if ensure:
        ensure_workspace(workspace)  # as open_workspace: a workspace's missing parts are made
    config = load_config(workspace.config_path)
    check_writable(workspace.db_path)  # as every command: a read-only database is reported, not half-used
    plain = connect(workspace.db_path, busy_timeout_ms())
    if plain is None:
        return open_workspace(home, create=False)
    # The part of Database the caller uses (store/reader.py, store/lazydb.py).
    return _checked(workspace, config, cast("Database", plain))


def _checked(workspace: Workspace, config: Config, db: Database) -> OpenWorkspace:
    """The opened workspace, once the stages its deals use are in the config (closed if not)."""
    try:
        check_stages_in_use(db, config)
    except ConfigError:
        db.close()
        raise
    return OpenWorkspace(workspace=workspace, config=config, db=db)


def open_for_tui(home: str | Path | None = None) -> OpenWorkspace:
    """The workspace for the TUI: as `open_workspace`, but a database already set up and migrated
    is opened without loading sqlite-utils, which loads on the first write instead (store/lazydb.py's
    DeferredDatabase): the first screen only reads, and paints sooner."""
    from rapport.store.lazydb import DeferredDatabase, open_lazily
    from rapport.store.reader import busy_timeout_ms

    workspace = ensure_workspace(resolve_workspace(home))
    config = load_config(workspace.config_path)
    check_writable(workspace.db_path)
    deferred = open_lazily(workspace.db_path, busy_timeout_ms(), DeferredDatabase)
    if deferred is None:
        return open_workspace(home)  # new, or to migrate: the full open sets it up
    # sqlite-utils' Database from the first write on.
    return _checked(workspace, config, cast("Database", deferred))
