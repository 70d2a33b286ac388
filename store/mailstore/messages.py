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
from rapport.store.mailstore import copies, matching
from rapport.store.mailstore.bounces import BounceNotice, UnsubscribeRules, note_batch
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
    uidvalidity_changes: int = 0  # syncs in a row that found a new UIDVALIDITY


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
    # The server's own stable id of the message where it has one (Gmail's X-GM-MSGID): then
    # it, not the headers, says which copies in other folders are the same message.
    server_id: str = ""


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
        uidvalidity_changes=row.get("uidvalidity_changes") or 0,
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


def delete_folder(db: Database, folder_id: int) -> int:
    """Forget a folder that no longer exists at its source; returns how many messages went
    (those no other synced folder holds)."""
    with db.atomic():
        held = copies.clear_folder(db, folder_id, settle_after=False)
        gone = copies.settle(db, held)
        db.execute("DELETE FROM folders WHERE id = ?", [folder_id])
    return gone


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


# A new message; its (folder_id, uid) is its first copy (copies.py calls it the home).
_INSERT = """
INSERT INTO messages (folder_id, uid, message_id, thread_id, in_reply_to, refs, date_utc,
    from_name, from_addr, to_addrs, cc_addrs, reply_to, subject, snippet, body_text, attachments,
    size, seen, answered, flagged, draft, direction, identity)
VALUES (:folder_id, :uid, :message_id, :thread_id, :in_reply_to, :refs, :date_utc, :from_name,
    :from_addr, :to_addrs, :cc_addrs, :reply_to, :subject, :snippet, :body_text, :attachments,
    :size, :seen, :answered, :flagged, :draft, :direction, :identity)
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
        "identity": "",
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


def identity_of(msg: NewMessage, mailbox: str) -> str:
    return copies.message_identity(msg.message_id, msg.date_utc or EPOCH_UTC,
                                   msg.from_addr, msg.subject, msg.server_id, mailbox, msg.size)


def _flag_tuple(msg: NewMessage) -> Flags:
    return (msg.seen, msg.answered, msg.flagged, msg.draft)


def save_batch(
    db: Database,
    folder_id: int,
    messages: list[NewMessage],
    *,
    last_uid: int,
    uidvalidity: int | None,
    highestmodseq: int | None,
    my_addresses: frozenset[str],
    skipped: Sequence[tuple[int, str]] = (),
    unsubscribe: UnsubscribeRules | None = None,
) -> int:
    """Store `messages` as copies in the folder, the `skipped` (uid, reason) pairs of the batch
    and the folder state, atomically, with what the batch says about addresses (bounces, a
    bounced address writing again, unsubscribe requests by `unsubscribe`'s rules). A message
    already stored from another folder (same identity, see copies.py) only gains a copy: it is
    one message, not two.

    Returns the number of copies written. Links only the new messages to accounts.
    """
    mine = frozenset(a.lower() for a in my_addresses)
    with db.atomic():
        matching.remember_my_addresses(db, mine)
        mailbox = db.execute("SELECT mailbox FROM folders WHERE id = ?", [folder_id]).fetchone()
        identities = [identity_of(msg, mailbox[0] if mailbox else "") for msg in messages]
        # A UID stored before (a refetch) is stored afresh.
        if copies.copy_owners(db, folder_id, [m.uid for m in messages]):
            copies.remove_copies(db, folder_id, [m.uid for m in messages])
        known = copies.messages_by_identity(db, identities)
        batch_roots: dict[str, str] = {}
        ids: list[int] = []
        addresses: list[tuple[int, str, str, str]] = []
        first_copies: list[tuple[int, int, Flags]] = []
        for msg, identity in zip(messages, identities, strict=True):
            if identity in known:
                copies.add_copy(db, folder_id, msg.uid, known[identity], _flag_tuple(msg))
                continue
            thread_id = _thread_root(db, msg, batch_roots)
            batch_roots.setdefault(msg.message_id, thread_id)
            row = dict(_message_row(folder_id, msg, thread_id, mine), identity=identity)
            row_id = db.execute(_INSERT, row).fetchone()[0]
            known[identity] = row_id
            first_copies.append((msg.uid, row_id, _flag_tuple(msg)))
            ids.append(row_id)
            addresses.extend(_address_rows(row_id, msg))
        copies.new_copies(db, folder_id, first_copies)
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
        db.conn.executemany(
            "INSERT OR REPLACE INTO skipped_messages (folder_id, uid, reason) VALUES (?, ?, ?)",
            [(folder_id, uid, reason) for uid, reason in skipped],
        )
        db.execute(
            "UPDATE folders SET last_uid = max(last_uid, ?), uidvalidity = ?, "
            "highestmodseq = coalesce(?, highestmodseq), last_sync_utc = ? WHERE id = ?",
            [last_uid, uidvalidity, highestmodseq, utc_now_text(), folder_id],
        )
    return len(messages)


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
    """Take the server's flags for these UIDs: a copy whose flags moved since last seen changes
    its message (except where a local change awaits push). Returns messages changed."""
    with db.atomic():
        changed = copies.apply_copy_flags(db, folder_id, changes)
        if highestmodseq is not None:
            db.execute(
                "UPDATE folders SET highestmodseq = ? WHERE id = ?", [highestmodseq, folder_id]
            )
    return changed


def remove_uids(
    db: Database, folder_id: int, uids: Iterable[int], *, highestmodseq: int | None = None
) -> int:
    """Drop copies expunged at the source (stored or skipped); returns how many stored copies
    were removed. A message goes with its last copy: archived mail stays."""
    with db.atomic():
        removed = copies.remove_copies(db, folder_id, uids)
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
        copies.clear_folder(db, folder_id)
        db.execute(
            "UPDATE folders SET uidvalidity = ?, last_uid = 0, highestmodseq = NULL WHERE id = ?",
            [uidvalidity, folder_id],
        )


def copy_flags(db: Database, folder_id: int) -> dict[int, Flags]:
    """UID -> each of the folder's copies' flags at the source, as last seen."""
    return copies.copy_flags(db, folder_id)


def reidentify_folder(db: Database, folder_id: int, *, uidvalidity: int,
                      matches: dict[int, tuple[int, Flags]], last_uid: int) -> None:
    """UIDVALIDITY changed and the messages the folder held were found again by identity:
    `matches` is {new UID: (message id, server flags)}. The folder's copies become exactly
    those (messages found nowhere go), its skip records go, and its state restarts at
    `last_uid` (below the first UID still to fetch), one change further in a row."""
    with db.atomic():
        held = copies.clear_folder(db, folder_id, settle_after=False)
        for uid, (message_id, flags) in sorted(matches.items()):
            copies.add_copy(db, folder_id, uid, message_id, flags)
        copies.settle(db, held + [message_id for message_id, _flags in matches.values()])
        db.execute(
            "UPDATE folders SET uidvalidity = ?, last_uid = ?, highestmodseq = NULL,"
            " uidvalidity_changes = uidvalidity_changes + 1 WHERE id = ?",
            [uidvalidity, last_uid, folder_id])


def uidvalidity_steady(db: Database, folder_id: int) -> None:
    """The folder's UIDVALIDITY was the one stored: no longer changing."""
    db.execute("UPDATE folders SET uidvalidity_changes = 0 WHERE id = ? AND uidvalidity_changes",
               [folder_id])


def local_uids(db: Database, folder_id: int) -> set[int]:
    return copies.folder_uids(db, folder_id)


def known_uids(db: Database, folder_id: int) -> set[int]:
    """Every UID the folder's sync has dealt with: stored or skipped."""
    rows = db.execute("SELECT uid FROM message_copies WHERE folder_id = :f"
                      " UNION ALL SELECT uid FROM skipped_messages WHERE folder_id = :f",
                      {"f": folder_id})
    return {uid for (uid,) in rows}


def known_count(db: Database, folder_id: int) -> int:
    """How many of the server's messages the folder accounts for: stored + skipped."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM message_copies WHERE folder_id = :f)"
        " + (SELECT count(*) FROM skipped_messages WHERE folder_id = :f)",
        {"f": folder_id},
    ).fetchone()
    return int(row[0])


def dirty_flags(db: Database, folder_id: int) -> dict[int, Flags]:
    """Flags changed in Rapport and not yet written to this folder's copies, by UID."""
    return copies.dirty_copies(db, folder_id)


def clear_dirty(db: Database, folder_id: int, uids: Iterable[int] | dict[int, Flags]) -> None:
    """These copies now hold their message's flags ({uid: flags written}: only where the
    message has not changed again since)."""
    with db.atomic():
        copies.mark_pushed(db, folder_id, uids)


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
        copies.mark_all_copies_dirty(db, message_id)  # the flags are one: every copy gets them


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
