"""Provides the synced-mail store: folders with their sync state, messages, flags and look-ups.

The sync engines (IMAP in mail/sync/engine.py, Maildir in mail/sync/maildir.py) hand parsed `NewMessage`s to
`save_batch`, which writes them, their addresses, thread ids, account links, the UIDs it skipped
(`skipped_messages`) and the folder state in ONE transaction: a kill -9 at any point leaves either the whole batch or none of it, so the next
run resumes from the stored `last_uid` with nothing lost or duplicated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapport.store.errors import NotFoundError
from rapport.store.mailstore import copies, matching
from rapport.store.mailstore.bounces import BounceNotice, UnsubscribeRules, note_batch
from rapport.store.mailstore.copies import Flags, chunks

# Folder state and what each folder holds live in folders.py; the sync engines call them here.
from rapport.store.mailstore.folders import (
    FolderState,
    apply_flag_changes,
    clear_dirty,
    copy_flags,
    delete_folder,
    dirty_flags,
    get_folder,
    get_or_create_folder,
    known_count,
    known_uids,
    list_folders,
    local_uids,
    mark_folder_synced,
    reidentify_folder,
    remove_uids,
    reset_folder,
    uidvalidity_steady,
)

# Reading stored messages lives in lookup.py; callers read it here.
from rapport.store.mailstore.lookup import (
    Message,
    find_message,
    get_message,
    get_messages,
    list_messages,
    message_accounts,
    normalize_message_id,
    thread_messages,
)
from rapport.store.mailstore.syncstate import Skip, check_uidvalidity, record_skipped
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database

AddressList = tuple[tuple[str, str], ...]  # (name, address)

EPOCH_UTC = "1970-01-01T00:00:00Z"


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


def format_address(name: str, addr: str) -> str:
    """`Name <a@b>` (the name quoted when it holds `,;<>"@`); the address alone when the name
    adds nothing, the name alone when there is no address."""
    if name and addr and name != addr:
        shown = f'"{name}"' if any(c in name for c in ',;<>"@') else name
        return f"{shown} <{addr}>"
    return addr or name


def format_addresses(addresses: AddressList) -> str:
    """The display form stored in to_addrs/cc_addrs: `Name <a@b>, c@d`."""
    return ", ".join(format_address(name, addr) for name, addr in addresses if addr)


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
    for chunk in chunks(list(message_ids)):
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


def _message_row(folder_id: int, msg: NewMessage, thread_id: str,
                 mine: frozenset[str]) -> dict[str, Any]:
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
    skipped: Sequence[Skip] = (),
    unsubscribe: UnsubscribeRules | None = None,
) -> int:
    """Store `messages` as copies in the folder, the `skipped` (uid, reason[, retry]) of the batch
    and the folder state, atomically, with what the batch says about addresses (bounces, a
    bounced address writing again, unsubscribe requests by `unsubscribe`'s rules). A message
    already stored from another folder (same identity, see copies.py) only gains a copy: it is
    one message, not two.

    StaleSyncState (nothing written) when the folder's stored UIDVALIDITY is no longer
    `uidvalidity`: another run reset the folder since this one read it.

    Returns the number of copies written. Links only the new messages to accounts.
    """
    mine = frozenset(a.lower() for a in my_addresses)
    with db.atomic():
        check_uidvalidity(db, folder_id, uidvalidity)
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
        for chunk in chunks(ids):
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
    return len(messages)


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


# Re-exported: folders.py and lookup.py are read through this module by the sync and the app.
__all__ = [
    "Flags",
    "FolderState",
    "Message",
    "apply_flag_changes",
    "clear_dirty",
    "copy_flags",
    "delete_folder",
    "dirty_flags",
    "find_message",
    "get_folder",
    "get_message",
    "get_messages",
    "get_or_create_folder",
    "known_count",
    "known_uids",
    "list_folders",
    "list_messages",
    "local_uids",
    "mark_folder_synced",
    "message_accounts",
    "normalize_message_id",
    "reidentify_folder",
    "remove_uids",
    "reset_folder",
    "thread_messages",
    "uidvalidity_steady",
]
