"""Provides the workspace: where config.toml, the database and templates/ live, created private.

Rapport runs on shared servers, so every folder it creates is 0700 and every file 0600
whatever the umask says.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    import platformdirs  # only without --home / $RAPPORT_HOME: it loads ctypes and tempfile (~8 ms)

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
    write_private_files([(path, data.encode("utf-8") if isinstance(data, str) else data)])
    return True


# A file being written is `.<name>.tmp<pid>` beside its final name (see sweep_temp_files).
TMP_MARK = ".tmp"


def write_private_files(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write each (path, bytes) atomically with mode 0600 and durably, as one batch; their
    folders must exist.

    Each file is written under a temporary name, then all the data is synced at once, then
    each is renamed into place and its folder synced: a name always holds a whole file that
    is on disk. One sync per batch, not one per file: an fsync per file is what made 10,000
    outbox drafts take 8 s.
    """
    pending: list[tuple[Path, Path]] = []
    fds: list[int] = []
    current = files[0][0] if files else Path()
    try:
        for current, raw in files:
            tmp = current.with_name(f".{current.name}{TMP_MARK}{os.getpid()}")
            pending.append((tmp, current))
            fds.append(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE))
            os.fchmod(fds[-1], FILE_MODE)  # the umask may have narrowed or widened it
            _write_all(fds[-1], raw)
        _sync_files(fds)
        for tmp, current in pending:
            os.replace(tmp, current)
        for folder in dict.fromkeys(path.parent for _, path in pending):
            current = folder
            _sync_folder(folder)
    except OSError as exc:
        raise WorkspaceError(f"cannot write {current}: {exc.strerror or exc}") from exc
    finally:
        for fd in fds:
            os.close(fd)
        for tmp, _ in pending:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)  # only what was not renamed is still there


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2): one call puts every written file of the filesystem on disk, where a
    batch of fsync calls costs one journal commit each. None where libc has no syncfs."""
    import ctypes  # only when files are written: a read-only command never pays for it

    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None
    function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
    return function


def _sync_files(fds: Sequence[int]) -> None:
    syncfs = _syncfs() if len(fds) > 1 else None
    if syncfs is None:
        for fd in fds:
            os.fsync(fd)
    elif syncfs(fds[0]) != 0:
        import ctypes

        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def _sync_folder(folder: Path) -> None:
    """fsync the folder, so the renames into it survive a power cut too."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_temp_files(folder: Path, pattern: str = "*") -> None:
    """Remove the temporary files (of final names matching `pattern`) that a killed writer
    left in `folder`; a live process's are left alone."""
    if not folder.is_dir():
        return
    for path in folder.glob(f".{pattern}{TMP_MARK}*"):
        pid = path.name.rpartition(TMP_MARK)[2]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
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
