"""Provides the book-keeping commands for scripts and cron: `rapport add`, `rapport deal`, `rapport archive`.

They go through the same store rules as the TUI's forms (store/book/records.py); bad input is one
line and exit 2, `--json` prints the created or changed object with its `id`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from rapport.store.money.currency import json_amount
from rapport.tui.cli.common import open_ws

ARCHIVE_KINDS = ("account", "contact", "deal")


def _home_option(parser: argparse.ArgumentParser) -> None:
    from rapport.tui.cli.main import add_home_option

    add_home_option(parser)


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the object (with its id) as JSON")


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    add = subparsers.add_parser("add", help="add an account, contact or deal")
    kinds = add.add_subparsers(dest="kind", metavar="KIND", required=True, parser_class=type(add))
    account = kinds.add_parser("account", help="rapport add account NAME --domain D [--tier T] [--tag X]")
    account.add_argument("name", metavar="NAME")
    account.add_argument("--domain", action="append", default=[], metavar="D", help="repeat for more")
    account.add_argument("--tier", default="standard", help="key or standard")
    account.add_argument("--tag", action="append", default=[], metavar="X", help="repeat for more")
    contact = kinds.add_parser("contact", help="rapport add contact EMAIL --account NAME [--name N] …")
    contact.add_argument("email", metavar="EMAIL")
    contact.add_argument("--account", required=True, metavar="NAME", help="its name or domain")
    contact.add_argument("--name", default="")
    contact.add_argument("--role", default="")
    contact.add_argument("--phone", default="")
    contact.add_argument("--opt-out", action="store_true", help="never mail it announcements")
    deal = kinds.add_parser("deal", help="rapport add deal ACCOUNT TITLE [--stage S] [--value V] …")
    deal.add_argument("account", metavar="ACCOUNT")
    deal.add_argument("title", metavar="TITLE")
    deal.add_argument("--stage", default="", help="an open stage (default: the first)")
    deal.add_argument("--value", default="")
    deal.add_argument("--currency", default="")
    deal.add_argument("--probability", default="")
    deal.add_argument("--close", default="", metavar="DATE", help="expected close")
    deal.add_argument("--next", default="", metavar="ACTION", help="the next action")
    deal.add_argument("--due", default="", metavar="DATE", help="when the next action is due")
    for parser in (account, contact, deal):
        _home_option(parser)
        _json_option(parser)
        parser.set_defaults(handler=_not_found_is_bad_input(cmd_add))

    decide = subparsers.add_parser(
        "deal", help="decide or move a deal: won, lost, reopen, move",
        description="rapport deal ID won [--value V] | lost --reason R [--note TEXT] | reopen | move STAGE")
    _home_option(decide)
    decide.add_argument("deal_id", metavar="ID", help="the deal's id (rapport export deals)")
    steps = decide.add_subparsers(dest="decision", metavar="ACTION", required=True, parser_class=type(decide))
    won = steps.add_parser("won", help="mark it won (at --value, default: its own value)")
    won.add_argument("--value", default="")
    lost = steps.add_parser("lost", help="mark it lost for --reason (see [pipeline] lost_reasons)")
    lost.add_argument("--reason", required=True)
    lost.add_argument("--note", default="")
    reopen = steps.add_parser("reopen", help="back to the open stage it left")
    move = steps.add_parser("move", help="move it to another open stage")
    move.add_argument("stage", metavar="STAGE")
    for parser in (won, lost, reopen, move):
        _home_option(parser)
        _json_option(parser)
        parser.set_defaults(handler=_not_found_is_bad_input(cmd_deal))

    archive = subparsers.add_parser(
        "archive", help="archive an account, contact or deal (hidden, never deleted)",
        description="REF: an id; an account's name or domain; a contact's email.")
    _home_option(archive)
    _json_option(archive)
    archive.add_argument("kind", choices=ARCHIVE_KINDS)
    archive.add_argument("ref", metavar="REF")
    archive.set_defaults(handler=_not_found_is_bad_input(cmd_archive))


def as_json(item: Any) -> dict[str, Any]:
    """A book record as JSON: dates in ISO form, money as a number exact to the currency's unit."""
    data = asdict(item)
    currency = str(data.get("currency") or "EUR")
    return {key: value.isoformat() if isinstance(value, date)
            else json_amount(value, currency) if isinstance(value, Decimal) else value
            for key, value in data.items()}


