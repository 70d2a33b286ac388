"""Provides `rapport templates` and `rapport draft reply MESSAGE --template NAME [--edit] [--send]`."""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
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
    reply = kinds.add_parser("reply", help="reply to a stored message with a template")
    add_home_option(reply)
    reply.add_argument("message", metavar="MESSAGE", help="Message-ID or id from rapport search")
    reply.add_argument("--template", "-t", required=True, metavar="NAME")
    reply.add_argument("--edit", action="store_true", help="open the draft in $EDITOR first")
    reply.add_argument("--send", action="store_true", help="send through [smtp] instead of saving")
    reply.set_defaults(handler=run_reply)

    announce = subparsers.add_parser("announce", help="one personalised mail per segment contact")
    add_home_option(announce)
    announce.add_argument("template", metavar="TEMPLATE")
    announce.add_argument("--segment", required=True,
                          help='e.g. "stage=Won,Referral tier=key tag=chemicals"')
    announce.add_argument("--promotion", metavar="FILE.toml", help="name, products, start, end, link")
    announce.add_argument("--dry-run", action="store_true", help="the default: render, deliver nothing")
    mode = announce.add_mutually_exclusive_group()
    mode.add_argument("--drafts", action="store_true", help="one draft per contact in Drafts")
    mode.add_argument("--send", action="store_true", help="send through [smtp] (copy to Sent)")
    announce.add_argument("--rate", default="30/min", metavar="N/min", help="send rate (default 30/min)")
    announce.add_argument("--limit", type=int, metavar="N", help="deliver at most N this run")
    announce.add_argument("--campaign", default="", metavar="NAME",
                          help="start a fresh announcement on purpose (same template and "
                               "promotion reach everyone again)")
    announce.set_defaults(handler=run_announce)


def run_templates(args: argparse.Namespace) -> int:
    from rapport.mail.drafting import DraftTemplateError, load_template, template_names
    from rapport.tui.cli.common import open_ws

    opened = open_ws(args)
    try:
        directory = opened.workspace.templates_dir
        for name in template_names(directory):
            try:
                tpl = load_template(directory, name)
                print(f"{name}\t{tpl.kind}\t{tpl.description}")
            except DraftTemplateError as exc:
                print(f"{name}\tbroken\t{exc.message}")
    finally:
        opened.close()
    return 0


def edit_text(text: str) -> str:
    """Run $EDITOR (no shell) on a private temp file holding `text`; return the edited text."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    fd, name = tempfile.mkstemp(prefix="rapport-draft-", suffix=".eml.txt")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            done = subprocess.run([*editor.split(), str(path)], check=False)
        except OSError as exc:
            raise InputError(f"cannot run editor {editor!r}: {exc.strerror}") from exc
        if done.returncode != 0:
            raise InputError(f"editor {editor!r} exited with {done.returncode}; draft not saved")
        return path.read_text(encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)


def run_reply(args: argparse.Namespace) -> int:
    from rapport.mail.compose import build_email, draft_from_text, draft_to_text
    from rapport.mail.outbox import save_draft, send_and_record
    from rapport.mail.reply import prepare_reply
    from rapport.mail.smtp import smtp_settings
    from rapport.store.messages import find_message
    from rapport.tui.cli.common import open_ws

    opened = open_ws(args)
    try:
        db, config = opened.db, opened.config
        message = find_message(db, args.message)
        prepared = prepare_reply(db, config, opened.workspace.templates_dir, message, args.template)
        draft = prepared.draft
        if args.edit:
            draft = draft_from_text(edit_text(draft_to_text(draft)), draft)
        msg = build_email(draft, config.me, thread=prepared.thread)
        who = dict(account_id=prepared.account_id, contact_id=prepared.contact_id)
        if args.send:
            settings = smtp_settings(config.raw)
            if settings is None:
                raise InputError("--send needs an [smtp] table in config.toml")
            mid = send_and_record(db, config, settings, msg, **who)
            print(f"sent <{mid}> to {draft.to}")
        else:
            saved = save_draft(db, opened.workspace, config, msg, **who)
            where = f"Drafts of {saved.location}" if saved.where == "imap" else saved.location
            print(f"draft <{saved.message_id}> saved to {where}")
    finally:
        opened.close()
    return 0

def _rate(text: str) -> float:
    number, _, unit = text.partition("/")
    try:
        value = float(number)
    except ValueError as exc:
        raise InputError(f"--rate {text!r}: use N/min, e.g. 30/min") from exc
    if unit not in ("", "min") or value <= 0:
        raise InputError(f"--rate {text!r}: use N/min, e.g. 30/min")
    return value


def run_announce(args: argparse.Namespace) -> int:
    from rapport.mail.announce import run_announcement
    from rapport.mail.draft_context import load_promotion
    from rapport.mail.drafting import load_template
    from rapport.mail.smtp import smtp_settings
    from rapport.tui.cli.common import open_ws

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    rate = _rate(args.rate)
    mode = "drafts" if args.drafts else "send" if args.send else "dry-run"
    opened = open_ws(args)
    try:
        promotion = load_promotion(Path(args.promotion)) if args.promotion else None
        template = load_template(opened.workspace.templates_dir, args.template)
        result = run_announcement(
            opened.db, opened.workspace, opened.config, template, segment_text=args.segment,
            promotion=promotion, mode=mode, limit=args.limit,
            smtp=smtp_settings(opened.config.raw) if mode == "send" else None,
            rate_per_minute=rate, campaign=args.campaign)
    finally:
        opened.close()
    if mode == "dry-run" and result.first is not None:
        print(result.first.as_string().replace("\r\n", "\n"))
    verb = {"dry-run": "would reach", "drafts": "drafted", "send": "sent"}[mode]
    count = result.eligible - result.already if mode == "dry-run" else result.delivered
    print(f"{verb} {count} of {result.eligible} eligible contacts; already done {result.already}; "
          f"skipped {result.opted_out} opted out, {result.no_email} without email")
    return 0
