"""Provides `rapport attachment list MESSAGE [--json]` and
`rapport attachment save MESSAGE INDEX [-o FILE_OR_DIR]`.

MESSAGE is a Message-ID or the numeric id from `rapport search`; INDEX counts from 1, as
`list` shows. Saving fetches the attachment from the server (or the Maildir) then, writes it
under a temporary name and renames it when complete, and prints the path written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    from rapport.tui.cli.main import add_home_option

    group = subparsers.add_parser("attachment", help="list and save a message's attachments")
    add_home_option(group)
    actions = group.add_subparsers(dest="attachment_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="a message's attachments: index, name, type, size")
    add_home_option(listing)
    listing.add_argument("message", metavar="MESSAGE", help="Message-ID or id from rapport search")
    listing.add_argument("--json", action="store_true", help="a JSON list, for scripts")
    listing.set_defaults(handler=run_list)
    save = actions.add_parser("save", help="fetch one attachment and save it (prints the path)")
    add_home_option(save)
    save.add_argument("message", metavar="MESSAGE", help="Message-ID or id from rapport search")
    save.add_argument("index", metavar="INDEX", type=int, help="its number in `attachment list`")
    save.add_argument("-o", "--output", metavar="FILE_OR_DIR",
                      help="where to write it (default: attachments_dir of config.toml)")
    save.set_defaults(handler=run_save)


def run_list(args: argparse.Namespace) -> int:
    from rapport.mail.attach.received import list_attachments
    from rapport.store.mailstore.messages import find_message
    from rapport.store.text import clean_text
    from rapport.tui.cli.common import open_ws

    opened = open_ws(args)
    try:
        listed = list_attachments(find_message(opened.db, args.message))
    finally:
        opened.close()
    if args.json:
        json.dump([{"index": a.index, "filename": a.filename, "type": a.type, "size": a.size}
                   for a in listed], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    for a in listed:
        # Names come from mail: no escape sequence reaches the terminal.
        print(f"{a.index}\t{clean_text(a.filename).replace(chr(10), ' ')}\t{a.type}\t{a.size}")
    return 0


def run_save(args: argparse.Namespace) -> int:
    from rapport.mail.attach.actions import save_attachment
    from rapport.store.mailstore.messages import find_message
    from rapport.tui.cli.common import open_ws

    opened = open_ws(args)
    try:
        message = find_message(opened.db, args.message)
        destination = Path(args.output) if args.output else None
        path = save_attachment(opened.db, opened.config, message, args.index, destination)
    finally:
        opened.close()
    print(path)
    return 0
