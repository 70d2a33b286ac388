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

import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage

from sqlite_utils import Database

from rapport.mail.config import MailboxConfig, SmtpSettings
from rapport.mail.draft.context import Promotion, account_deal, build_context, display_address
from rapport.mail.draft.render import DraftTemplate, render_draft
from rapport.mail.errors import ConnectionLost, MailError
from rapport.mail.send.compose import Composed, compose, new_draft
from rapport.mail.send.outbox import (
    ImapFolder,
    outbox_path,
    pick_mailbox,
    save_raw_many,
    sweep_outbox,
)
from rapport.mail.send.smtp import (
    MaybeSent,
    MessageRefused,
    PartlyRefused,
    SendError,
    SmtpSender,
)
from rapport.mail.send.unsubscribe import announce_settings
from rapport.store.book.accounts import Account
from rapport.store.book.contacts import Contact
from rapport.store.config import Config
from rapport.store.errors import InputError, WorkspaceError
from rapport.store.mailstore.announcements import (
    Announcement,
    Audience,
    Recipient,
    Segment,
    earlier_starts,
    find_announcement,
    get_or_create_announcement,
    journal,
    mark_done_many,
    mark_failed,
    mark_started,
    mark_started_many,
    select_audience,
)
from rapport.store.workspace import Workspace

MODES = ("dry-run", "drafts", "send")
# Templates an announcement may use: a reply needs a message to reply to.
ANNOUNCE_KINDS = ("announcement", "new")


@dataclass(frozen=True)
class Problem:
    """A contact not reached this run and why: `who` is 'Name <address>'."""

    who: str
    reason: str


@dataclass(frozen=True)
class Target:
    """One contact to reach; `entry` is its journal row when an earlier run tried it."""

    account: Account
    contact: Contact
    entry: Recipient | None = None

    @property
    def who(self) -> str:
        return display_address(self.contact.name, self.contact.email) or self.contact.name


@dataclass(frozen=True)
class AnnouncementPlan:
    """Who an announcement run would reach, computed without writing anything.

    `todo`: contacts to deliver to (never reached, failed before, drafts to check, and the
    uncertain SMTP ones when retrying), `--limit` applied. `uncertain`: SMTP deliveries that a
    crash left unconfirmed and that this run leaves alone.
    """

    template: DraftTemplate
    promotion: Promotion | None
    campaign: str
    segment_text: str
    audience: Audience
    announcement: Announcement | None
    todo: tuple[Target, ...]
    uncertain: tuple[Target, ...]
    already: int
    retrying: int
    earlier: tuple[tuple[str, int], ...] = ()  # (start, reached) of this name's other starts

    @property
    def eligible(self) -> int:
        return len(self.audience.eligible)

    def earlier_note(self) -> str:
        """Why contacts a same-named promotion reached count as not reached yet, or ''."""
        if not self.earlier or self.promotion is None:
            return ""
        before = ", ".join(f"from {start} ({reached} reached)" for start, reached in self.earlier)
        start = self.promotion.start.isoformat() if self.promotion.start else "no start date"
        return (f"a new announcement: {self.promotion.name!r} from {start}; the same template "
                f"announced it {before}, and those contacts are reached again")


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

    @property
    def ok(self) -> bool:
        """Nothing failed and the run went to the end."""
        return not self.failed and not self.stopped


def parse_segment(text: str, stage_names: list[str]) -> Segment:
    """`stage=Won,Referral tier=key tag=chemicals` (quotes allowed); stage names by unique prefix.

    `all` means every contact; an empty segment is refused, so a typo or an empty shell
    variable never silently targets the whole book.
    """
    try:
        terms = shlex.split(text)
    except ValueError as exc:
        raise InputError(f"segment {text!r}: {exc}") from exc
    if not terms:
        raise InputError("the segment is empty: give terms like stage=Won tier=key, "
                         "or 'all' for every contact")
    if [t.casefold() for t in terms] == ["all"]:
        return Segment()
    values: dict[str, list[str]] = {"stage": [], "tier": [], "tag": [], "account": []}
    for term in terms:
        key, eq, value = term.partition("=")
        if not eq or key not in values or not value:
            raise InputError(f"segment term {term!r}: use stage=, tier=, tag= or account= "
                             "(or 'all' alone)")
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


