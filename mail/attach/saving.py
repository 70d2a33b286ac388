"""Provides `save_bytes`: write an attachment into a folder without ever overwriting or escaping it.

The bytes go to a private temporary file in the target folder (mode 0600), are flushed to disk,
and only then get their name: by a hard link, which fails when the name exists (no race with
another writer), else by a rename after a check. An interrupted save leaves no half-written file
under the attachment's name, and an existing `quote.pdf` makes the next one `quote (2).pdf`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rapport.mail.attach.names import clean_filename, numbered
from rapport.store.errors import InputError, RapportError

MAX_NUMBER = 1000
FILE_MODE = 0o600


class SaveFailed(RapportError):
    """The file system refused the save (permissions, full disk)."""


def target_for(destination: Path | None, default_dir: Path, name: str,
               content_type: str) -> tuple[Path, str]:
    """(folder, file name) for a save: `destination` may be a folder or a file path (whose
    folder must exist); without one, `default_dir` and the cleaned attachment name."""
    if destination is None:
        return default_dir, clean_filename(name, content_type)
    destination = destination.expanduser()
    if destination.is_dir():
        return destination, clean_filename(name, content_type)
    if not destination.parent.is_dir():
        raise InputError(f"{destination.parent} is not a folder")
    return destination.parent, clean_filename(destination.name, content_type)


def _write_temp(folder: Path, data: bytes) -> Path:
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".rapport-", suffix=".part")
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temp)
        raise
    os.close(fd)
    return Path(temp)


def _claim(temp: Path, target: Path) -> bool:
    """Give `temp` the name `target` unless it exists; whether it did."""
    try:
        os.link(temp, target)
    except FileExistsError:
        return False
    except OSError:
        # No hard links here (some FUSE or FAT mounts): check, then rename.
        if target.exists() or target.is_symlink():
            return False
        os.replace(temp, target)
        return True
    temp.unlink()
    return True


def save_bytes(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` as `folder/name` (or `name (2)`, ...); the path written. `name` must be
    clean already (see clean_filename); the folder is made (0700) when missing."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = _write_temp(folder, data)
    except OSError as exc:
        raise SaveFailed(f"cannot write in {folder}: {exc.strerror or exc}") from exc
    try:
        for number in range(1, MAX_NUMBER + 1):
            target = folder / numbered(name, number)
            # The name itself, never what a symlink under it points to, must be in the folder.
            if target.parent != folder or target.name in ("", ".", "..") or os.sep in name:
                raise InputError(f"refusing to write {name!r} outside {folder}")
            if _claim(temp, target):
                return target
        raise SaveFailed(f"{folder} already holds {MAX_NUMBER} files named like {name!r}")
    except OSError as exc:
        raise SaveFailed(f"cannot write {name!r} in {folder}: {exc.strerror or exc}") from exc
    finally:
        if temp.exists():
            temp.unlink()
