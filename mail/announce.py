"""Provides announcements: one personalised mail per contact of a segment, journaled and resumable.

Safe by default: a dry run renders everything, returns the first message and the counts, and
delivers nothing. `drafts` APPENDs one draft per contact (or writes outbox/ .eml files), `send`
goes through SMTP at a rate and APPENDs a copy to Sent. The journal (store/announcements.py)
is written before and after each delivery, so a rerun skips whoever was reached or attempted.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage

from sqlite_utils import Database

from rapport.mail.compose import build_email, message_id_of, new_draft
from rapport.mail.draft_context import Promotion, build_context
from rapport.mail.drafting import DraftTemplate, render_draft
from rapport.mail.imap import append_message
from rapport.mail.outbox import pick_mailbox, save_eml
from rapport.mail.smtp import SmtpSender, SmtpSettings
from rapport.store.announcements import (
    Segment,
    get_or_create_announcement,
    journal,
    mark_done,
    mark_started,
    select_audience,
)
from rapport.store.config import Config
from rapport.store.deals import list_deals
from rapport.store.errors import InputError
from rapport.store.workspace import Workspace


@dataclass(frozen=True)
class AnnounceResult:
    eligible: int
    delivered: int
    already: int
    opted_out: int
    no_email: int
    first: EmailMessage | None


def parse_segment(text: str, stage_names: list[str]) -> Segment:
    """`stage=Won,Referral tier=key tag=chemicals` (quotes allowed); stage names by unique prefix."""
    values: dict[str, list[str]] = {"stage": [], "tier": [], "tag": [], "account": []}
    try:
        terms = shlex.split(text)
    except ValueError as exc:
        raise InputError(f"segment {text!r}: {exc}") from exc
    for term in terms:
        key, eq, value = term.partition("=")
        if not eq or key not in values or not value:
            raise InputError(f"segment term {term!r}: use stage=, tier=, tag= or account=")
        values[key].extend(v.strip() for v in value.split(",") if v.strip())
    stages = []
    for wanted in values["stage"]:
        exact = [s for s in stage_names if s.casefold() == wanted.casefold()]
        prefix = [s for s in stage_names if s.casefold().startswith(wanted.casefold())]
        match = exact or prefix
        if len(match) != 1:
            raise InputError(f"segment: stage {wanted!r} matches {len(match)} stages "
                             f"({', '.join(stage_names)})")
        stages.append(match[0])
    for tier in values["tier"]:
        if tier not in ("key", "standard"):
            raise InputError(f"segment: tier must be key or standard, not {tier!r}")
    return Segment(tuple(stages), tuple(values["tier"]), tuple(values["tag"]),
                   tuple(values["account"]))


def run_announcement(
    db: Database, workspace: Workspace, config: Config, template: DraftTemplate, *,
    segment_text: str, promotion: Promotion | None, mode: str = "dry-run", limit: int | None = None,
    smtp: SmtpSettings | None = None, rate_per_minute: float = 0, today: date | None = None,
    progress: Callable[[int], None] | None = None, campaign: str = "",
) -> AnnounceResult:
    """Render (and in drafts/send mode deliver) the announcement to the segment's contacts."""
    if mode not in ("dry-run", "drafts", "send"):
        raise InputError(f"unknown announcement mode {mode!r}")
    segment = parse_segment(segment_text, config.pipeline.names)
    audience = select_audience(db, segment)
    # The announcement is what it announces, whatever the segment: a contact reached once by
    # it is never reached again, however the segment is written or widened.
    announcement = get_or_create_announcement(
        db, template.name, promotion.name if promotion else "", campaign, segment_text.strip())
    done = journal(db, announcement.id)
    todo = [(a, c) for a, c in audience.eligible if c.id not in done]
    if limit is not None:
        todo = todo[:limit]
    day = today or date.today()
    first: EmailMessage | None = None
    delivered = 0
    mailbox = pick_mailbox(config)
    sender = SmtpSender(smtp) if mode == "send" and smtp is not None else None
    if mode == "send" and sender is None:
        raise InputError("--send needs an [smtp] table in config.toml")
    interval = 60.0 / rate_per_minute if rate_per_minute > 0 else 0.0
    try:
        if sender is not None:
            sender.__enter__()
        for account, contact in todo:
            deals = list_deals(db, account_id=account.id)
            context = build_context(config.me, today=day, account=account, contact=contact,
                                    deal=deals[0] if deals else None, promotion=promotion)
            draft = new_draft(render_draft(template, context), config.me)
            msg = build_email(draft, config.me)
            first = first or msg
            if mode == "dry-run":
                continue
            mark_started(db, announcement.id, contact.id, contact.emails[0], mode,
                         message_id_of(msg))
            if mode == "drafts":
                if mailbox is not None:
                    append_message(mailbox, "drafts", msg.as_bytes(), flags=(b"\\Draft",))
                else:
                    save_eml(workspace, msg)
            else:
                assert sender is not None
                sender.send(msg)
                if mailbox is not None:
                    append_message(mailbox, "sent", msg.as_bytes(), flags=(b"\\Seen",))
            mark_done(db, announcement.id, contact.id, account.id, draft.subject, template.name)
            delivered += 1
            if progress is not None:
                progress(delivered)
            if interval and mode == "send":
                time.sleep(interval)
    finally:
        if sender is not None:
            sender.__exit__(None, None, None)
    already = sum(1 for _, contact in audience.eligible if contact.id in done)
    return AnnounceResult(len(audience.eligible), delivered, already, audience.opted_out,
                          audience.no_email, first)
