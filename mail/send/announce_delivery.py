"""Provides delivering an announcement: rendering each contact's message (`MessageRenderer`),
pacing sends (`Pacer`) and storing drafts a batch at a time or sending one by one, with the
journal written around each delivery as mail/send/announce.py describes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date

from sqlite_utils import Database

from rapport.mail.config import MailboxConfig, SmtpSettings
from rapport.mail.draft.context import account_deal, build_context
from rapport.mail.draft.render import render_draft
from rapport.mail.errors import ConnectionLost, MailError
from rapport.mail.send.announce_plan import AnnouncementPlan, Problem, Target
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
from rapport.store.config import Config
from rapport.store.errors import InputError, WorkspaceError
from rapport.store.mailstore.announcements import (
    Announcement,
    get_or_create_announcement,
    mark_done_many,
    mark_failed,
    mark_started,
    mark_started_many,
)
from rapport.store.workspace import Workspace


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
                       list_headers=self.unsubscribe.headers(),
                       attachments=self.plan.attachments)




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
class RunState:
    """What one delivery run has done so far."""

    delivered: int = 0
    confirmed: int = 0
    skipped: list[Problem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    uncertain: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stopped: str = ""
    first: Composed | None = None
    drafts_in: str = ""  # where the drafts went (IMAP folder and mailbox, or outbox/'s full path)


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

    def drafts_place(self) -> str:
        """Where store_drafts puts them, as the user's mail client or shell names it."""
        if self.drafts is None:
            return str(self.workspace.outbox_dir)
        return f"the IMAP folder {self.drafts.folder or 'Drafts'} of mailbox {self.drafts.cfg.name}"

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


def render_each(renderer: MessageRenderer, targets: Sequence[Target], run: RunState,
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
                      delivery: _Delivery, items: list[Item], run: RunState) -> list[Item]:
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
            run: RunState) -> None:
    """Certainly not delivered: journaled 'failed' (retried next run) and listed."""
    mark_failed(db, announcement.id, target.contact.id, reason)
    run.failed.append(Problem(target.who, reason))


def uncertain_text(message_id: str, why: str = "") -> str:
    return f"sent as <{message_id}>, not confirmed" + (f": {why}" if why else "")


def _draft_batch(db: Database, plan: AnnouncementPlan, announcement: Announcement,
                 delivery: _Delivery, items: list[Item], run: RunState) -> None:
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
              delivery: _Delivery, item: Item, run: RunState) -> None:
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
        run.uncertain.append(Problem(target.who, uncertain_text(msg.message_id, exc.message)))
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


def _check_template_error(run: RunState, planned: int) -> None:
    """Raise the error when every contact so far failed the same way and none rendered: a
    missing `promotion` must be one line and exit 2, not 10,000 skipped contacts."""
    if run.first is not None or len(run.skipped) < min(TEMPLATE_ERROR_AFTER, planned):
        return
    reasons = {problem.reason for problem in run.skipped}
    if len(reasons) == 1:
        raise InputError(reasons.pop())



def deliver_all(db: Database, workspace: Workspace, config: Config, plan: AnnouncementPlan,
                 renderer: MessageRenderer, *, mode: str, smtp: SmtpSettings | None,
                 pacer: Pacer, progress: Callable[[int, int], None] | None) -> RunState:
    run = RunState()
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
            items = render_each(renderer, batch, run, total)
            if mode == "drafts":
                _draft_batch(db, plan, announcement, delivery, items, run)
                run.drafts_in = delivery.drafts_place()
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


