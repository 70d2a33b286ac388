"""Provides reading stored messages: one, several, a thread, a page, or one named by
Message-ID or id, each with its folder and the accounts it is linked to.

store/mailstore/messages.py re-exports these names (callers read them from there).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapport.store.errors import InputError, NotFoundError
from rapport.store.mailstore.copies import chunks as _chunks

if TYPE_CHECKING:
    from sqlite_utils import Database

# (account_id, account name, rule, detail) — rule: contact|domain|override|assigned|pin
AccountLink = tuple[int, str, str, str]

@dataclass(frozen=True)
class Message:
    """A stored message with its folder and the accounts it is linked to."""

    id: int
    folder_id: int
    mailbox: str
    folder: str
    uid: int
    message_id: str
    thread_id: str
    in_reply_to: str
    refs: tuple[str, ...]
    date_utc: str
    from_name: str
    from_addr: str
    to_addrs: str
    cc_addrs: str
    reply_to: str
    subject: str
    snippet: str
    body_text: str
    attachments: tuple[tuple[str, str, int], ...]
    size: int
    seen: bool
    answered: bool
    flagged: bool
    draft: bool
    flags_dirty: bool
    direction: str
    modseq: int | None
    # (account_id, account name, rule, detail) — rule: contact|domain|override|assigned|pin
    accounts: tuple[AccountLink, ...]


_SELECT = """
SELECT m.*, f.mailbox AS mailbox, f.name AS folder_name
FROM messages m JOIN folders f ON f.id = m.folder_id
"""


def message_accounts(db: Database, message_ids: Sequence[int]) -> dict[int, list[AccountLink]]:
    """(account_id, name, rule, detail) per message id, accounts sorted by name."""
    found: dict[int, list[AccountLink]] = {}
    for chunk in _chunks(list(message_ids)):
        rows = db.execute(
            "SELECT ma.message_id, a.id, a.name, ma.rule, ma.detail FROM message_accounts ma "
            "JOIN accounts a ON a.id = ma.account_id "
            f"WHERE ma.message_id IN ({','.join('?' * len(chunk))}) ORDER BY a.name COLLATE NOCASE",
            list(chunk),
        )
        for mid, aid, name, rule, detail in rows:
            found.setdefault(mid, []).append((aid, name, rule, detail))
    return found


def _message_from_row(row: dict[str, Any], accounts: list[AccountLink]) -> Message:
    try:
        attachments = tuple(
            (str(a.get("name", "")), str(a.get("type", "")), int(a.get("size", 0)))
            for a in json.loads(row["attachments"] or "[]")
        )
    except (ValueError, TypeError, AttributeError):
        attachments = ()
    return Message(
        id=row["id"],
        folder_id=row["folder_id"],
        mailbox=row["mailbox"],
        folder=row["folder_name"],
        uid=row["uid"],
        message_id=row["message_id"],
        thread_id=row["thread_id"],
        in_reply_to=row["in_reply_to"],
        refs=tuple(row["refs"].split()),
        date_utc=row["date_utc"],
        from_name=row["from_name"],
        from_addr=row["from_addr"],
        to_addrs=row["to_addrs"],
        cc_addrs=row["cc_addrs"],
        reply_to=row["reply_to"],
        subject=row["subject"],
        snippet=row["snippet"],
        body_text=row["body_text"],
        attachments=attachments,
        size=row["size"],
        seen=bool(row["seen"]),
        answered=bool(row["answered"]),
        flagged=bool(row["flagged"]),
        draft=bool(row["draft"]),
        flags_dirty=bool(row["flags_dirty"]),
        direction=row["direction"],
        modseq=row["modseq"],
        accounts=tuple(accounts),
    )


def get_messages(db: Database, message_ids: Sequence[int]) -> list[Message]:
    """Several messages by numeric id, in the order asked (missing ids are skipped)."""
    rows: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(list(message_ids)):
        sql = _SELECT + f"WHERE m.id IN ({','.join('?' * len(chunk))})"
        rows.update({r["id"]: r for r in db.query(sql, list(chunk))})
    links = message_accounts(db, list(rows))
    return [_message_from_row(rows[i], links.get(i, [])) for i in message_ids if i in rows]


def get_message(db: Database, message_id: int) -> Message:
    found = get_messages(db, [message_id])
    if not found:
        raise NotFoundError(f"no message with id {message_id}")
    return found[0]


def normalize_message_id(ref: str) -> str:
    """`<abc@host>` or `abc@host` -> `abc@host`."""
    return ref.strip().removeprefix("<").removesuffix(">").strip()


def find_message(db: Database, ref: str) -> Message:
    """A message by numeric id or Message-ID (angle brackets optional)."""
    text = (ref or "").strip()
    if not text:
        raise InputError("empty message reference: give a Message-ID or a numeric id")
    if text.isdigit():
        try:
            return get_message(db, int(text))
        except NotFoundError:
            pass  # a Message-ID may be all digits too
    mid = normalize_message_id(text)
    # The same Message-ID may sit in several folders (INBOX and an archive): take the oldest copy.
    row = db.execute(
        "SELECT id FROM messages WHERE message_id = ? ORDER BY id LIMIT 1", [mid]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no message {ref!r} (give a Message-ID or the id from rapport search)")
    return get_message(db, row[0])


def list_messages(
    db: Database,
    *,
    account_id: int | None = None,
    unassigned: bool = False,
    folder_id: int | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[Message]:
    """Messages newest first: one account's timeline, the unassigned review queue, or a folder."""
    clauses, params = [], []
    if account_id is not None:
        clauses.append("m.id IN (SELECT message_id FROM message_accounts WHERE account_id = ?)")
        params.append(account_id)
    if unassigned:
        clauses.append("NOT EXISTS (SELECT 1 FROM message_accounts ma WHERE ma.message_id = m.id)")
    if folder_id is not None:
        clauses.append("m.folder_id = ?")
        params.append(folder_id)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    ids = [
        r[0]
        for r in db.execute(
            f"SELECT m.id FROM messages m {where} ORDER BY m.date_utc DESC, m.id DESC "
            "LIMIT ? OFFSET ?",
            [*params, max(0, int(limit)), max(0, int(offset))],
        )
    ]
    return get_messages(db, ids)


def thread_messages(db: Database, thread_id: str) -> list[Message]:
    """Every message of a thread, oldest first (copies in several folders included)."""
    ids = [
        r[0]
        for r in db.execute(
            "SELECT id FROM messages WHERE thread_id = ? ORDER BY date_utc, id", [thread_id]
        )
    ]
    return get_messages(db, ids)


def thread_sequence(db: Database, thread_id: str) -> list[tuple[int, str]]:
    """(id, Message-ID) of a thread's messages, oldest first, one per Message-ID (a copy in a
    second folder is the same message: the oldest stored copy stands for it)."""
    return [(r[0], r[1]) for r in db.execute(
        """SELECT min(id), message_id FROM messages WHERE thread_id = ?
           GROUP BY CASE WHEN message_id = '' THEN 'id:' || id ELSE message_id END
           ORDER BY min(date_utc), min(id)""", [thread_id])]
