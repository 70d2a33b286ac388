"""Provides the synced-mail store: folders with their sync state, messages, flags and look-ups.

The sync engines (IMAP in mail/sync/engine.py, Maildir in mail/sync/maildir.py) hand parsed `NewMessage`s to
`save_batch`, which writes them, their addresses, thread ids, account links, the UIDs it skipped
(`skipped_messages`) and the folder state in ONE transaction: a kill -9 at any point leaves either the whole batch or none of it, so the next
run resumes from the stored `last_uid` with nothing lost or duplicated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from rapport.store.errors import InputError, NotFoundError
from rapport.store.mailstore import matching
from rapport.store.mailstore.bounces import BounceNotice, UnsubscribeRules, note_batch
from rapport.store.mailstore.syncstate import Skip, check_uidvalidity, record_skipped
from rapport.store.timeutil import utc_now_text

Flags = tuple[bool, bool, bool, bool]  # seen, answered, flagged, draft
AddressList = tuple[tuple[str, str], ...]  # (name, address)

EPOCH_UTC = "1970-01-01T00:00:00Z"
# SQLite allows 32k bound variables; stay far below for IN (...) lists.
_CHUNK = 500


@dataclass(frozen=True)
class FolderState:
    """One synced folder and where its sync stands."""

    id: int
    mailbox: str
    name: str
    role: str
    uidvalidity: int | None
    last_uid: int
    highestmodseq: int | None
    last_sync_utc: str | None


@dataclass(frozen=True)
class NewMessage:
    """A parsed message as the mail layer hands it to the store (addresses lower-cased)."""

    uid: int
    message_id: str
    in_reply_to: str = ""
    refs: tuple[str, ...] = ()
    date_utc: str = EPOCH_UTC
    from_name: str = ""
    from_addr: str = ""
    to: AddressList = ()
    cc: AddressList = ()
    reply_to: AddressList = ()
    subject: str = ""
    snippet: str = ""
    body_text: str = ""
    attachments: tuple[tuple[str, str, int], ...] = ()
    size: int = 0
    seen: bool = False
    answered: bool = False
    flagged: bool = False
    draft: bool = False
    # The failed recipients when this is a bounce (read by the mail layer), else ().
    bounces: tuple[BounceNotice, ...] = ()


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
    accounts: tuple[tuple[int, str, str, str], ...]


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _folder_from_row(row: dict) -> FolderState:
    return FolderState(
        id=row["id"],
        mailbox=row["mailbox"],
        name=row["name"],
        role=row["role"],
        uidvalidity=row["uidvalidity"],
        last_uid=row["last_uid"],
        highestmodseq=row["highestmodseq"],
        last_sync_utc=row["last_sync_utc"],
    )


def get_folder(db: Database, folder_id: int) -> FolderState:
    rows = list(db.query("SELECT * FROM folders WHERE id = ?", [folder_id]))
    if not rows:
        raise NotFoundError(f"no folder with id {folder_id}")
    return _folder_from_row(rows[0])


def get_or_create_folder(db: Database, mailbox: str, name: str, role: str = "") -> FolderState:
    """The folder `name` of `mailbox`, created empty if new; a non-empty `role` is kept current."""
    with db.atomic():
        db.execute(
            "INSERT INTO folders (mailbox, name, role) VALUES (?, ?, ?) "
            "ON CONFLICT (mailbox, name) DO UPDATE SET role = CASE WHEN excluded.role != '' "
            "THEN excluded.role ELSE folders.role END",
            [mailbox, name, role],
        )
    rows = list(db.query("SELECT * FROM folders WHERE mailbox = ? AND name = ?", [mailbox, name]))
    return _folder_from_row(rows[0])


def list_folders(db: Database, mailbox: str | None = None) -> list[FolderState]:
    if mailbox is None:
        rows = db.query("SELECT * FROM folders ORDER BY mailbox, name")
    else:
        rows = db.query("SELECT * FROM folders WHERE mailbox = ? ORDER BY name", [mailbox])
    return [_folder_from_row(r) for r in rows]


def delete_folder(db: Database, folder_id: int) -> None:
    """Forget a folder that no longer exists at its source (its messages go with it)."""
    with db.atomic():
        db.execute("DELETE FROM folders WHERE id = ?", [folder_id])


def format_addresses(addresses: AddressList) -> str:
    """The display form stored in to_addrs/cc_addrs: `Name <a@b>, c@d`."""
    parts = []
    for name, addr in addresses:
        if name and name != addr:
            shown = f'"{name}"' if any(c in name for c in ',;<>"@') else name
            parts.append(f"{shown} <{addr}>")
        elif addr:
            parts.append(addr)
    return ", ".join(parts)


def _thread_root(db: Database, msg: NewMessage, batch_roots: dict[str, str]) -> str:
    # References lists the thread from its root, so refs[0] is the root even if the parent is
    # not here yet; with only In-Reply-To, adopt the parent's thread when we have the parent.
    if msg.refs:
        return msg.refs[0]
    if msg.in_reply_to:
        if msg.in_reply_to in batch_roots:
            return batch_roots[msg.in_reply_to]
        row = db.execute(
            "SELECT thread_id FROM messages WHERE message_id = ? LIMIT 1", [msg.in_reply_to]
        ).fetchone()
        return row[0] if row else msg.in_reply_to
    return msg.message_id


def _adopt_orphans(db: Database, message_ids: Sequence[str]) -> list[int]:
    """Move replies saved before their parent onto the thread's real root.

    Such a reply took its parent's Message-ID as thread id; once the parent is here (and itself
    belongs to an older thread) the reply follows, and so does a pin made on the interim thread.
    Returns the ids of messages whose thread changed.
    """
    moved: list[int] = []
    for chunk in _chunks(list(message_ids)):
        marks = ",".join("?" * len(chunk))
        renames = db.execute(
            f"""
            SELECT DISTINCT p.message_id, p.thread_id FROM messages p
            WHERE p.message_id IN ({marks}) AND p.thread_id != p.message_id
              AND EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = p.message_id)
            """,
            list(chunk),
        ).fetchall()
        for old, new in renames:
            moved.extend(
                r[0] for r in db.execute("SELECT id FROM messages WHERE thread_id = ?", [old])
            )
            db.execute("UPDATE messages SET thread_id = ? WHERE thread_id = ?", [new, old])
            db.execute(
                "UPDATE OR IGNORE thread_pins SET thread_id = ? WHERE thread_id = ?", [new, old]
            )
    return moved


_UPSERT = """
INSERT INTO messages (folder_id, uid, message_id, thread_id, in_reply_to, refs, date_utc,
    from_name, from_addr, to_addrs, cc_addrs, reply_to, subject, snippet, body_text, attachments,
    size, seen, answered, flagged, draft, direction)
