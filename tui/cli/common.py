"""Provides helpers shared by the CLI command modules: opening the workspace, writing output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rapport.store.session import OpenWorkspace, open_workspace


def open_ws(args: argparse.Namespace, *, create: bool = False) -> OpenWorkspace:
    """The workspace named by `--home` (or $RAPPORT_HOME / XDG). Only commands that create
    (import, init) pass `create`; the others refuse a folder that is not a workspace."""
    opened = open_workspace(getattr(args, "home", None), create=create)
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

    from rapport.store.workspace import write_private_file

    buffer = io.StringIO()
    yield buffer
    write_private_file(Path(path), buffer.getvalue())
