"""Provides the mail commands: why, assign, unassign, override, pin, search (mail, or activities
with --activities), account from sender, and the `messages` kind of `rapport export`.

MESSAGE is a Message-ID (angle brackets optional) or the numeric id `rapport search --json`
prints; ACCOUNT is an account's name or one of its domains.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from typing import Any

from rapport.store.errors import InputError, NotFoundError
from rapport.tui.cli.common import open_ws, output_stream


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    """Add this group's subcommands to `subparsers` and its export kinds to `exporters`."""
    from rapport.tui.cli.main import add_home_option

    def command(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        add_home_option(parser)
        parser.set_defaults(handler=handler)
        return parser

    why = command("why", cmd_why, "explain which rule linked a message to its accounts")
    why.add_argument("message", metavar="MESSAGE", help="Message-ID or numeric id")

    assign = command("assign", cmd_assign, "link a message to an account by hand")
    assign.add_argument("message", metavar="MESSAGE")
    assign.add_argument("account", metavar="ACCOUNT", help="account name or domain")

    unassign = command("unassign", cmd_unassign, "never link a message to an account")
    unassign.add_argument("message", metavar="MESSAGE")
    unassign.add_argument("account", metavar="ACCOUNT")
    unassign.add_argument(
        "--clear", action="store_true", help="forget the manual assign/unassign instead"
    )

    override = command("override", cmd_override, "always or never link an address to an account")
    override.add_argument("address", metavar="ADDRESS")
    override.add_argument("account", metavar="ACCOUNT")
    mode = override.add_mutually_exclusive_group(required=True)
    mode.add_argument("--always", dest="mode", action="store_const", const="always")
    mode.add_argument("--never", dest="mode", action="store_const", const="never")
    mode.add_argument("--clear", dest="mode", action="store_const", const="clear")

    pin = command("pin", cmd_pin, "pin a message's thread to a deal; later replies follow")
    pin.add_argument("message", metavar="MESSAGE")
    pin.add_argument("deal", metavar="DEAL_ID", nargs="?", type=int)
    pin.add_argument("--clear", action="store_true", help="unpin the thread")

    search = command("search", cmd_search, "full-text search over subjects, bodies and addresses")
    search.add_argument("query", metavar="QUERY", nargs="+")
    search.add_argument("--json", action="store_true", help="a JSON list, for scripts")
    search.add_argument("--account", metavar="NAME", help="only this account's mail (activities)")
    search.add_argument("--activities", action="store_true",
                        help="search notes, calls, meetings and objections instead of mail")
    search.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")

    _register_from_sender(subparsers, add_home_option)
    exporters["messages"] = cmd_export_messages


def _register_from_sender(subparsers: Any, add_home_option: Any) -> None:
    """`rapport accounts from-sender`: join an existing `accounts` group, or start one."""
    group = subparsers.choices.get("accounts")
    if group is None:
        group = subparsers.add_parser("accounts", help="account commands")
        add_home_option(group)
        group.set_defaults(handler=lambda args: group.print_help() or 2)
    actions = [a for a in group._actions if isinstance(a, argparse._SubParsersAction)]
    inner = actions[0] if actions else group.add_subparsers(dest="accounts_command", metavar="SUB")
    text = "create an account (and contact) from a message's sender"
    parser = inner.add_parser("from-sender", help=text, description=text)
    add_home_option(parser)
    parser.add_argument("message", metavar="MESSAGE")
    parser.add_argument("--name", help="account name (default: from the domain)")
    parser.set_defaults(handler=cmd_from_sender)


def _account_id(db: Any, text: str) -> int:
    from rapport.store.book.accounts import find_account

    account = find_account(db, text)
    if account is None:
        raise NotFoundError(f"no account named {text!r} (give its name or one of its domains)")
    return account.id


def _describe(message: Any) -> str:
    sender = message.from_addr or message.from_name or "(no sender)"
    return f"message {message.id} <{message.message_id}> {message.date_utc} from {sender}: {message.subject!r}"


def cmd_why(args: argparse.Namespace) -> int:
    from rapport.store.mailstore.corrections import deal_for_message
    from rapport.store.mailstore.messages import find_message
    from rapport.store.mailstore.why import explain

    opened = open_ws(args, read_only=True)
    try:
        message = find_message(opened.db, args.message)
        reasons = explain(opened.db, message.id)
        deal = deal_for_message(opened.db, message.id)
    finally:
        opened.close()
    print(_describe(message))
    for reason in reasons:
        mark = "linked " if reason.linked else "       "
        print(f"  {mark} [{reason.rule}] {reason.text}")
    if deal is not None:
        print(f"  thread pinned to deal {deal}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    return _assignment(args, "assign")


def cmd_unassign(args: argparse.Namespace) -> int:
    return _assignment(args, "clear" if args.clear else "unassign")


def _assignment(args: argparse.Namespace, mode: str) -> int:
    from rapport.store.mailstore import corrections
    from rapport.store.mailstore.messages import find_message

    opened = open_ws(args)
    try:
        message = find_message(opened.db, args.message)
        account_id = _account_id(opened.db, args.account)
        action = {
            "assign": corrections.assign_message,
            "unassign": corrections.unassign_message,
            "clear": corrections.clear_assignment,
        }[mode]
        action(opened.db, message.id, account_id)
    finally:
        opened.close()
    verb = {"assign": "assigned to", "unassign": "unassigned from", "clear": "rules decide for"}
    print(f"message {message.id} {verb[mode]} {args.account}")
    return 0


def cmd_override(args: argparse.Namespace) -> int:
    from rapport.store.mailstore.corrections import set_override

    opened = open_ws(args)
    try:
        account_id = _account_id(opened.db, args.account)
        set_override(
            opened.db, args.address, account_id, None if args.mode == "clear" else args.mode
        )
    finally:
        opened.close()
    shown = "cleared" if args.mode == "clear" else args.mode
    print(f"{args.address.strip().lower()} -> {args.account}: {shown}")
    return 0


def cmd_pin(args: argparse.Namespace) -> int:
    from rapport.store.mailstore.corrections import pin_thread, unpin_thread
    from rapport.store.mailstore.messages import find_message

    if args.deal is None and not args.clear:
        raise InputError("give a DEAL_ID to pin to, or --clear to unpin")
    opened = open_ws(args)
    try:
        message = find_message(opened.db, args.message)
        if args.clear:
            unpin_thread(opened.db, message.thread_id)
        else:
            pin_thread(opened.db, message.thread_id, args.deal, pipeline=opened.config.pipeline)
    finally:
        opened.close()
    if args.clear:
        print(f"thread <{message.thread_id}> unpinned")
    else:
        print(f"thread <{message.thread_id}> pinned to deal {args.deal}")
    return 0


def _search(args: argparse.Namespace, search: Callable[..., list[Any]]) -> list[Any]:
    """`search(db, QUERY, account_id=, limit=)` on the workspace, --account resolved first."""
    if args.limit < 1:
        raise InputError(f"--limit {args.limit}: give at least 1")
    opened = open_ws(args, read_only=True)
    try:
        account_id = _account_id(opened.db, args.account) if args.account else None
        return search(opened.db, " ".join(args.query), account_id=account_id, limit=args.limit)
    finally:
        opened.close()


def _print_json(rows: list[dict[str, Any]]) -> int:
    json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from rapport.store.views.search import search_messages

    if args.activities:
        return _search_activities(args)
    hits = _search(args, search_messages)
    if args.json:
        return _print_json([
            {
                "id": h.id,
                "message_id": h.message_id,
                "date": h.date_utc,
                "from": h.from_addr or h.from_name,
                "subject": h.subject,
                "accounts": list(h.accounts),
            }
            for h in hits
        ])
    for h in hits:
        accounts = ", ".join(h.accounts) or "unassigned"
        print(
            f"{h.id:>7}  {h.date_utc[:10]}  {(h.from_addr or h.from_name)[:30]:<30}  "
            f"{h.subject[:60]}  [{accounts}]"
        )
    if not hits:
        print("no messages found", file=sys.stderr)
    return 0


def _search_activities(args: argparse.Namespace) -> int:
    from rapport.store.views.search import search_activities

    hits = _search(args, search_activities)
    if args.json:
        return _print_json([{"id": h.id, "date": h.date_utc, "kind": h.kind,
                             "account": h.account, "text": h.text} for h in hits])
    for h in hits:
        line = " ".join(h.text.split())
        print(f"{h.id:>7}  {h.date_utc[:10]}  {h.kind:<9}  {h.account[:24]:<24}  {line[:70]}")
    if not hits:
        print("no activities found", file=sys.stderr)
    return 0


def cmd_from_sender(args: argparse.Namespace) -> int:
    from rapport.store.mailstore.matching import linked_message_ids
    from rapport.store.mailstore.messages import find_message
    from rapport.store.mailstore.newcomers import account_from_sender

    opened = open_ws(args)
    try:
        message = find_message(opened.db, args.message)
        account, contact = account_from_sender(opened.db, message.id, name=args.name)
        linked = len(linked_message_ids(opened.db, account.id))
    finally:
        opened.close()
    domains = f" ({', '.join(account.domains)})" if account.domains else ""
    print(
        f"created account {account.name}{domains} with contact {contact.name} "
        f"<{contact.emails[0]}>; {linked} message{'s' if linked != 1 else ''} linked"
    )
    return 0


def cmd_export_messages(args: argparse.Namespace) -> int:
    from rapport.store.io.export import formula_safe
    from rapport.store.views.search import MESSAGE_COLUMNS, message_rows

    opened = open_ws(args, read_only=True)
    try:
        account = getattr(args, "account", None)
        account_id = _account_id(opened.db, account) if account else None
        rows = message_rows(opened.db, account_id=account_id)
    finally:
        opened.close()
    with output_stream(getattr(args, "output", None)) as out:
        if getattr(args, "format", "csv") == "json":
            json.dump(rows, out, ensure_ascii=False, indent=2)
            out.write("\n")
        else:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(MESSAGE_COLUMNS)
            for row in rows:
                cells = dict(row, accounts="; ".join(row["accounts"]))
                # Mail is hostile: a subject starting with "=" must not become a formula.
                writer.writerow([formula_safe(cells[c]) for c in MESSAGE_COLUMNS])
    return 0
