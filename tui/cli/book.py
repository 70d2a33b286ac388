"""Provides the account-book commands: `rapport import`, `status`, `demo` and the book exports."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rapport.tui.cli.common import open_ws, output_stream

IMPORT_KINDS = ("accounts", "contacts", "deals")


def _home_option(parser: argparse.ArgumentParser) -> None:
    from rapport.tui.cli.main import add_home_option

    add_home_option(parser)


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    """Add import/status/demo to `subparsers` and accounts/contacts/deals to `exporters`."""
    imp = subparsers.add_parser(
        "import",
        help="import accounts, contacts or deals (CSV, JSON; contacts also vCard)",
        description="Import a file in one transaction: any bad row rejects the whole file "
        "(each bad line is listed) unless --skip-bad. Re-importing updates, never duplicates.",
    )
    _home_option(imp)
    imp.add_argument("kind", choices=IMPORT_KINDS)
    imp.add_argument("file", metavar="FILE", type=Path)
    imp.add_argument("--skip-bad", action="store_true", help="import the good rows, report the rest")
    imp.set_defaults(handler=cmd_import)

    status = subparsers.add_parser("status", help="what the workspace holds; last sync")
    _home_option(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

    init = subparsers.add_parser(
        "init", help="create a workspace: a commented config.toml and the draft templates",
        description="Create a workspace (folders 0700, files 0600) and print the next steps. "
        "An existing workspace is left as it is.")
    _home_option(init)
    init.set_defaults(handler=cmd_init)

    demo = subparsers.add_parser(
        "demo",
        help="build a demo workspace (accounts, deals, 18 months of mail) and open it",
        description="Build a deterministic demo workspace, rebuilt on each run. Default folder: "
        "rapport-demo in the XDG data folder.",
    )
    demo.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                      help="where to build it (a previous demo there is replaced)")
    demo.add_argument("--no-tui", action="store_true", help="only build it")
    demo.set_defaults(handler=cmd_demo)

    for kind in IMPORT_KINDS:
        exporters[kind] = cmd_export


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cmd_import(args: argparse.Namespace) -> int:
    from rapport.store.errors import InputError
    from rapport.store.io.importer import ImportRejected, import_file

    opened = open_ws(args, create=True)
    try:
        try:
            result = import_file(
                opened.db, args.kind, args.file, pipeline=opened.config.pipeline,
                skip_bad=args.skip_bad,
            )
        except ImportRejected as exc:
            for bad in exc.bad:
                print(f"{bad.where(args.file)}: {bad.reason}", file=sys.stderr)
            raise InputError(exc.message) from None
    finally:
        opened.close()
    for bad in result.bad:
        print(f"{bad.where(args.file)}: skipped: {bad.reason}", file=sys.stderr)
    deals = (f" (deals: {result.deals_created} created, {result.deals_updated} updated)"
             if result.deals_created or result.deals_updated else "")
    print(
        f"{args.kind}: {result.created} created, {result.updated} updated"
        + (f", {_plural(len(result.bad), 'bad row')} skipped" if result.bad else "")
        + deals
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rapport.store.io.export import export

    opened = open_ws(args, read_only=True)
    try:
        with output_stream(args.output) as stream:
            export(opened.db, args.kind, args.format, stream, archived=getattr(args, "archived", False),
                   pipeline=opened.config.pipeline)
    finally:
        opened.close()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from rapport.store.views.status import status_text, workspace_status

    opened = open_ws(args, read_only=True)
    try:
        status = workspace_status(opened.db, opened.config.pipeline, opened.workspace.db_path,
                                  opened.config.money)
    finally:
        opened.close()
    if args.json:
        print(json.dumps(status, indent=2, ensure_ascii=False))
    else:
        print(status_text(status))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from rapport.store.session import is_workspace, next_steps
    from rapport.store.workspace import resolve_workspace

    existed = is_workspace(resolve_workspace(getattr(args, "home", None)))
    opened = open_ws(args, create=True)  # config.toml and templates/ (built-ins copied)
    workspace = opened.workspace
    opened.close()
    print(f"{'workspace already there' if existed else 'workspace created'}: {workspace.config_dir}")
    print("\n".join(next_steps(workspace)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from rapport.tui.demo.build import build_demo, default_demo_home

    home = Path(args.home).expanduser() if getattr(args, "home", None) else default_demo_home()
    opened = build_demo(home, progress=lambda text: print(text, file=sys.stderr))
    summary = f"demo workspace ready: {home}  (rapport --home {home})"
    opened.close()
    print(summary)
    if args.no_tui:
        return 0
    from rapport.tui.app.launch import run_tui

    return run_tui(str(home))
