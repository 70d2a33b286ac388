"""Provides `rapport sync [--mailbox NAME] [--watch]`: IMAP mail into the workspace, headless.

Exit status: 0 when every mailbox and folder synced, 1 when any failed (each failure is one line
on stderr naming the mailbox and the cause, said as it happens and again at the end, after the
per-folder lines; the other mailboxes are still synced). `--watch` runs
until Ctrl-C or until no mailbox can be watched any more, and then exits 1 if any mailbox gave up.
Ctrl-C, with or without `--watch`, ends the progress bar, lets the watchers stop between batches
and exits 130 after one line (main's "rapport: interrupted"): a shell loop around `rapport sync`
then stops too, as it would not if Ctrl-C looked like a normal exit.
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

from rapport.store.errors import InputError


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    """Add this group's subcommands to `subparsers` and its export kinds to `exporters`."""
    from rapport.tui.cli.main import add_home_option

    parser = subparsers.add_parser(
        "sync",
        help="fetch mail from the [[mailbox]] servers of config.toml",
        description="Sync IMAP mailboxes into the workspace: new mail, flags and deletions. "
        "Interrupted syncs resume where they stopped.",
    )
    add_home_option(parser)
    parser.add_argument("--mailbox", action="append", metavar="NAME",
                        help="only this mailbox (repeatable); default: all")
    parser.add_argument("--watch", action="store_true",
                        help="keep running: IMAP IDLE (or polling), reconnecting after errors")
    parser.add_argument("--interval", type=float, metavar="SECONDS",
                        help="--watch: resync at least this often "
                        "(default: sync_interval_minutes of config.toml)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print failures only")
    parser.set_defaults(handler=run_sync)


def run_sync(args: argparse.Namespace) -> int:
    from rapport.mail.config import mailbox_configs, maildir_configs
    from rapport.mail.sync.run import sync_all
    from rapport.tui.cli.common import open_ws
    from rapport.tui.render.progress import ProgressPrinter

    # --watch keeps the connection for hours, and syncs on threads of their own connections.
    opened = open_ws(args, lazy=not args.watch)
    try:
        if not mailbox_configs(opened.config) and not maildir_configs(opened.config):
            raise InputError(
                f"no [[mailbox]] or [[maildir]] in {opened.workspace.config_path}; add one "
                "(see README, Configuration)"
            )
        printer = ProgressPrinter(quiet=args.quiet)
        try:
            if args.watch:
                return _watch(opened, args, printer)
            summaries = sync_all(opened, args.mailbox, report=printer)
        except KeyboardInterrupt:
            printer.finish()  # the interrupted line starts on a line of its own
            raise
        printer.summarize(summaries)
        return 0 if all(s.ok for s in summaries) else 1
    finally:
        opened.close()


def _watch(opened: Any, args: argparse.Namespace, printer: Any) -> int:
    from rapport.mail.sync.watch import watch

    stop = threading.Event()
    threads = watch(opened, args.mailbox, report=printer, stop=stop, interval=args.interval)
    try:
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.5)
    except KeyboardInterrupt:
        stop.set()  # each watcher stops after its current batch (committed) or IDLE second
        for thread in threads:
            thread.join(timeout=5)
        raise
    # A mailbox that could not be watched (its secret unreadable) was reported; it is a failure.
    return 1 if any(thread.gave_up for thread in threads) else 0
