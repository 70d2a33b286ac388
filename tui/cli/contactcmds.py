"""Provides `rapport contact EMAIL [show | clear-bounce]`: a contact's reachability by hand."""

from __future__ import annotations

import argparse
from typing import Any

from rapport.tui.cli.common import open_ws

ACTIONS = ("show", "clear-bounce")


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    from rapport.tui.cli.main import add_home_option

    contact = subparsers.add_parser(
        "contact", help="show a contact's opt-out and bounce, or clear its bounce",
        description="show: name, account, opt-out and bounce of the contact with this address. "
        "clear-bounce: the address delivers again (announcements reach it).")
    add_home_option(contact)
    contact.add_argument("email", metavar="EMAIL")
    contact.add_argument("action", nargs="?", choices=ACTIONS, default="show")
    contact.set_defaults(handler=cmd_contact)


def cmd_contact(args: argparse.Namespace) -> int:
    from rapport.store.book.accounts import get_account
    from rapport.store.book.contacts import find_contact_by_email, normalize_email
    from rapport.store.errors import NotFoundError
    from rapport.store.mailstore.bounces import address_bounce, clear_bounce
    from rapport.tui.app.safe import clean

    email = normalize_email(args.email)  # InputError (exit 2) for what is no address
    opened = open_ws(args)
    try:
        contact = find_contact_by_email(opened.db, email)
        if contact is None:
            raise NotFoundError(f"no contact has the address {email}")
        if args.action == "clear-bounce":
            had = clear_bounce(opened.db, email)
            print(f"{email}: bounce cleared" if had else f"{email}: had no bounce mark")
            return 0
        account = get_account(opened.db, contact.account_id).name if contact.account_id else ""
        when, reason = address_bounce(opened.db, email)
        bounced = f"{when[:10]} ({reason})" if when else "no"
        for label, value in (("name", contact.name), ("account", account or "(none)"),
                             ("addresses", ", ".join(contact.emails)),
                             ("opted out", "yes" if contact.opted_out else "no"),
                             ("bounced", bounced)):
            print(f"{label + ':':<11}{clean(value)}")
        return 0
    finally:
        opened.close()
