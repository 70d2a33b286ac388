"""Provides the workspace: where config.toml, the database and templates/ live, created private.

Rapport runs on shared servers, so every folder it creates is 0700 and every file 0600
whatever the umask says.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from rapport.store.errors import WorkspaceError

APP_NAME = "rapport"
DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace. `home` set means everything lives under that one folder."""

    config_dir: Path
    data_dir: Path

    @property
    def config_path(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "rapport.db"

    @property
    def templates_dir(self) -> Path:
        return self.config_dir / "templates"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal"


def resolve_workspace(home: str | os.PathLike[str] | None = None) -> Workspace:
    """The workspace for `--home DIR`, else `$RAPPORT_HOME`, else the XDG config/data dirs."""
    chosen = home if home is not None else os.environ.get("RAPPORT_HOME") or None
    if chosen is not None:
        root = Path(chosen).expanduser().absolute()
        return Workspace(config_dir=root, data_dir=root)
    return Workspace(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
    )


def _not_a_folder(path: Path) -> WorkspaceError:
    return WorkspaceError(f"{path} is not a folder (a file of that name is in the way)")


def make_private_dir(path: Path) -> Path:
    """Create `path` (and parents we create) as 0700; tighten it if it already exists.

    Only folders are ever chmod-ed: a user's file named like the workspace is left alone.
    """
    try:
        missing = []
        for folder in [path, *path.parents]:
            if folder.is_dir():
                break
            if os.path.lexists(folder) and not folder.is_symlink():
                raise _not_a_folder(folder)
            missing.append(folder)
        for folder in reversed(missing):
            folder.mkdir(mode=DIR_MODE, exist_ok=True)
            os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
        if not missing:
            os.chmod(path, DIR_MODE)
    except NotADirectoryError as exc:
        raise _not_a_folder(path) from exc
    except FileExistsError as exc:
        raise _not_a_folder(path) from exc
    except OSError as exc:
        raise WorkspaceError(f"cannot create workspace folder {path}: {exc.strerror}") from exc
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError as exc:  # an unreadable parent folder: EACCES is not "missing"
        raise WorkspaceError(f"cannot read {path.parent}: {exc.strerror}") from exc


def write_private_file(path: Path, data: str | bytes, *, overwrite: bool = True) -> bool:
    """Write `path` atomically with mode 0600. Returns False when it exists and not `overwrite`."""
    if _exists(path) and not overwrite:
        return False
    if not path.parent.is_dir():
        make_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # nothing to clean up when tmp was never created
            tmp.unlink(missing_ok=True)
        raise WorkspaceError(f"cannot write {path}: {exc.strerror}") from exc
    return True


def touch_private_file(path: Path) -> None:
    """Create an empty 0600 file if missing (so SQLite inherits the mode for -wal/-shm).

    An existing file is only chmod-ed, never opened: closing any descriptor of a file drops every
    POSIX lock this process holds on it, so opening and closing rapport.db while another of our
    connections is open would silently release SQLite's locks (and let another process delete
    the WAL under us).
    """
    try:
        if path.exists():
            if not path.is_file():
                raise WorkspaceError(f"{path} is not a file (a folder of that name is in the way)")
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & ~FILE_MODE:
                os.chmod(path, mode & FILE_MODE)  # tighten only: a read-only file stays read-only
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        os.close(fd)
    except FileExistsError:
        pass  # another process or thread created it first, 0600 like us
    except OSError as exc:
        raise WorkspaceError(f"cannot create {path}: {exc.strerror}") from exc


def check_writable(path: Path) -> None:
    """WorkspaceError unless we may write `path` and create files beside it (SQLite's -wal)."""
    if path.exists() and not os.access(path, os.W_OK):
        raise WorkspaceError(f"{path} is read-only: Rapport needs to write it (check its permissions)")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise WorkspaceError(f"folder {path.parent} is not writable: Rapport keeps its database there")
