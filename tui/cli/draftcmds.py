"""Provides `rapport templates` and `rapport draft reply MESSAGE --template NAME [--edit] [--send]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rapport.store.errors import InputError


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    """Add this group's subcommands to `subparsers` and its export kinds to `exporters`."""
    from rapport.tui.cli.main import add_home_option

    templates = subparsers.add_parser("templates", help="list the draft templates of the workspace")
    add_home_option(templates)
    templates.set_defaults(handler=run_templates)

    draft = subparsers.add_parser("draft", help="draft mail from a template")
    add_home_option(draft)
    kinds = draft.add_subparsers(dest="draft_kind", metavar="KIND", required=True)
    reply = kinds.add_parser("reply", help="reply to a stored message with a reply template")
    add_home_option(reply)
    reply.add_argument("message", metavar="MESSAGE", help="Message-ID or id from rapport search")
    reply.add_argument("--template", "-t", required=True, metavar="NAME")
    reply.add_argument("--edit", action="store_true", help="open the draft in $EDITOR first")
    reply.add_argument("--send", action="store_true", help="send through [smtp] instead of saving")
    _attach_option(reply)
    reply.set_defaults(handler=run_reply)
    new = kinds.add_parser("new", help='a new mail to a contact from a kind = "new" template')
    add_home_option(new)
    new.add_argument("template", metavar="TEMPLATE")
    new.add_argument("--to", required=True, metavar="CONTACT_EMAIL", help="the contact's address")
    new.add_argument("--deal", type=int, metavar="ID",
                     help="the deal it is about (default: the account's open deal)")
    new.add_argument("--edit", action="store_true", help="open the draft in $EDITOR first")
    new.add_argument("--send", action="store_true", help="send through [smtp] instead of saving")
    _attach_option(new)
    new.set_defaults(handler=run_new)
    _register_announce(subparsers, add_home_option)


def _register_announce(subparsers: Any, add_home_option: Any) -> None:
    announce = subparsers.add_parser("announce", help="one personalised mail per segment contact")
    add_home_option(announce)
    announce.add_argument("template", metavar="TEMPLATE")
    announce.add_argument("--segment", required=True,
                          help='e.g. "stage=Won,Referral tier=key tag=chemicals", or "all"')
    promo = announce.add_argument_group("promotion (options override the file's values)")
    promo.add_argument("--promotion", metavar="FILE.toml", help="name, products, start, end, link")
    promo.add_argument("--promo-name", metavar="NAME", help="the promotion's name")
    promo.add_argument("--product", action="append", metavar="NAME",
                       help="a product it covers (repeatable; replaces the file's list)")
    promo.add_argument("--starts", metavar="YYYY-MM-DD", help="first day")
    promo.add_argument("--ends", metavar="YYYY-MM-DD", help="last day")
    promo.add_argument("--link", metavar="URL", help="where the details are")
    mode = announce.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="the default: render, deliver nothing")
    mode.add_argument("--drafts", action="store_true", help="one draft per contact in Drafts")
    mode.add_argument("--send", action="store_true", help="send through [smtp] (copy to Sent)")
    announce.add_argument("--rate", default="30/min", metavar="N/min", help="send rate (default 30/min)")
    announce.add_argument("--limit", type=int, metavar="N", help="deliver at most N this run")
    announce.add_argument("--campaign", default="", metavar="NAME",
                          help="start a fresh announcement on purpose (same template and "
                               "promotion reach everyone again)")
    announce.add_argument("--retry-uncertain", action="store_true",
                          help="send again to contacts whose earlier send was interrupted "
                               "before the server confirmed it (listed by every run)")
    _attach_option(announce)
    announce.set_defaults(handler=run_announce)


def _attach_option(parser: Any) -> None:
    parser.add_argument("--attach", action="append", default=[], metavar="FILE",
                        help="attach this file (repeatable; attachment_limit_mb in config.toml "
                             "caps the total)")


