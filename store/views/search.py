"""Provides full-text search over stored mail and activities, and the rows of `rapport export
messages`.

User input is turned into a safe FTS5 query: ordinary words are quoted, so `re: price` or
`o'brien` never hit FTS syntax errors; `from:`, `to:`, `cc:`, `subject:` and `body:` narrow a
word to those columns; a trailing `*` keeps a prefix search. AND/OR/NOT/NEAR work as FTS5
operators where they make a valid query, and are searched as words where they do not ("NOT
AVAILABLE"). Text with double quotes or parentheses is FTS5 syntax on purpose: it is passed
through, and its errors become one-line InputErrors (exit 2).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from rapport.store.errors import InputError

if TYPE_CHECKING:
    from sqlite_utils import Database

_COLUMNS = {
    "from": "{from_name from_addr}",
    "to": "to_addrs",
    "cc": "cc_addrs",
    "subject": "subject",
    "body": "body_text",
}
# Activities searched: what the manager wrote down, not stage changes or drafting records.
ACTIVITY_KINDS = ("note", "call", "meeting", "objection", "complaint")
_ACTIVITY_COLUMNS = {"subject": "subject", "body": "body"}
_SYNTAX = re.compile(r'["()]')
_OPERATORS = re.compile(r"\b(AND|OR|NOT|NEAR)\b")


@dataclass(frozen=True)
class SearchHit:
    """One message found, newest first; `accounts` are account names."""

    id: int
    message_id: str
    date_utc: str
    from_name: str
    from_addr: str
    subject: str
    snippet: str
    accounts: tuple[str, ...]


@dataclass(frozen=True)
class ActivityHit:
    """One note, call, meeting or objection found, newest first; `text` is subject and body."""

    id: int
    date_utc: str
    kind: str
    account: str
    text: str


_Hit = TypeVar("_Hit", SearchHit, ActivityHit)


def _quote(term: str) -> str:
    prefix = term.endswith("*") and len(term) > 1
    body = term.rstrip("*") if prefix else term
    return '"' + body.replace('"', '""') + '"' + ("*" if prefix else "")


def fts_query(text: str, *, raw: bool | None = None, columns: dict[str, str] | None = None) -> str:
    """The FTS5 MATCH expression for what the user typed (see the module docstring).

    `raw` None decides from the text: quotes or parentheses mean FTS syntax on purpose.
    `columns` maps `key:` prefixes to FTS columns (default: the messages' keys).
    """
    columns = _COLUMNS if columns is None else columns
    text = " ".join(text.split())
    if not text:
        raise InputError("empty search: give at least one word")
    if raw or (raw is None and _SYNTAX.search(text)):
        return text
    parts = []
    for term in text.split(" "):
        key, sep, value = term.partition(":")
        if sep and value and key.lower() in columns:
            parts.append(f"{columns[key.lower()]} : {_quote(value)}")
        else:
            parts.append(_quote(term))
    return " ".join(parts)


def _forgiving(text: str, columns: dict[str, str], run: Callable[[str], list[_Hit]]) -> list[_Hit]:
    """Run `run(fts query)`; a failed operator reading ("NOT AVAILABLE") is retried as words."""
    intended = bool(_SYNTAX.search(text))
    try:
        return run(fts_query(text, raw=intended or bool(_OPERATORS.search(text)), columns=columns))
    except InputError:
        if intended:
            raise
        return run(fts_query(text, raw=False, columns=columns))


def _fts_rows(db: Database, sql: str, params: list[object], text: str, limit: int) -> list[tuple[Any, ...]]:
    """Run an FTS query ending in `LIMIT ?`; SQLite's complaint about the query is bad input."""
    try:
        return db.execute(sql, [*params, max(1, int(limit))]).fetchall()
    except sqlite3.OperationalError as exc:
        raise InputError(f"bad search syntax in {text!r}: {exc}") from None


def search_messages(
    db: Database, text: str, *, account_id: int | None = None, limit: int = 50
) -> list[SearchHit]:
    """Messages matching `text` (subject, body, names, addresses), newest first."""
    return _forgiving(text, _COLUMNS,
                      lambda query: _run_search(db, query, text, account_id, limit))


def _run_search(
    db: Database, query: str, text: str, account_id: int | None, limit: int
) -> list[SearchHit]:
    where = "messages_fts MATCH ?"
    params: list[object] = [query]
    if account_id is not None:
        where += " AND m.id IN (SELECT message_id FROM message_accounts WHERE account_id = ?)"
        params.append(account_id)
    sql = f"""
        SELECT m.id, m.message_id, m.date_utc, m.from_name, m.from_addr, m.subject, m.snippet,
            (SELECT group_concat(name, char(31)) FROM (
                SELECT a.name FROM message_accounts ma JOIN accounts a ON a.id = ma.account_id
                WHERE ma.message_id = m.id ORDER BY a.name COLLATE NOCASE)) AS account_names
        FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
        WHERE {where}
        ORDER BY m.date_utc DESC, m.id DESC
        LIMIT ?
    """
    rows = _fts_rows(db, sql, params, text, limit)
    return [
        SearchHit(
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(r[7].split("\x1f")) if r[7] else ()
        )
        for r in rows
    ]


def search_activities(
    db: Database, text: str, *, account_id: int | None = None, limit: int = 50
) -> list[ActivityHit]:
    """Notes, calls, meetings and objections matching `text` (subject, body), newest first."""
    return _forgiving(text, _ACTIVITY_COLUMNS,
                      lambda query: _run_activity_search(db, query, text, account_id, limit))


def _run_activity_search(
    db: Database, query: str, text: str, account_id: int | None, limit: int
) -> list[ActivityHit]:
    where = f"activities_fts MATCH ? AND t.kind IN ({','.join('?' * len(ACTIVITY_KINDS))})"
    params: list[object] = [query, *ACTIVITY_KINDS]
    if account_id is not None:
        where += " AND t.account_id = ?"
        params.append(account_id)
    sql = f"""
        SELECT t.id, t.date_utc, t.kind, a.name, t.subject, t.body
        FROM activities_fts JOIN activities t ON t.id = activities_fts.rowid
        JOIN accounts a ON a.id = t.account_id
        WHERE {where}
        ORDER BY t.date_utc DESC, t.id DESC
        LIMIT ?
    """
    rows = _fts_rows(db, sql, params, text, limit)
    return [
        ActivityHit(r[0], r[1], r[2], r[3], "\n".join(part for part in (r[4], r[5]) if part))
        for r in rows
    ]


MESSAGE_COLUMNS = (
    "id",
    "message_id",
    "mailbox",
    "folders",
    "date",
    "from",
    "to",
    "cc",
    "subject",
    "accounts",
    "deal",
)


def message_rows(db: Database, *, account_id: int | None = None) -> list[dict[str, Any]]:
    """Every message (or one account's) for export: accounts as names, deal as the pinned id."""
    where, params = "", []
    if account_id is not None:
        where = "WHERE m.id IN (SELECT message_id FROM message_accounts WHERE account_id = ?)"
        params = [account_id]
    rows = db.execute(
        f"""
        SELECT m.id, m.message_id,
            (SELECT group_concat(mailbox, '; ') FROM (
                SELECT DISTINCT cf.mailbox FROM message_copies c
                JOIN folders cf ON cf.id = c.folder_id WHERE c.message_id = m.id
                ORDER BY cf.mailbox)),
            (SELECT group_concat(place, '; ') FROM (
                SELECT DISTINCT cf.mailbox || '/' || cf.name AS place FROM message_copies c
                JOIN folders cf ON cf.id = c.folder_id WHERE c.message_id = m.id
                ORDER BY cf.mailbox, cf.name)),
            m.date_utc, m.from_name, m.from_addr,
            m.to_addrs, m.cc_addrs, m.subject,
            (SELECT group_concat(name, char(31)) FROM (
                SELECT a.name FROM message_accounts ma JOIN accounts a ON a.id = ma.account_id
                WHERE ma.message_id = m.id ORDER BY a.name COLLATE NOCASE)),
            p.deal_id
        FROM messages m
        LEFT JOIN thread_pins p ON p.thread_id = m.thread_id
        {where}
        ORDER BY m.date_utc, m.id
        """,
        params,
    )
    # Imported here: the mail store's modules cost `rapport search` (which never needs them) 17 ms.
    from rapport.store.mailstore.messages import format_address

    return [
        {
            "id": r[0],
            "message_id": r[1],
            "mailbox": r[2] or "",
            # Every folder holding the message (one message, however many folders hold it).
            "folders": r[3] or "",
            "date": r[4],
            "from": format_address(r[5], r[6]),
            "to": r[7],
            "cc": r[8],
            "subject": r[9],
            "accounts": r[10].split("\x1f") if r[10] else [],
            "deal": r[11],
        }
        for r in rows
    ]
