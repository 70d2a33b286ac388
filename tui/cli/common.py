"""Provides helpers shared by the CLI command modules: opening the workspace, writing output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rapport.store.session import OpenWorkspace


def open_ws(args: argparse.Namespace, *, create: bool = False, read_only: bool = False,
            lazy: bool = False) -> OpenWorkspace:
    """The workspace named by `--home` (or $RAPPORT_HOME / XDG). Only commands that create
    (import, init) pass `create`; the others refuse a folder that is not a workspace.

    `read_only` (status, search, why, export): a plain SQLite connection, no sqlite-utils loaded:
    these commands answer in a blink (issue 15). `lazy` (sync): sqlite-utils loaded only when the
    command needs more than plain reads and writes (store/lazydb.py)."""
    from rapport.store import session

    if read_only:
        opened = session.open_for_reading(getattr(args, "home", None))
    elif lazy:
        opened = session.open_for_sync(getattr(args, "home", None))
    else:
        opened = session.open_workspace(getattr(args, "home", None), create=create)
    from rapport.mail.draft.install import install_default_templates

    install_default_templates(opened.workspace)  # built-in templates, user-editable copies
    return opened


@contextmanager
def output_stream(path: str | None) -> Iterator[IO[str]]:
    """stdout, or a 0600 file written only once the command succeeded."""
    if not path:
        yield sys.stdout
        return
    import io

    from rapport.store.errors import InputError
    from rapport.store.workspace import write_private_file

    if not Path(path).parent.is_dir():  # a mistyped folder is an error, not a folder to create
        raise InputError(f"no folder {Path(path).parent} to write {Path(path).name} into")
    if Path(path).is_dir():
        raise InputError(f"{path} is a folder: give a file name to write")
    buffer = io.StringIO()
    yield buffer
    write_private_file(Path(path), buffer.getvalue())