def _print(args: argparse.Namespace, item: Any, line: str) -> int:
    print(json.dumps(as_json(item), ensure_ascii=False) if getattr(args, "json", False) else line)
    return 0


def _not_found_is_bad_input(handler: Any) -> Any:
    """A REF or id that names nothing is a mistake in the command line: exit 2, as bad input."""
    def run(args: argparse.Namespace) -> int:
        from rapport.store.errors import InputError, NotFoundError

        try:
            return int(handler(args))
        except NotFoundError as exc:
            raise InputError(exc.message) from None

    return run


def cmd_add(args: argparse.Namespace) -> int:
    from rapport.store.book import records

    opened = open_ws(args, create=True)  # like import: the first record may start the book
    try:
        db = opened.db
        if args.kind == "account":
            values = {"name": args.name, "domains": " ".join(args.domain), "tier": args.tier,
                      "tags": ", ".join(args.tag)}
            account = records.save_account(db, values)
            return _print(args, account, f"account {account.id}: {account.name}")
        if args.kind == "contact":
            values = {"email": args.email, "account": args.account, "name": args.name,
                      "role": args.role, "phone": args.phone, "opt_out": "yes" if args.opt_out else "no"}
            contact = records.save_contact(db, values)
            return _print(args, contact, f"contact {contact.id}: {contact.name or contact.email}")
        values = {"account": args.account, "title": args.title, "stage": args.stage,
                  "value": args.value, "currency": args.currency, "probability": args.probability,
                  "expected_close": args.close, "next_action": args.next, "due": args.due}
        deal = records.save_deal(db, values, pipeline=opened.config.pipeline, today=date.today())
        return _print(args, deal, f"deal {deal.id}: {deal.account_name} — {deal.title} ({deal.stage})")
    finally:
        opened.close()


def _deal_id(text: str) -> int:
    from rapport.store.errors import InputError

    if not text.strip().isdigit():
        raise InputError(f"deal id {text!r} is not a number (see `rapport export deals`)")
    return int(text)


def cmd_deal(args: argparse.Namespace) -> int:
    from rapport.store.book import decisions
    from rapport.store.book.fields import parse_amount

    deal_id = _deal_id(args.deal_id)
    opened = open_ws(args)
    try:
        pipeline = opened.config.pipeline
        db = opened.db
        if args.decision == "won":
            value = parse_amount(args.value) if args.value.strip() else None
            deal = decisions.win_deal(db, deal_id, pipeline=pipeline, value=value)
            line = f"deal {deal.id} won: {decisions.money_text(deal.value)} {deal.currency}"
        elif args.decision == "lost":
            deal = decisions.lose_deal(db, deal_id, args.reason, pipeline=pipeline, note=args.note)
            line = f"deal {deal.id} lost: {deal.lost_reason}"
        elif args.decision == "reopen":
            deal = decisions.reopen_deal(db, deal_id, pipeline=pipeline)
            line = f"deal {deal.id} reopened in {deal.stage}"
        else:
            deal = decisions.move_open_deal(db, deal_id, args.stage, pipeline=pipeline)
            line = f"deal {deal.id} in {deal.stage}"
        return _print(args, deal, line)
    finally:
        opened.close()


def cmd_archive(args: argparse.Namespace) -> int:
    from rapport.store.book import accounts, contacts, deals
    from rapport.store.book.archive import archive, resolve_ref

    opened = open_ws(args)
    try:
        db = opened.db
        item_id = resolve_ref(db, args.kind, args.ref)
        changed = archive(db, args.kind, item_id)
        getter = {"account": accounts.get_account, "contact": contacts.get_contact,
                  "deal": deals.get_deal}[args.kind]
        item = getter(db, item_id)
        state = "archived" if changed else "was archived already"
        return _print(args, item, f"{args.kind} {item_id} {state}")
    finally:
        opened.close()
