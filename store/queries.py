"""Provides the read views the TUI shows: pipeline rows, inbox pages and counts, Today items."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlite_utils import Database

from rapport.store.contact import day_end_utc, stale_accounts
from rapport.store.deals import Deal, is_rotting, list_deals, weighted_value
from rapport.store.pipeline import Pipeline


@dataclass(frozen=True)
class StageSummary:
    """One pipeline stage with its deals' count, total and weighted value."""

    name: str
    count: int
    total: float
    weighted: float


@dataclass(frozen=True)
class PipelineRow:
    """A line of the pipeline pane: a stage header (deal is None) or a deal under it."""

    stage: StageSummary
    deal: Deal | None = None
    overdue: bool = False
    rotting: bool = False


def pipeline_rows(db: Database, pipeline: Pipeline, today: date) -> list[PipelineRow]:
    """Stages in pipeline order, each followed by its deals (soonest next action first)."""
    by_stage: dict[str, list[Deal]] = {name: [] for name in pipeline.names}
    for deal in list_deals(db):
        by_stage.setdefault(deal.stage, []).append(deal)
    rows: list[PipelineRow] = []
    for name, deals in by_stage.items():
        deals.sort(key=lambda d: (d.next_action_due is None, d.next_action_due or date.max, d.account_name))
        summary = StageSummary(
            name,
            len(deals),
            sum(d.value for d in deals),
            sum(weighted_value(d, pipeline) for d in deals),
        )
        rows.append(PipelineRow(summary))
        for deal in deals:
            overdue = deal.next_action_due is not None and deal.next_action_due < today
            rotting = pipeline.get(deal.stage) is not None and is_rotting(deal, pipeline, today)
            rows.append(PipelineRow(summary, deal, overdue, rotting))
    return rows


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: everything, unassigned only, unread only, one account, a search."""

    unassigned: bool = False
    unread: bool = False
    account_id: int | None = None
    text: str = ""


@dataclass(frozen=True)
class InboxRow:
    """One inbox line."""

    id: int
    date_utc: str
    from_name: str
    from_addr: str
    subject: str
    seen: bool
    accounts: str  # account names, comma-separated; "" when unassigned


def _where(flt: InboxFilter) -> tuple[str, list]:
    clauses = ["m.direction = 'in'", "m.draft = 0"]
    params: list = []
    if flt.unassigned:
        clauses.append("NOT EXISTS (SELECT 1 FROM message_accounts ma WHERE ma.message_id = m.id)")
    if flt.unread:
        clauses.append("m.seen = 0")
    if flt.account_id is not None:
        clauses.append("m.id IN (SELECT message_id FROM message_accounts WHERE account_id = ?)")
        params.append(flt.account_id)
    if flt.text.strip():
        # Each word as a quoted FTS prefix term: user text is never FTS syntax.
        terms = " ".join('"' + word.replace('"', '""') + '"*' for word in flt.text.split())
        clauses.append("m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)")
        params.append(terms)
    return " AND ".join(clauses), params


def inbox_count(db: Database, flt: InboxFilter = InboxFilter()) -> int:
    where, params = _where(flt)
    return db.execute(f"SELECT count(*) FROM messages m WHERE {where}", params).fetchone()[0]


def inbox_page(db: Database, offset: int, limit: int, flt: InboxFilter = InboxFilter()) -> list[InboxRow]:
    """Rows `offset`..`offset+limit` of the inbox, newest first."""
    where, params = _where(flt)
    rows = db.execute(
        f"""SELECT m.id, m.date_utc, m.from_name, m.from_addr, m.subject, m.seen,
                   (SELECT group_concat(a.name, ', ') FROM message_accounts ma
                    JOIN accounts a ON a.id = ma.account_id WHERE ma.message_id = m.id)
            FROM messages m WHERE {where}
            ORDER BY m.date_utc DESC, m.id DESC LIMIT ? OFFSET ?""",
        [*params, limit, offset],
    ).fetchall()
    return [InboxRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6] or "") for r in rows]


@dataclass(frozen=True)
class TodayItem:
    """A line of the Today view; every line opens its account."""

    section: str  # 'due' | 'stale' | 'unanswered'
    account_id: int
    account_name: str
    text: str
    day: str


def today_items(db: Database, today: date, stale_after_days: int) -> list[TodayItem]:
    """Overdue and due-today next actions, stale accounts, unanswered client mail older than a day.

    Every item, none dropped; unanswered mail longest-waiting first (what needs an answer most).
    """
    items: list[TodayItem] = []
    for r in db.execute(
        """SELECT d.account_id, a.name, d.title, d.next_action, d.next_action_due FROM deals d
           JOIN accounts a ON a.id = d.account_id
           WHERE d.next_action_due IS NOT NULL AND d.next_action_due <= ?
           ORDER BY d.next_action_due, a.name""",
        [today.isoformat()],
    ):
        items.append(TodayItem("due", r[0], r[1], f"{r[2]}: {r[3]}", r[4]))
    # The report's definition of contact and staleness (store/contact.py), so the two agree.
    for s in stale_accounts(db, day_end_utc(today), stale_after_days):  # all of them: the list is virtualised
        last = (s.last_contact_utc or "")[:10]
        items.append(TodayItem("stale", s.account_id, s.account, "no contact since " + (last or "ever"), last))
    day_ago = (today - timedelta(days=1)).isoformat()
    for r in db.execute(
        """SELECT ma.account_id, a.name, m.subject, m.date_utc FROM messages m
           JOIN message_accounts ma ON ma.message_id = m.id JOIN accounts a ON a.id = ma.account_id
           WHERE m.direction = 'in' AND m.answered = 0 AND m.date_utc < ?
             AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.thread_id = m.thread_id
                             AND r.direction = 'out' AND r.date_utc > m.date_utc)
           ORDER BY m.date_utc, m.id""",
        [day_ago],
    ):
        items.append(TodayItem("unanswered", r[0], r[1], r[2], r[3][:10]))
    return items


@dataclass(frozen=True)
class TimelineItem:
    """A line of an account's timeline: a thread, a message (message_id set) or an activity (activity_id set)."""

    date_utc: str
    kind: str  # 'thread' | 'mail-in' | 'mail-out' | an activity kind
    text: str
    message_id: int | None = None  # a thread line carries its newest message
    thread_id: str = ""
    activity_id: int | None = None
    resolved: bool | None = None
    deal_id: int | None = None
    depth: int = 0  # 1: a message listed under its thread line
    count: int = 0  # thread lines: how many messages the thread has