VALUES (:folder_id, :uid, :message_id, :thread_id, :in_reply_to, :refs, :date_utc, :from_name,
    :from_addr, :to_addrs, :cc_addrs, :reply_to, :subject, :snippet, :body_text, :attachments,
    :size, :seen, :answered, :flagged, :draft, :direction)
ON CONFLICT (folder_id, uid) DO UPDATE SET
    message_id = excluded.message_id, thread_id = excluded.thread_id,
    in_reply_to = excluded.in_reply_to, refs = excluded.refs, date_utc = excluded.date_utc,
    from_name = excluded.from_name, from_addr = excluded.from_addr,
    to_addrs = excluded.to_addrs, cc_addrs = excluded.cc_addrs, reply_to = excluded.reply_to,
    subject = excluded.subject, snippet = excluded.snippet, body_text = excluded.body_text,
    attachments = excluded.attachments, size = excluded.size, direction = excluded.direction,
    -- flags changed here and not yet pushed win over the refetched copy
    seen = CASE WHEN flags_dirty THEN seen ELSE excluded.seen END,
    answered = CASE WHEN flags_dirty THEN answered ELSE excluded.answered END,
    flagged = CASE WHEN flags_dirty THEN flagged ELSE excluded.flagged END,
    draft = CASE WHEN flags_dirty THEN draft ELSE excluded.draft END
