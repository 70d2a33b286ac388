"""Provides planning an announcement: the segment read, the audience chosen, who is still to
reach (a dry run and the TUI preview read this without writing anything).

See mail/send/announce.py for what an announcement is and how its journal works.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from rapport.mail.attach.outgoing import OutgoingFile, human_size, load_files
from rapport.mail.attach.settings import attachment_settings
from rapport.mail.draft.context import Promotion, display_address
from rapport.mail.draft.render import DraftTemplate
from rapport.store.book.accounts import Account
from rapport.store.book.contacts import Contact
from rapport.store.config import Config
from rapport.store.errors import InputError
from rapport.store.mailstore.announcements import (
    Announcement,
    Audience,
    Recipient,
    Segment,
    earlier_starts,
    find_announcement,
    journal,
    select_audience,
)

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
    attachments: tuple[OutgoingFile, ...] = ()  # carried by every message

    def attachment_note(self, messages: int) -> str:
        """'attachments: a.pdf (1.2 MB); 3 messages carry 3,774,873 bytes of attachments', or ''."""
        if not self.attachments:
            return ""
        each = sum(f.size for f in self.attachments)
        names = ", ".join(f"{f.name} ({human_size(f.size)})" for f in self.attachments)
        return (f"attachments: {names}; {messages} message{'s' if messages != 1 else ''} carry "
                f"{each * messages:,} bytes of attachments ({each:,} each, before encoding)")

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
    retry_uncertain: bool = False, attach: Sequence[str | Path] = (),
) -> AnnouncementPlan:
    """Who a run would reach now; reads only (a dry run leaves no trace in the journal)."""
    check_announce_template(template)
    if limit is not None and limit < 1:
        raise InputError("--limit must be at least 1")
    # The files first: a missing brochure or one over the limit stops the run before anything.
    files = [*(promotion.attachments if promotion else ()), *attach]
    attachments = load_files(files, attachment_settings(config).limit_bytes) if files else ()
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
                            earlier, attachments)