def check_announce_template(template: DraftTemplate) -> None:
    if template.kind not in ANNOUNCE_KINDS:
        raise InputError(f"template {template.name!r} is a {template.kind} template; an "
                         "announcement needs kind = 'announcement' (or 'new')")


def plan_announcement(
    db: Database, config: Config, template: DraftTemplate, *, segment_text: str,
    promotion: Promotion | None, campaign: str = "", limit: int | None = None,
    retry_uncertain: bool = False,
) -> AnnouncementPlan:
    """Who a run would reach now; reads only (a dry run leaves no trace in the journal)."""
    check_announce_template(template)
    if limit is not None and limit < 1:
        raise InputError("--limit must be at least 1")
    audience = select_audience(db, parse_segment(segment_text, config.pipeline.names))
    name, start = (promotion.name, promotion.start) if promotion else ("", None)
    announcement = find_announcement(db, template.name, name, campaign, start)
    earlier = () if announcement else tuple(earlier_starts(db, template.name, name, campaign,
                                                            start))
    entries = journal(db, announcement.id) if announcement is not None else {}
    todo: list[Target] = []
    uncertain: list[Target] = []
    already = retrying = 0
    for account, contact in audience.eligible:
        entry = entries.get(contact.id)
        if entry is None:
            todo.append(Target(account, contact))
        elif entry.status == "done":
            already += 1
        elif entry.status == "started" and entry.mode == "send" and not retry_uncertain:
            uncertain.append(Target(account, contact, entry))
        else:  # failed, a draft to look up, or an uncertain send the user asked to retry
            retrying += 1
            todo.append(Target(account, contact, entry))
    if limit is not None:
        todo = todo[:limit]
    return AnnouncementPlan(template, promotion, campaign, segment_text.strip(), audience,
                            announcement, tuple(todo), tuple(uncertain), already, retrying,
                            earlier)


class MessageRenderer:
    """Renders and composes the message of one target (deals looked up once per account)."""

    def __init__(self, db: Database, config: Config, plan: AnnouncementPlan,
                 today: date | None = None) -> None:
        self.db, self.config, self.plan = db, config, plan
        self.today = today or date.today()
        self._deals: dict[int, object] = {}
        # Read once per run: a bad [announce] stops the run before any message (ConfigError).
        self.unsubscribe = announce_settings(config)

    def render(self, target: Target) -> Composed:
        """The composed message for `target`; InputError when its data makes no valid message.
        A contact tried before keeps its Message-ID, so a lookup or a client can match it."""
        account = target.account
        if account.id not in self._deals:
            self._deals[account.id] = account_deal(self.db, self.config.pipeline, account.id)
        context = build_context(self.config.me, today=self.today, account=account,
                                contact=target.contact, deal=self._deals[account.id],
                                promotion=self.plan.promotion,
                                unsubscribe=self.unsubscribe.footer())
        draft = new_draft(render_draft(self.plan.template, context), self.config.me)
        message_id = target.entry.message_id if target.entry is not None else None
        return compose(draft, self.config.me, message_id=message_id,
                       list_headers=self.unsubscribe.headers())


class Pacer:
    """Spaces SMTP sends `60 / rate` seconds apart: waits before a send, never after the last."""

    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next: float | None = None

    def wait(self) -> None:
        if self.interval and self._next is not None:
            delay = self._next - self._clock()
            if delay > 0:
                self._sleep(delay)
        self._next = self._clock() + self.interval


