"""Provides `mailbox_lock`: one sync per mailbox at a time, across processes (as mbsync locks).

A TUI sync, a cron `rapport sync` and a `--watch` may all run at once; two of them syncing the
same mailbox would interleave their batches and state writes. Each sync of a mailbox takes an
exclusive `flock` on `locks/<mailbox>.lock` next to the database, held only while it syncs
(not while a watcher waits in IDLE). The lock file says who holds it; the kernel drops the lock
when its holder dies, even by kill -9, so no stale lock is ever left to clean up.
"""

from __future__ import annotations

import fcntl  # POSIX only, like the shared servers Rapport runs on
import hashlib
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rapport.mail.errors import MailError
from rapport.store.reader import database_file
from rapport.store.timeutil import utc_now_text
from rapport.store.workspace import make_private_dir

if TYPE_CHECKING:
    from sqlite_utils import Database

# How long a second sync waits for the first to finish a mailbox before it skips it.
WAIT_SECONDS = float(os.environ.get("RAPPORT_LOCK_WAIT", "10") or 10)


class MailboxBusy(MailError):
    """Another sync (this process or another) holds the mailbox's lock: it was skipped."""


def lock_path(db: Database, mailbox: str) -> Path | None:
    """`locks/<mailbox>.lock` beside the database file; None for an in-memory database."""
    stored_in = database_file(db)
    if stored_in is None:
        return None
    # A readable name plus a hash: any mailbox name maps to one safe file name.
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", mailbox)[:40]
    digest = hashlib.sha256(mailbox.casefold().encode()).hexdigest()[:8]
    return stored_in.parent / "locks" / f"{readable}-{digest}.lock"


def _holder(path: Path) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return "another sync"
    return " ".join(text.split())[:200] or "another sync"


@contextmanager
def mailbox_lock(db: Database, mailbox: str, *, wait: float | None = None,
                 kind: str = "mailbox") -> Iterator[None]:
    """Hold `mailbox`'s sync lock for the block; MailboxBusy after `wait` s (default
    WAIT_SECONDS) if another sync keeps it."""
    path = lock_path(db, mailbox)
    if path is None:
        yield
        return
    make_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + (WAIT_SECONDS if wait is None else wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise MailboxBusy(
                        f"another sync of it is running ({_holder(path)}); skipped this time",
                        mailbox=mailbox) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        command = " ".join(os.path.basename(a) for a in sys.argv[:2]) or "python"
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, {command}, since "
                      f"{utc_now_text()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


__all__ = ["MailboxBusy", "lock_path", "mailbox_lock"]