def run_templates(args: argparse.Namespace) -> int:
    from rapport.mail.draft.render import DraftTemplateError, load_all
    from rapport.tui.cli.common import open_ws

    opened = open_ws(args)
    broken = []
    try:
        for name, loaded in load_all(opened.workspace.templates_dir):
            if isinstance(loaded, DraftTemplateError):
                print(f"{name}\tbroken\t{loaded.message}")
                broken.append(name)
            else:
                print(f"{name}\t{loaded.kind}\t{loaded.description}")
    finally:
        opened.close()
    if broken:  # exit 1 too, so a script (or a hook) checking edited templates notices
        print(f"rapport: {len(broken)} broken template(s): {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


def _deliver_single(opened: Any, args: argparse.Namespace, draft: Any, *, thread: Any,
                    account_id: int | None, contact_id: int | None, deal_id: int | None) -> None:
    """--edit in $EDITOR, then send (--send) or save as a draft; print where it went."""
    from rapport.mail.attach.outgoing import load_files
    from rapport.mail.attach.settings import attachment_settings
    from rapport.mail.config import smtp_settings
    from rapport.mail.draft.editor import edit_text
    from rapport.mail.send.compose import build_email, draft_from_text, draft_to_text
    from rapport.mail.send.outbox import TimelineLinks, save_draft, send_and_record

    db, config = opened.db, opened.config
    # Files and the size limit first: a missing file must not cost an editor session.
    files = load_files(args.attach, attachment_settings(config).limit_bytes)
    if args.edit:
        # Composed inside the editor loop: a To line that does not parse reopens the editor too.
        msg = edit_text(draft_to_text(draft), read=lambda text: build_email(
            draft_from_text(text, draft), config.me, thread=thread, attachments=files))
    else:
        msg = build_email(draft, config.me, thread=thread, attachments=files)
    who = TimelineLinks(account_id=account_id, contact_id=contact_id, deal_id=deal_id)
    if args.send:
        settings = smtp_settings(config.raw)
        if settings is None:
            raise InputError("--send needs an [smtp] table in config.toml")
        mid = send_and_record(db, config, settings, msg, **who)
        print(f"sent <{mid}> to {msg['To']}")
    else:
        saved = save_draft(db, opened.workspace, config, msg, **who)
        print(f"draft <{saved.message_id}> saved to {saved.place}")


def run_reply(args: argparse.Namespace) -> int:
    from rapport.mail.draft.reply import prepare_reply
    from rapport.store.mailstore.messages import find_message
    from rapport.tui.cli.common import open_ws

    opened = open_ws(args)
    try:
        message = find_message(opened.db, args.message)
        prepared = prepare_reply(opened.db, opened.config, opened.workspace.templates_dir,
                                 message, args.template)
        _deliver_single(opened, args, prepared.draft, thread=prepared.thread,
                        account_id=prepared.account_id, contact_id=prepared.contact_id,
                        deal_id=prepared.deal_id)
    finally:
        opened.close()
    return 0


def run_new(args: argparse.Namespace) -> int:
    from rapport.mail.draft.reply import prepare_new
    from rapport.tui.cli.common import open_ws

    opened = open_ws(args)
    try:
        prepared = prepare_new(opened.db, opened.config, opened.workspace.templates_dir,
                               args.template, to=args.to, deal_id=args.deal)
        _deliver_single(opened, args, prepared.draft, thread=None,
                        account_id=prepared.account_id, contact_id=prepared.contact_id,
                        deal_id=prepared.deal_id)
    finally:
        opened.close()
    return 0


def _rate(text: str) -> float:
    number, _, unit = text.partition("/")
    try:
        value = float(number)
    except ValueError as exc:
        raise InputError(f"--rate {text!r}: use N/min, e.g. 30/min") from exc
    if unit not in ("", "min") or not 0 < value < float("inf"):
        raise InputError(f"--rate {text!r}: use N/min, e.g. 30/min")
    return value


def _promotion(args: argparse.Namespace) -> Any:
    """The file's promotion with the command's options over it; None when neither is given."""
    from rapport.mail.draft.context import make_promotion, read_promotion_table

    data: dict[str, Any] = read_promotion_table(Path(args.promotion)) if args.promotion else {}
    for key, value in (("name", args.promo_name), ("products", args.product),
                       ("start", args.starts), ("end", args.ends), ("link", args.link)):
        if value is not None:
            data[key] = value
    if not data:
        return None
    return make_promotion(data, args.promotion or "promotion options",
                          Path(args.promotion).parent if args.promotion else None)


def preview_text(msg: Any) -> str:
    """The message as a reader sees it: decoded headers and text, never raw QP or RFC 2047;
    control characters and escape sequences removed (names come from imported files)."""
    from rapport.store.text import clean_text

    lines = [f"{name}: {msg[name]}" for name in ("From", "To", "Cc", "Subject") if msg[name]]
    part = msg.get_body(("plain",))
    text = part.get_content() if part is not None else ""
    return clean_text("\n".join(lines) + "\n\n" + text.replace("\r\n", "\n"))


def _print_problems(result: Any) -> None:
    for problem in result.skipped:
        print(f"skipped {problem.who}: {problem.reason}")
    for problem in result.failed:
        print(f"failed {problem.who}: {problem.reason} (retried on the next run)")
    for problem in result.uncertain:
        print(f"uncertain {problem.who}: {problem.reason}; not sent again "
              "(--retry-uncertain sends it again)")
    for warning in result.warnings:
        print(f"warning: {warning}")


def run_announce(args: argparse.Namespace) -> int:
    from rapport.mail.config import smtp_settings
    from rapport.mail.draft.render import load_template
    from rapport.mail.send.announce import run_announcement, summary_line
    from rapport.tui.cli.common import open_ws

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    rate = _rate(args.rate)
    mode = "drafts" if args.drafts else "send" if args.send else "dry-run"
    promotion = _promotion(args)
    opened = open_ws(args)
    try:
        template = load_template(opened.workspace.templates_dir, args.template)
        settings = smtp_settings(opened.config.raw) if mode == "send" else None
        result = run_announcement(
            opened.db, opened.workspace, opened.config, template, segment_text=args.segment,
            promotion=promotion, mode=mode, limit=args.limit, smtp=settings,
            rate_per_minute=rate, campaign=args.campaign, retry_uncertain=args.retry_uncertain,
            attach=args.attach)
    finally:
        opened.close()
    if result.earlier_note:
        print(f"note: {result.earlier_note}")
    if mode == "dry-run" and result.first is not None:
        print(preview_text(result.first))
    if result.attachment_note:
        print(result.attachment_note)
    _print_problems(result)
    print(summary_line(result))
    if result.stopped:
        print(f"rapport: stopped: {result.stopped}; run it again to continue", file=sys.stderr)
    return 0 if result.ok else 1