def _thread_entries(db: Database, account_id: int, limit: int) -> list[tuple[str, list[TimelineItem]]]:
    """The account's messages grouped by thread: (newest date, [thread line, messages oldest first])."""
    threads: dict[str, list[TimelineItem]] = {}
    for r in db.execute(
        """SELECT m.date_utc, m.direction, m.from_name, m.from_addr, m.subject, m.id, m.thread_id
           FROM message_accounts ma JOIN messages m ON m.id = ma.message_id
           WHERE ma.account_id = ? ORDER BY m.date_utc DESC, m.id DESC LIMIT ?""",
        [account_id, limit],
    ):
        thread = r[6] or f"message-{r[5]}"
        threads.setdefault(thread, []).append(TimelineItem(
            r[0], "mail-out" if r[1] == "out" else "mail-in", f"{r[2] or r[3]}: {r[4]}",
            message_id=r[5], thread_id=r[6]))
    entries: list[tuple[str, list[TimelineItem]]] = []
    for newest_first in threads.values():
        newest = newest_first[0]
        if len(newest_first) == 1:
            entries.append((newest.date_utc, [newest]))
            continue
        oldest = newest_first[-1]
        subject = oldest.text.split(": ", 1)[-1]
        head = TimelineItem(newest.date_utc, "thread", f"{subject}  ({len(newest_first)} messages)",
                            message_id=newest.message_id, thread_id=newest.thread_id, count=len(newest_first))
        children = [replace(item, depth=1) for item in reversed(newest_first)]
        entries.append((newest.date_utc, [head, *children]))
    return entries


def account_timeline(db: Database, account_id: int, limit: int = 2000) -> list[TimelineItem]:
    """Threads (newest activity first, their messages under them) interleaved by date with activities.

    A thread of one message is just that message's line; at most the newest `limit` messages and
    `limit` activities are shown.
    """
    entries = _thread_entries(db, account_id, limit)
    for r in db.execute(
        """SELECT date_utc, kind, subject, body, id, resolved, from_stage, to_stage, deal_id FROM activities
           WHERE account_id = ? ORDER BY date_utc DESC LIMIT ?""",
        [account_id, limit],
    ):
        text = f"{r[6]} → {r[7]}" if r[1] == "stage_change" else (r[2] or r[3]).split("\n")[0]
        entries.append((r[0], [TimelineItem(r[0], r[1], text, activity_id=r[4],
                                            resolved=None if r[5] is None else bool(r[5]), deal_id=r[8])]))
    entries.sort(key=lambda entry: entry[0], reverse=True)
    return [item for _date, items in entries for item in items]
