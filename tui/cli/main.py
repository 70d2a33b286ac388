"""Provides `main()`, the `rapport` console script: parses arguments and maps errors to exit codes.

Command groups live in sibling modules, each with `register(subparsers, exporters)`; this module
only wires them. Errors derived from RapportError become one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from rapport.store.errors import RapportError

# `rapport export KIND`: each group registers the kinds it can export.
Exporter = Callable[[argparse.Namespace], int]


# The command groups, in the order `rapport --help` lists them.
COMMAND_GROUPS = ("book", "bookcmds", "contactcmds", "synccmd", "mailcmds", "attachcmds", "draftcmds",
                  "reportcmds", "ratescmd")
# The group that registers each command: a command line that names one imports and registers
# only that group (building all the commands' parsers, and importing their modules, cost a
# read-only command a third of its time). `export` takes its kinds from every group.
# tests/test_cli_read_only.py checks this against what each group registers.
COMMAND_GROUP: dict[str, str] = {
    "import": "book", "status": "book", "demo": "book", "init": "book",
    "add": "bookcmds", "archive": "bookcmds", "deal": "bookcmds",
    "contact": "contactcmds", "sync": "synccmd",
    "accounts": "mailcmds", "assign": "mailcmds", "override": "mailcmds", "pin": "mailcmds",
    "search": "mailcmds", "unassign": "mailcmds", "why": "mailcmds",
    "attachment": "attachcmds", "announce": "draftcmds", "draft": "draftcmds", "templates": "draftcmds",
    "report": "reportcmds", "rates": "ratescmd",
}


def _command_modules(command: str | None = None) -> list[Any]:
    """Every group's module; only the one registering `command` when it is known; none for ""
    (no command: the TUI)."""
    import importlib

    groups = () if command == "" else (COMMAND_GROUP[command],) if command in COMMAND_GROUP else COMMAND_GROUPS
    return [importlib.import_module(f"rapport.tui.cli.{group}") for group in groups]


def named_command(argv: Sequence[str]) -> str | None:
    """The command an argument list names (after `--home DIR`); "" when it names none (the TUI);
    None when another option comes first (argparse judges it with every command known)."""
    args = iter(argv)
    for arg in args:
        if arg == "--home":
            next(args, None)
        elif not arg.startswith("--home="):
            return None if arg.startswith("-") else arg
    return ""


def add_home_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="workspace folder holding config.toml, the database and templates/ "
        "(default: $RAPPORT_HOME, else the XDG config and data folders)",
    )


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size says it ($COLUMNS, else stdout's, else 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        stdout = sys.__stdout__
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns if stdout is not None else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, minus its `import shutil` for the width (shutil loads bz2 and
    lzma: a few ms every command paid, since argparse builds a formatter per added argument)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # Bad input is one line and exit 2, as everywhere else; the usage is one --help away.
        self.exit(2, f"rapport: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, Exporter]]:
    """The whole parser, or only `command`'s (and the top-level options) when it is given."""
    parser = _Parser(
        prog="rapport",
        description="Pipeline, inbox and client timelines in one keyboard-driven terminal workspace.",
    )
    add_home_option(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    exporters: dict[str, Exporter] = {}
    for module in _command_modules(command):
        module.register(subparsers, exporters)
    if command == "" or command in COMMAND_GROUP:
        return parser, exporters
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
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, _ = build_parser(named_command(argv))
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
