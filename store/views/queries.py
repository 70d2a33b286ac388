"""Provides the read views the TUI shows: inbox pages and counts, timelines (the pipeline pane's
are in `pipeline_pane`, named here too; Today's are in `today`)."""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# The pipeline pane's view lives in pipeline_pane.py (paged); its names stay importable from here.
from rapport.store.views.pipeline_pane import PipelineIndex as PipelineIndex
from rapport.store.views.pipeline_pane import PipelineRow as PipelineRow
from rapport.store.views.pipeline_pane import StageSummary as StageSummary
from rapport.store.views.pipeline_pane import pipeline_index as pipeline_index
from rapport.store.views.pipeline_pane import pipeline_page as pipeline_page
from rapport.store.views.pipeline_pane import pipeline_position as pipeline_position
from rapport.store.views.pipeline_pane import pipeline_rows as pipeline_rows

if TYPE_CHECKING:
    from sqlite_utils import Database


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


def _where(flt: InboxFilter) -> tuple[str, list[object]]:
    clauses = ["m.direction = 'in'", "m.draft = 0"]
    params: list[object] = []
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
    return int(db.execute(f"SELECT count(*) FROM messages m WHERE {where}", params).fetchone()[0])


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
class TimelineItem:
    """A line of an account's timeline: a thread, a message (message_id set) or an activity (activity_id set)."""

    date_utc: str
    kind: str  # 'thread' | 'mail-in' | 'mail-out' | 'mail-draft' | an activity kind
    text: str
    message_id: int | None = None  # a thread line carries its newest message
    thread_id: str = ""
    activity_id: int | None = None
    resolved: bool | None = None
    deal_id: int | None = None
    depth: int = 0  # 1: a message listed under its thread line
    count: int = 0  # thread lines: how many messages the thread has
    attachments: tuple[str, ...] = ()  # message lines: the names of its attachments


@dataclass(frozen=True)
class TimelineEntry:
    """One top-level entry of a timeline: a thread (its line and messages) or an activity."""

    kind: str  # 'thread' | 'activity'
    key: str  # the thread id (its root's Message-ID, never empty), or the activity id
    date_utc: str  # the thread's newest message, or the activity's date
    size: int  # timeline lines: 1, or 1 + messages for a thread of several
    count: int = 1  # messages in the thread


@dataclass(frozen=True)
class TimelineIndex:
    """Where each entry of an account's timeline starts: enough to page it without loading its text.

    A key account can have tens of thousands of messages; the index holds a few numbers per
    thread and activity, and `timeline_page` reads the text of the lines shown.
    """

    account_id: int
    entries: tuple[TimelineEntry, ...]
    starts: tuple[int, ...]  # the line each entry starts at
    total: int  # lines in all


# A draft Rapport saved in the Drafts folder comes back by sync: its 'draft' activity already stands
# for it. A mail Rapport sent and later synced from Sent is shown as the message, in its thread,
# rather than as a second 'sent' line. Each filter takes the account id as its one parameter; the
# subqueries are not correlated, so SQLite builds each set once per query.
_DRAFT_MESSAGE = "(m.draft = 1 OR m.folder_id IN (SELECT id FROM folders WHERE role = 'drafts'))"
_SHOWN_MESSAGE = f"""NOT ({_DRAFT_MESSAGE} AND m.message_id IN (SELECT message_id FROM activities
    WHERE account_id = ? AND kind = 'draft' AND message_id IS NOT NULL))"""
_SHOWN_ACTIVITY = """NOT (a.kind = 'sent' AND a.message_id IN (SELECT s.message_id FROM messages s
    JOIN message_accounts sa ON sa.message_id = s.id WHERE sa.account_id = ?))"""


def timeline_index(db: Database, account_id: int) -> TimelineIndex:
    """Threads (by newest message) and activities of the account, newest first; threads first on a tie."""
    rows = db.execute(
        f"""SELECT 'thread', m.thread_id, max(m.date_utc) AS newest, count(*), max(m.id) AS tie
            FROM message_accounts ma JOIN messages m ON m.id = ma.message_id
            WHERE ma.account_id = ? AND {_SHOWN_MESSAGE} GROUP BY m.thread_id
            UNION ALL
            SELECT 'activity', CAST(a.id AS TEXT), a.date_utc, 1, a.id FROM activities a
            WHERE a.account_id = ? AND {_SHOWN_ACTIVITY}
            ORDER BY newest DESC, 1 DESC, tie DESC""",
        [account_id, account_id, account_id, account_id],
    ).fetchall()
    entries: list[TimelineEntry] = []
    starts: list[int] = []
    line = 0
    for kind, key, newest, count, _tie in rows:
        size = 1 + count if kind == "thread" and count > 1 else 1
        entries.append(TimelineEntry(kind, key, newest, size, count))
        starts.append(line)
        line += size
    return TimelineIndex(account_id, tuple(entries), tuple(starts), line)


def attachment_names(stored: str | None) -> tuple[str, ...]:
    """The names in a message's `attachments` JSON (an unreadable value: none)."""
    try:
        listed = json.loads(stored or "[]")
        return tuple(str(a.get("name") or "(no name)") for a in listed if isinstance(a, dict))
    except (ValueError, TypeError):
        return ()


