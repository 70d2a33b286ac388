"""Provides announcements: one personalised mail per contact of a segment, journaled and resumable.

An announcement is identified by its template and the promotion it announces, by name and start
date (plus an optional campaign name), never by the segment text: a contact it reached is never
reached again, however the segment is written or widened, while next year's promotion of the
same name is a new announcement. Safe by default: a dry run renders every message, writes
nothing (not even a journal row) and reports the counts. `drafts` stores the drafts a batch at a
time over one IMAP connection (one MULTIAPPEND per batch when the server offers it) or as
outbox/ .eml files (one sync per batch); `send` goes through one SMTP session at a rate and
APPENDs a copy to Sent.

The journal (store/mailstore/announcements.py), per contact:

    (none) --mark_started--> started --delivered--> done
                                |  \\--server refused / nothing went out--> failed  (retried)
                                \\--crash, Ctrl-C, connection lost mid-delivery--> started = uncertain

'started' is committed durably before the delivery and 'done' only once it is on the server or
on disk, so no crash (power cut included) leaves a 'done' without its draft or a delivered
message without its 'started'. An uncertain draft is looked up in Drafts by its Message-ID (or
in outbox/) before anything is stored again. An uncertain SMTP delivery cannot be checked, so it
is reported and only sent again when the user asks (`retry_uncertain`), with the same
Message-ID. A contact whose data cannot make a valid message (a bad address, a template error
for that contact) is skipped, counted and listed with the reason, and never stops the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path

from sqlite_utils import Database

from rapport.mail.config import SmtpSettings
from rapport.mail.draft.context import Promotion
from rapport.mail.draft.render import DraftTemplate
from rapport.mail.send.announce_delivery import (
    MessageRenderer,
    Pacer,
    RunState,
    deliver_all,
    render_each,
    uncertain_text,
)
from rapport.mail.send.announce_plan import (
    ANNOUNCE_KINDS,
    MODES,
    AnnouncementPlan,
    Problem,
    Target,
    check_announce_template,
    parse_segment,
    plan_announcement,
)
from rapport.store.config import Config
from rapport.store.errors import InputError
from rapport.store.workspace import Workspace


@dataclass(frozen=True)
class AnnounceResult:
    mode: str
    eligible: int
    planned: int
    delivered: int
    already: int
    opted_out: int
    no_email: int
    confirmed: int = 0
    bounced: int = 0
    skipped: tuple[Problem, ...] = ()
    failed: tuple[Problem, ...] = ()
    uncertain: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()
    stopped: str = ""
    first: EmailMessage | None = None
    earlier_note: str = ""  # see AnnouncementPlan.earlier_note
    attachment_note: str = ""  # see AnnouncementPlan.attachment_note: what the run sends
    drafts_in: str = ""  # drafts: where they went (IMAP folder and mailbox, or outbox/'s path)

    @property
    def ok(self) -> bool:
        """Nothing failed and the run went to the end."""
        return not self.failed and not self.stopped




def _dry_run(renderer: MessageRenderer, plan: AnnouncementPlan) -> RunState:
    run = RunState()
    render_each(renderer, plan.todo, run, len(plan.todo))
    return run



def run_announcement(
    db: Database, workspace: Workspace, config: Config, template: DraftTemplate, *,
    segment_text: str, promotion: Promotion | None, mode: str = "dry-run",
    limit: int | None = None, smtp: SmtpSettings | None = None, rate_per_minute: float = 0,
    today: date | None = None, progress: Callable[[int, int], None] | None = None,
    campaign: str = "", retry_uncertain: bool = False, pacer: Pacer | None = None,
    plan: AnnouncementPlan | None = None, attach: Sequence[str | Path] = (),
) -> AnnounceResult:
    """Render (and in drafts/send mode deliver) the announcement to the segment's contacts.

    `progress(done, total)` is called after each contact. `pacer` replaces the rate's pacing
    (tests pass one with a fake clock). A given `plan` (from a preview) is used as it is.
    """
    if mode not in MODES:
        raise InputError(f"unknown announcement mode {mode!r}")
    if mode == "send" and smtp is None:
        raise InputError("--send needs an [smtp] table in config.toml")
    plan = plan or plan_announcement(db, config, template, segment_text=segment_text,
                                     promotion=promotion, campaign=campaign, limit=limit,
                                     retry_uncertain=retry_uncertain, attach=attach)
    renderer = MessageRenderer(db, config, plan, today)
    if mode == "dry-run":
        run = _dry_run(renderer, plan)
    else:
        run = deliver_all(db, workspace, config, plan, renderer, mode=mode, smtp=smtp,
                           pacer=pacer or Pacer(rate_per_minute if mode == "send" else 0),
                           progress=progress)
    return AnnounceResult(
        mode=mode, eligible=plan.eligible, planned=len(plan.todo), delivered=run.delivered,
        already=plan.already, opted_out=plan.audience.opted_out, bounced=plan.audience.bounced,
        no_email=plan.audience.no_email, confirmed=run.confirmed, skipped=tuple(run.skipped),
        failed=tuple(run.failed),
        uncertain=(*run.uncertain, *(Problem(t.who, uncertain_text(t.entry.message_id))
                                     for t in plan.uncertain if t.entry is not None)),
        warnings=tuple(run.warnings), stopped=run.stopped,
        first=run.first.email() if run.first is not None else None,
        earlier_note=plan.earlier_note(),
        attachment_note=plan.attachment_note(
            len(plan.todo) - len(run.skipped) if mode == "dry-run" else run.delivered),
        drafts_in=run.drafts_in if mode == "drafts" else "")



def skipped_bounced(count: int) -> str:
    """'2 bounced, ' before the opted-out count, or '' when no address bounced."""
    return f"{count} bounced, " if count else ""


def summary_line(result: AnnounceResult) -> str:
    """'drafted 3 of 5 eligible contacts; already done 2; ...' for the CLI and the TUI."""
    if result.mode == "dry-run":
        verb, count = "would reach", result.planned - len(result.skipped)
    else:
        verb = {"drafts": "drafted", "send": "sent"}[result.mode]
        count = result.delivered
    text = (f"{verb} {count} of {result.eligible} eligible contacts; already done "
            f"{result.already}; skipped {skipped_bounced(result.bounced)}{result.opted_out} "
            f"opted out, {result.no_email} without email")
    extra = [f"saved in {result.drafts_in}" if result.drafts_in and result.delivered + result.confirmed else "",
             f"{len(result.skipped)} with bad data" if result.skipped else "",
             f"{result.confirmed} found already in Drafts" if result.confirmed else "",
             f"{len(result.failed)} failed" if result.failed else "",
             f"{len(result.uncertain)} uncertain" if result.uncertain else ""]
    return "; ".join([text, *[e for e in extra if e]])


__all__ = [
    "ANNOUNCE_KINDS",
    "AnnounceResult",
    "Target",
    "check_announce_template",
    "parse_segment",
    "AnnouncementPlan",
    "MessageRenderer",
    "Pacer",
    "Problem",
    "plan_announcement",
    "run_announcement",
    "summary_line",
]