@dataclass
class _Run:
    """What one delivery run has done so far."""

    delivered: int = 0
    confirmed: int = 0
    skipped: list[Problem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    uncertain: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stopped: str = ""
    first: Composed | None = None


# Drafts are journaled and stored this many at a time: two journal commits and one sync of the
# outbox files (or one MULTIAPPEND) per batch, not per draft. A crash inside a batch leaves at
# most this many drafts uncertain, each looked up before anything is stored again.
DRAFT_BATCH = 100
DRAFT_FLAGS = (b"\\Draft",)


class _Stopped(Exception):
    """Storing a batch of drafts stopped: the first `stored` are in place; the next one was
    `refused` (certainly not stored), or its fate is unknown (the connection broke)."""

    def __init__(self, stored: int, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.stored, self.message, self.refused = stored, message, refused


class _Delivery:
    """Delivers messages by the run's mode over connections opened once per run."""

    def __init__(self, mode: str, workspace: Workspace, mailbox: MailboxConfig | None,
                 sender: SmtpSender | None, pacer: Pacer, stack: ExitStack) -> None:
        self.mode, self.workspace, self.sender, self.pacer = mode, workspace, sender, pacer
        self.drafts = stack.enter_context(_folder(mailbox, "drafts")) if mailbox else None
        self.sent = stack.enter_context(_folder(mailbox, "sent")) if mailbox else None
        self.sent_copy_error = ""
        if mode == "drafts" and self.drafts is None:
            sweep_outbox(workspace)

    def already_there(self, target: Target) -> bool:
        """Whether an uncertain draft (a crash after mark_started) did reach Drafts / outbox/."""
        entry = target.entry
        if entry is None or entry.status != "started" or entry.mode != "drafts":
            return False
        if self.drafts is not None:
            return self.drafts.has_message_id(entry.message_id)
        return outbox_path(self.workspace, entry.message_id).exists()

    def store_drafts(self, msgs: Sequence[Composed]) -> None:
        """Store a batch in Drafts (one MULTIAPPEND when offered) or outbox/ (one sync)."""
        if self.drafts is None:
            try:
                save_raw_many(self.workspace, [(msg.message_id, msg.raw) for msg in msgs])
            except WorkspaceError as exc:  # files renamed into place before it are whole
                raise _Stopped(0, exc.message, refused=False) from exc
            return
        raws = [msg.raw for msg in msgs]
        try:
            if self.drafts.append_many(raws, DRAFT_FLAGS):
                return
        except ConnectionLost as exc:
            raise _Stopped(0, exc.message, refused=False) from exc
        except MailError as exc:
            raise _Stopped(0, exc.message, refused=True) from exc
        for index, raw in enumerate(raws):
            try:
                self.drafts.append(raw, flags=DRAFT_FLAGS)
            except ConnectionLost as exc:
                raise _Stopped(index, exc.message, refused=False) from exc
            except MailError as exc:
                raise _Stopped(index, exc.message, refused=True) from exc

    def send(self, msg: Composed) -> None:
        assert self.sender is not None
        self.sender.send_raw(msg.sender, msg.recipients, msg.raw)

    def copy_to_sent(self, msg: Composed) -> None:
        """After a send: a copy in Sent. A failure is reported once, never undoes the send."""
        if self.sent is None or self.sent_copy_error:
            return
        try:
            self.sent.append(msg.raw, flags=(b"\\Seen",))
        except MailError as exc:
            self.sent_copy_error = exc.message


@contextmanager
def _folder(mailbox: MailboxConfig, role: str) -> Iterator[ImapFolder]:
    folder = ImapFolder(mailbox, role)
    try:
        yield folder
    finally:
        folder.close()


Item = tuple[Target, Composed]


def _render_each(renderer: MessageRenderer, targets: Sequence[Target], run: _Run,
                 planned: int) -> list[Item]:
    """The targets whose message renders; the others are skipped with the reason."""
    rendered = []
    for target in targets:
        try:
            msg = renderer.render(target)
        except InputError as exc:
            run.skipped.append(Problem(target.who, exc.message))
            _check_template_error(run, planned)
            continue
        run.first = run.first or msg
        rendered.append((target, msg))
    return rendered


def _journal_done(db: Database, plan: AnnouncementPlan, announcement: Announcement,
                  items: Sequence[Item]) -> None:
    if items:
        mark_done_many(db, announcement.id, [(target.contact.id, target.account.id, msg.subject)
                                             for target, msg in items], plan.template.name)


def _still_to_deliver(db: Database, plan: AnnouncementPlan, announcement: Announcement,
                      delivery: _Delivery, items: list[Item], run: _Run) -> list[Item]:
    """The items still to deliver; those a crashed run did deliver are journaled 'done' and
    counted as confirmed. Stops the run when Drafts cannot be searched (nothing else will
    work either)."""
    found: list[Item] = []
    todo: list[Item] = []
    for item in items:
        try:
            (found if delivery.already_there(item[0]) else todo).append(item)
        except MailError as exc:
            run.stopped = exc.message
            todo = []
            break
    _journal_done(db, plan, announcement, found)
    run.confirmed += len(found)
    return todo


def _failed(db: Database, announcement: Announcement, target: Target, reason: str,
            run: _Run) -> None:
    """Certainly not delivered: journaled 'failed' (retried next run) and listed."""
    mark_failed(db, announcement.id, target.contact.id, reason)
    run.failed.append(Problem(target.who, reason))


def _uncertain(message_id: str, why: str = "") -> str:
    return f"sent as <{message_id}>, not confirmed" + (f": {why}" if why else "")


def _draft_batch(db: Database, plan: AnnouncementPlan, announcement: Announcement,
                 delivery: _Delivery, items: list[Item], run: _Run) -> None:
    """Journal a batch 'started' (durably), store it, journal what was stored 'done'."""
    ready = _still_to_deliver(db, plan, announcement, delivery, items, run)
    if not ready:
        return
    mark_started_many(db, announcement.id, "drafts", [
        (target.contact.id, target.contact.email, msg.message_id) for target, msg in ready])
    stored = len(ready)
    try:
        delivery.store_drafts([msg for _, msg in ready])
    except _Stopped as stop:
        stored, run.stopped = stop.stored, stop.message
        target = ready[stored][0]
        if stop.refused:
            _failed(db, announcement, target, stop.message, run)
        else:  # left 'started': the next run looks it up before storing it again
            run.failed.append(Problem(target.who, f"{stop.message} (whether it was stored "
                                                  "is checked first)"))
    _journal_done(db, plan, announcement, ready[:stored])
    run.delivered += stored


def _send_one(db: Database, plan: AnnouncementPlan, announcement: Announcement,
              delivery: _Delivery, item: Item, run: _Run) -> None:
    """Wait for the rate, journal 'started' (durably), send, journal 'done' (or 'failed')."""
    target, msg = item
    if not _still_to_deliver(db, plan, announcement, delivery, [item], run):
        return
    # Wait out the rate before journaling: a kill during the wait leaves nothing uncertain.
    delivery.pacer.wait()
    contact = target.contact
    mark_started(db, announcement.id, contact.id, contact.email, "send", msg.message_id)
    try:
        delivery.send(msg)
    except PartlyRefused as exc:
        run.warnings.append(f"{target.who}: {exc.message}")  # it went out: never resend
    except MessageRefused as exc:
        _failed(db, announcement, target, exc.message, run)
        return
    except MaybeSent as exc:  # left 'started': listed as uncertain, resent only when asked
        run.uncertain.append(Problem(target.who, _uncertain(msg.message_id, exc.message)))
        run.stopped = exc.message
        return
    except SendError as exc:
        # Nothing went out and the session is gone: this contact failed, the rest waits.
        _failed(db, announcement, target, exc.message, run)
        run.stopped = exc.message
        return
    _journal_done(db, plan, announcement, [item])
    run.delivered += 1
    delivery.copy_to_sent(msg)


# A failure shared by the first contacts, before any success, is the template's, not theirs.
TEMPLATE_ERROR_AFTER = 3


def _check_template_error(run: _Run, planned: int) -> None:
    """Raise the error when every contact so far failed the same way and none rendered: a
    missing `promotion` must be one line and exit 2, not 10,000 skipped contacts."""
    if run.first is not None or len(run.skipped) < min(TEMPLATE_ERROR_AFTER, planned):
        return
    reasons = {problem.reason for problem in run.skipped}
    if len(reasons) == 1:
        raise InputError(reasons.pop())


def _dry_run(renderer: MessageRenderer, plan: AnnouncementPlan) -> _Run:
    run = _Run()
    _render_each(renderer, plan.todo, run, len(plan.todo))
    return run


def run_announcement(
    db: Database, workspace: Workspace, config: Config, template: DraftTemplate, *,
    segment_text: str, promotion: Promotion | None, mode: str = "dry-run",
    limit: int | None = None, smtp: SmtpSettings | None = None, rate_per_minute: float = 0,
    today: date | None = None, progress: Callable[[int, int], None] | None = None,
    campaign: str = "", retry_uncertain: bool = False, pacer: Pacer | None = None,
    plan: AnnouncementPlan | None = None,
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
                                     retry_uncertain=retry_uncertain)
    renderer = MessageRenderer(db, config, plan, today)
    if mode == "dry-run":
        run = _dry_run(renderer, plan)
    else:
        run = _deliver_all(db, workspace, config, plan, renderer, mode=mode, smtp=smtp,
                           pacer=pacer or Pacer(rate_per_minute if mode == "send" else 0),
                           progress=progress)
    return AnnounceResult(
        mode=mode, eligible=plan.eligible, planned=len(plan.todo), delivered=run.delivered,
        already=plan.already, opted_out=plan.audience.opted_out, bounced=plan.audience.bounced,
        no_email=plan.audience.no_email, confirmed=run.confirmed, skipped=tuple(run.skipped),
        failed=tuple(run.failed),
        uncertain=(*run.uncertain, *(Problem(t.who, _uncertain(t.entry.message_id))
                                     for t in plan.uncertain if t.entry is not None)),
        warnings=tuple(run.warnings), stopped=run.stopped,
        first=run.first.email() if run.first is not None else None,
        earlier_note=plan.earlier_note())


def _deliver_all(db: Database, workspace: Workspace, config: Config, plan: AnnouncementPlan,
                 renderer: MessageRenderer, *, mode: str, smtp: SmtpSettings | None,
                 pacer: Pacer, progress: Callable[[int, int], None] | None) -> _Run:
    run = _Run()
    promotion = plan.promotion
    announcement = get_or_create_announcement(
        db, plan.template.name, promotion.name if promotion else "", plan.campaign,
        plan.segment_text, start=promotion.start if promotion else None)
    if not plan.todo:
        return run
    with ExitStack() as stack:
        sender = stack.enter_context(SmtpSender(smtp)) if mode == "send" and smtp else None
        delivery = _Delivery(mode, workspace, pick_mailbox(config), sender, pacer, stack)
        size = DRAFT_BATCH if mode == "drafts" else 1
        total = len(plan.todo)
        for start in range(0, total, size):
            batch = plan.todo[start:start + size]
            items = _render_each(renderer, batch, run, total)
            if mode == "drafts":
                _draft_batch(db, plan, announcement, delivery, items, run)
            elif items:
                _send_one(db, plan, announcement, delivery, items[0], run)
            if progress is not None:
                for index in range(start + 1, start + len(batch) + 1):
                    progress(index, total)
            if run.stopped:
                break
        if delivery.sent_copy_error:
            run.warnings.append(f"copy to Sent failed: {delivery.sent_copy_error}")
    return run


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
    extra = [f"{len(result.skipped)} with bad data" if result.skipped else "",
             f"{result.confirmed} found already in Drafts" if result.confirmed else "",
             f"{len(result.failed)} failed" if result.failed else "",
             f"{len(result.uncertain)} uncertain" if result.uncertain else ""]
    return "; ".join([text, *[e for e in extra if e]])


__all__ = [
    "AnnounceResult",
    "AnnouncementPlan",
    "MessageRenderer",
    "Pacer",
    "Problem",
    "plan_announcement",
    "run_announcement",
    "summary_line",
]