def _message_item(row: tuple[Any, ...], depth: int = 0) -> TimelineItem:
    date_utc, direction, from_name, from_addr, subject, message_id, thread_id, draft, files = row
    kind = "mail-draft" if draft else "mail-out" if direction == "out" else "mail-in"
    return TimelineItem(date_utc, kind,
                        f"{from_name or from_addr}: {subject}", message_id=message_id, thread_id=thread_id,
                        depth=depth, attachments=attachment_names(files))


def _thread_messages(db: Database, account_id: int, thread_id: str, offset: int, limit: int, *,
                     newest_first: bool = False) -> list[tuple[Any, ...]]:
    """The thread's messages on this account, oldest first, `offset`..`offset+limit`.

    CROSS JOIN keeps SQLite on the thread index (it would otherwise walk all the account's mail).
    """
    order = "DESC" if newest_first else ""
    return db.execute(
        f"""SELECT m.date_utc, m.direction, m.from_name, m.from_addr, m.subject, m.id, m.thread_id,
                   {_DRAFT_MESSAGE}, m.attachments
            FROM messages m CROSS JOIN message_accounts ma ON ma.message_id = m.id AND ma.account_id = ?
            WHERE m.thread_id = ? AND {_SHOWN_MESSAGE} ORDER BY m.date_utc {order}, m.id {order} LIMIT ? OFFSET ?""",
        [account_id, thread_id, account_id, limit, offset],
    ).fetchall()


def _thread_lines(db: Database, account_id: int, entry: TimelineEntry, first: int, end: int) -> list[TimelineItem]:
    """Lines `first`..`end` (relative to the entry) of a thread entry."""
    if entry.size == 1:
        return [_message_item(row) for row in _thread_messages(db, account_id, entry.key, 0, 1)]
    rows = _thread_messages(db, account_id, entry.key, max(first - 1, 0), end - max(first, 1))
    lines: list[TimelineItem] = []
    if first == 0:
        # Titled by its first message's subject; the thread line opens (and `r` answers) the newest.
        # From the thread line on, `rows` starts at the oldest message: it is read only when not shown.
        oldest = rows[:1] or _thread_messages(db, account_id, entry.key, 0, 1)
        newest = _thread_messages(db, account_id, entry.key, 0, 1, newest_first=True)
        if not oldest or not newest:
            return []  # unlinked since the index was read: the next reload drops the entry
        lines.append(TimelineItem(entry.date_utc, "thread", f"{oldest[0][4]}  ({entry.count} messages)",
                                  message_id=newest[0][5], thread_id=entry.key, count=entry.count))
    return lines + [_message_item(row, depth=1) for row in rows]


def _activity_items(db: Database, ids: list[str]) -> dict[str, TimelineItem]:
    if not ids:
        return {}
    rows = db.execute(
        f"""SELECT a.date_utc, a.kind, a.subject, a.body, a.id, a.resolved, a.from_stage, a.to_stage, a.deal_id,
                   d.title FROM activities a LEFT JOIN deals d ON d.id = a.deal_id
            WHERE a.id IN ({','.join('?' * len(ids))})""",
        [int(i) for i in ids],
    )
    items: dict[str, TimelineItem] = {}
    for r in rows:
        # A stage change names its deal: an account with two deals has two pipelines to follow.
        # A note or a call in full, its lines joined: the TUI shows what fits, enter shows it all.
        text = (f"{r[9] + ': ' if r[9] else ''}{r[6]} → {r[7]}" if r[1] == "stage_change"
                else " ⏎ ".join(part.strip() for part in (r[2] or r[3] or "").splitlines() if part.strip()))
        items[str(r[4])] = TimelineItem(r[0], r[1], text, activity_id=r[4],
                                        resolved=None if r[5] is None else bool(r[5]), deal_id=r[8])
    return items


def timeline_page(db: Database, index: TimelineIndex, offset: int, limit: int) -> list[TimelineItem]:
    """Lines `offset`..`offset+limit` of the timeline `index` describes (read from the store now)."""
    end = min(offset + limit, index.total)
    if offset >= end:
        return []
    first = max(bisect_right(index.starts, offset) - 1, 0)
    covered: list[tuple[TimelineEntry, int, int]] = []
    for position in range(first, len(index.entries)):
        start = index.starts[position]
        if start >= end:
            break
        entry = index.entries[position]
        covered.append((entry, max(offset - start, 0), min(end - start, entry.size)))
    activities = _activity_items(db, [entry.key for entry, _a, _b in covered if entry.kind == "activity"])
    lines: list[TimelineItem] = []
    for entry, low, high in covered:
        if entry.kind == "activity":
            item = activities.get(entry.key)
            if item is not None:
                lines.append(item)
        else:
            lines.extend(_thread_lines(db, index.account_id, entry, low, high))
    return lines


def account_timeline(db: Database, account_id: int) -> list[TimelineItem]:
    """The whole timeline: threads (newest activity first, their messages under them, oldest first)
    interleaved by date with activities. A thread of one message is just that message's line.

    The TUI pages it (timeline_index + timeline_page) instead of reading it all.
    """
    index = timeline_index(db, account_id)
    return timeline_page(db, index, 0, index.total)
