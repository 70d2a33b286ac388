"""Provides `main()`, the `rapport` console script: parses arguments and maps errors to exit codes.

Command groups live in sibling modules, each with `register(subparsers, exporters)`; this module
only wires them. Errors derived from RapportError become one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from rapport.store.errors import RapportError

# `rapport export KIND`: each group registers the kinds it can export.
Exporter = Callable[[argparse.Namespace], int]


def _command_modules() -> list[Any]:
    from rapport.tui.cli import (
        attachcmds,
        book,
        bookcmds,
        contactcmds,
        draftcmds,
        mailcmds,
        ratescmd,
        reportcmds,
        synccmd,
    )

    return [book, bookcmds, contactcmds, synccmd, mailcmds, attachcmds, draftcmds, reportcmds,
            ratescmd]


def add_home_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="workspace folder holding config.toml, the database and templates/ "
        "(default: $RAPPORT_HOME, else the XDG config and data folders)",
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # Bad input is one line and exit 2, as everywhere else; the usage is one --help away.
        self.exit(2, f"rapport: {message} (see {self.prog} --help)\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Exporter]]:
    parser = _Parser(
        prog="rapport",
        description="Pipeline, inbox and client timelines in one keyboard-driven terminal workspace.",
    )
    add_home_option(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    exporters: dict[str, Exporter] = {}
    for module in _command_modules():
        module.register(subparsers, exporters)
    export = subparsers.add_parser("export", help="export accounts, contacts, deals or messages")
    add_home_option(export)
    export.add_argument("kind", choices=sorted(exporters))
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--account", metavar="NAME", help="messages: only this account's")
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    export.add_argument("--archived", action="store_true",
                        help="accounts, contacts, deals: include archived rows")
    export.set_defaults(handler=lambda args: exporters[args.kind](args))
    return parser, exporters


def main(argv: Sequence[str] | None = None) -> int:
    parser, _ = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "home"):
        args.home = None
    try:
        if args.command is None:
            from rapport.tui.app.launch import run_tui

            return run_tui(args.home)
        return int(args.handler(args) or 0)
    except RapportError as exc:
        print(f"rapport: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except sqlite3.OperationalError as exc:
        # A writer held the database past the busy timeout (or the disk failed): one line.
        if "locked" in str(exc) or "busy" in str(exc):
            print("rapport: the database is locked by another Rapport; try again", file=sys.stderr)
        else:
            print(f"rapport: database error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rapport: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