RETURNING id
"""


def _message_row(folder_id: int, msg: NewMessage, thread_id: str, mine: frozenset[str]) -> dict:
    return {
        "folder_id": folder_id,
        "uid": msg.uid,
        "message_id": msg.message_id,
        "thread_id": thread_id,
        "in_reply_to": msg.in_reply_to,
        "refs": " ".join(msg.refs),
        "date_utc": msg.date_utc or EPOCH_UTC,
        "from_name": msg.from_name,
        "from_addr": msg.from_addr.lower(),
        "to_addrs": format_addresses(msg.to),
        "cc_addrs": format_addresses(msg.cc),
        "reply_to": format_addresses(msg.reply_to),
        "subject": msg.subject,
        "snippet": msg.snippet,
        "body_text": msg.body_text,
        "attachments": json.dumps(
            [{"name": n, "type": t, "size": s} for n, t, s in msg.attachments]
        ),
        "size": msg.size,
        "seen": int(msg.seen),
        "answered": int(msg.answered),
        "flagged": int(msg.flagged),
        "draft": int(msg.draft),
        "direction": "out" if msg.from_addr.lower() in mine else "in",
    }


def _address_rows(row_id: int, msg: NewMessage) -> list[tuple[int, str, str, str]]:
    rows: dict[tuple[str, str], str] = {}
    if msg.from_addr:
        rows[("from", msg.from_addr.lower())] = msg.from_name
    for role, addresses in (("to", msg.to), ("cc", msg.cc), ("reply_to", msg.reply_to)):
        for name, addr in addresses:
            if addr:
                rows.setdefault((role, addr.lower()), name)
    return [(row_id, role, addr, name) for (role, addr), name in rows.items()]


def save_batch(
    db: Database,
    folder_id: int,
    messages: list[NewMessage],
    *,
    last_uid: int,
    uidvalidity: int | None,
    highestmodseq: int | None,
    my_addresses: frozenset[str],
    skipped: Sequence[Skip] = (),
    unsubscribe: UnsubscribeRules | None = None,
) -> int:
    """Store `messages` (upsert by folder and UID), the `skipped` (uid, reason[, retry]) of the
    batch and the folder state, atomically, with what the batch says about addresses (bounces,
    a bounced address writing again, unsubscribe requests by `unsubscribe`'s rules).

    StaleSyncState (nothing written) when the folder's stored UIDVALIDITY is no longer
    `uidvalidity`: another run reset the folder since this one read it.

    Returns the number of messages written. Links only these messages to accounts.
    """
    mine = frozenset(a.lower() for a in my_addresses)
    with db.atomic():
        check_uidvalidity(db, folder_id, uidvalidity)
        matching.remember_my_addresses(db, mine)
        batch_roots: dict[str, str] = {}
        ids: list[int] = []
        addresses: list[tuple[int, str, str, str]] = []
        for msg in messages:
            thread_id = _thread_root(db, msg, batch_roots)
            batch_roots.setdefault(msg.message_id, thread_id)
            row_id = db.execute(_UPSERT, _message_row(folder_id, msg, thread_id, mine)).fetchone()[
                0
            ]
            ids.append(row_id)
            addresses.extend(_address_rows(row_id, msg))
        for chunk in _chunks(ids):
            db.execute(
                f"DELETE FROM message_addresses WHERE message_id IN ({','.join('?' * len(chunk))})",
                list(chunk),
            )
        db.conn.executemany(
            "INSERT OR IGNORE INTO message_addresses (message_id, role, address, name) "
            "VALUES (?, ?, ?, ?)",
            addresses,
        )
        moved = _adopt_orphans(db, list(batch_roots))
        # Before relinking: a bounce joins its contact's account through the bounces rows.
        note_batch(db, messages, mine=mine, rules=unsubscribe)
        matching.relink_messages(db, ids + moved)
        record_skipped(db, folder_id, skipped, stored=[m.uid for m in messages])
        db.execute(
            "UPDATE folders SET last_uid = max(last_uid, ?), uidvalidity = coalesce(?, uidvalidity), "
            "highestmodseq = coalesce(?, highestmodseq), last_sync_utc = ? WHERE id = ?",
            [last_uid, uidvalidity, highestmodseq, utc_now_text(), folder_id],
        )
    return len(ids)


def mark_folder_synced(
    db: Database, folder_id: int, *, highestmodseq: int | None = None, last_uid: int | None = None
) -> None:
    """Record a sync that found nothing new (keeps `last_sync_utc` honest for the status bar)."""
    with db.atomic():
        db.execute(
            "UPDATE folders SET last_sync_utc = ?, highestmodseq = coalesce(?, highestmodseq), "
            "last_uid = max(last_uid, coalesce(?, 0)) WHERE id = ?",
            [utc_now_text(), highestmodseq, last_uid, folder_id],
        )


def apply_flag_changes(
    db: Database, folder_id: int, changes: dict[int, Flags], *, highestmodseq: int | None
) -> int:
    """Take the server's flags for these UIDs (except where a local change awaits push)."""
    changed = 0
    with db.atomic():
        for uid, (seen, answered, flagged, draft) in changes.items():
            cursor = db.execute(
                "UPDATE messages SET seen = ?, answered = ?, flagged = ?, draft = ? "
                "WHERE folder_id = ? AND uid = ? AND flags_dirty = 0 AND "
                "(seen, answered, flagged, draft) IS NOT (?, ?, ?, ?)",
                [int(seen), int(answered), int(flagged), int(draft), folder_id, uid]
                + [int(seen), int(answered), int(flagged), int(draft)],
            )
            changed += cursor.rowcount
        if highestmodseq is not None:
            db.execute(
                "UPDATE folders SET highestmodseq = ? WHERE id = ?", [highestmodseq, folder_id]
            )
    return changed


def remove_uids(
    db: Database, folder_id: int, uids: Iterable[int], *, highestmodseq: int | None = None
) -> int:
    """Drop messages expunged at the source (stored or skipped); returns how many stored
    messages were removed."""
    removed = 0
    uid_list = sorted(set(uids))
    with db.atomic():
        for chunk in _chunks(uid_list):
            marks = ",".join("?" * len(chunk))
            cursor = db.execute(
                f"DELETE FROM messages WHERE folder_id = ? AND uid IN ({marks})",
                [folder_id, *chunk],
            )
            removed += cursor.rowcount
            db.execute(
                f"DELETE FROM skipped_messages WHERE folder_id = ? AND uid IN ({marks})",
                [folder_id, *chunk],
            )
        if highestmodseq is not None:
            db.execute(
                "UPDATE folders SET highestmodseq = ? WHERE id = ?", [highestmodseq, folder_id]
            )
    return removed


def reset_folder(db: Database, folder_id: int, *, uidvalidity: int) -> None:
    """UIDVALIDITY changed: drop the folder's messages (and skip records) and start again from
    UID 0.

    Assignments and pins are keyed by Message-ID / thread id, so they re-apply on refetch.
    """
    with db.atomic():
        db.execute("DELETE FROM messages WHERE folder_id = ?", [folder_id])
        db.execute("DELETE FROM skipped_messages WHERE folder_id = ?", [folder_id])
        db.execute(
            "UPDATE folders SET uidvalidity = ?, last_uid = 0, highestmodseq = NULL WHERE id = ?",
            [uidvalidity, folder_id],
        )


def local_uids(db: Database, folder_id: int) -> set[int]:
    return {r[0] for r in db.execute("SELECT uid FROM messages WHERE folder_id = ?", [folder_id])}


def known_uids(db: Database, folder_id: int) -> set[int]:
    """Every UID the folder's sync has dealt with: stored or skipped."""
    rows = db.execute("SELECT uid FROM messages WHERE folder_id = :f"
                      " UNION ALL SELECT uid FROM skipped_messages WHERE folder_id = :f",
                      {"f": folder_id})
    return {uid for (uid,) in rows}


def known_count(db: Database, folder_id: int) -> int:
    """How many of the server's messages the folder accounts for: stored + skipped."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM messages WHERE folder_id = :f)"
        " + (SELECT count(*) FROM skipped_messages WHERE folder_id = :f)",
        {"f": folder_id},
    ).fetchone()
    return int(row[0])


def dirty_flags(db: Database, folder_id: int) -> dict[int, Flags]:
    """Flags changed in Rapport and not yet written to the server, by UID."""
    rows = db.execute(
        "SELECT uid, seen, answered, flagged, draft FROM messages "
        "WHERE folder_id = ? AND flags_dirty = 1",
        [folder_id],
    )
    return {uid: (bool(s), bool(a), bool(f), bool(d)) for uid, s, a, f, d in rows}


def clear_dirty(db: Database, folder_id: int, pushed: dict[int, Flags]) -> int:
    """Mark these UIDs clean, each only where its flags still equal what was pushed
    (compare-and-clear): a change made in Rapport while the push ran stays dirty for the next
    sync instead of being cleared unsent. Returns how many were cleared."""
    cleared = 0
    with db.atomic():
        for uid, (seen, answered, flagged, draft) in pushed.items():
            cleared += db.execute(
                "UPDATE messages SET flags_dirty = 0 WHERE folder_id = ? AND uid = ? AND "
                "flags_dirty = 1 AND (seen, answered, flagged, draft) IS (?, ?, ?, ?)",
                [folder_id, uid, int(seen), int(answered), int(flagged), int(draft)],
            ).rowcount
    return cleared


def set_flags(
    db: Database,
    message_id: int,
    *,
    seen: bool | None = None,
    answered: bool | None = None,
    flagged: bool | None = None,
) -> None:
    """Change flags locally (from the TUI); the next sync writes them to the server."""
    values = {"seen": seen, "answered": answered, "flagged": flagged}
    sets = {k: int(v) for k, v in values.items() if v is not None}
    if not sets:
        return
    assignments = ", ".join(f"{k} = :{k}" for k in sets)
    with db.atomic():
        cursor = db.execute(
            f"UPDATE messages SET {assignments}, flags_dirty = 1 WHERE id = :id",
            {**sets, "id": message_id},
        )
        if cursor.rowcount == 0:
            raise NotFoundError(f"no message with id {message_id}")


_SELECT = """
SELECT m.*, f.mailbox AS mailbox, f.name AS folder_name
FROM messages m JOIN folders f ON f.id = m.folder_id
"""


def message_accounts(db: Database, message_ids: Sequence[int]) -> dict[int, list[tuple]]:
    """(account_id, name, rule, detail) per message id, accounts sorted by name."""
    found: dict[int, list[tuple]] = {}
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


def _message_from_row(row: dict, accounts: list[tuple]) -> Message:
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
    rows: dict[int, dict] = {}
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
