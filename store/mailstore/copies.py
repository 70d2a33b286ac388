"""Provides the copies of a stored message: each (folder, UID) of a server that holds it.

A message is stored once however many synced folders hold it (Gmail's All Mail holds a copy of
everything; a client may file a copy into a second folder): `messages` has one row per message
and `message_copies` one per (folder, UID). What makes two copies one message is their
`identity`: the server's own stable id where it has one (Gmail's X-GM-MSGID), else Message-ID
with Date, From and Subject, so two different messages that share a Message-ID stay two.

Flags: a copy keeps its server flags as last seen, so a change is noticed per copy (and a copy
that did not change never undoes one that did); the message's flags are one, and a change seen
on any copy becomes the message's. Flags changed in Rapport are written to every copy.

A message goes only when its last copy does. `messages.folder_id`/`uid` name one of its copies
(its "home", where readers find a mailbox and folder to show); it moves to another copy when
that one goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlite_utils import Database


Flags = tuple[bool, bool, bool, bool]  # seen, answered, flagged, draft
_CHUNK = 500
# The domain of the Message-ID mail/message/decode.py makes up for mail that has none (from its
# header bytes): such mail is told apart by its size as well.
MADE_UP_ID = "@rapport.invalid"


_Item = TypeVar("_Item")


def chunks(items: Sequence[_Item], size: int = _CHUNK) -> Iterable[Sequence[_Item]]:
    """`items` in slices small enough for one IN (...) list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]



def message_identity(message_id: str, date_utc: str, from_addr: str, subject: str,
                     server_id: str = "", mailbox: str = "", size: int = 0) -> str:
    """What makes two copies the same message (see the module docstring). Mail without a
    Message-ID of its own counts its size too: two such messages whose few headers agree are
    still two when their contents differ."""
    if server_id:
        return f"server:{mailbox}:{server_id}"  # a server's ids are its own: per mailbox
    fields = [message_id, date_utc, from_addr.lower(), subject]
    if message_id.endswith(MADE_UP_ID):
        fields.append(str(size))
    text = "\x1f".join(fields)
    import hashlib  # here: the read-only commands load this module, never hash (~3 ms)

    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def messages_by_identity(db: Database, identities: Iterable[str]) -> dict[str, int]:
    """identity -> id of the stored message with it (the oldest, should there be two)."""
    wanted = sorted(set(identities))
    found: dict[str, int] = {}
    for chunk in chunks(wanted):
        marks = ",".join("?" * len(chunk))
        for identity, row_id in db.execute(
            f"SELECT identity, min(id) FROM messages WHERE identity IN ({marks}) GROUP BY identity",
            list(chunk),
        ):
            found[identity] = row_id
    return found


def add_copy(db: Database, folder_id: int, uid: int, message_id: int, flags: Flags) -> None:
    """Record that (folder, UID) holds the message; a known message takes on flags set in the
    new copy (read in one copy is read), and gets its pending local change written there too."""
    seen, answered, flagged, draft = (int(f) for f in flags)
    db.execute(
        "INSERT INTO message_copies (folder_id, uid, message_id, seen, answered, flagged, draft,"
        " flags_dirty) SELECT ?, ?, id, ?, ?, ?, ?, flags_dirty FROM messages WHERE id = ?"
        " ON CONFLICT (folder_id, uid) DO UPDATE SET message_id = excluded.message_id,"
        " seen = excluded.seen, answered = excluded.answered, flagged = excluded.flagged,"
        " draft = excluded.draft, flags_dirty = excluded.flags_dirty",
        [folder_id, uid, seen, answered, flagged, draft, message_id],
    )
    db.execute(
        "UPDATE messages SET seen = max(seen, ?), answered = max(answered, ?),"
        " flagged = max(flagged, ?), draft = max(draft, ?) WHERE id = ? AND flags_dirty = 0",
        [seen, answered, flagged, draft, message_id],
    )


def copy_owners(db: Database, folder_id: int, uids: Iterable[int]) -> dict[int, int]:
    """UID -> message id of the folder's copies among `uids`."""
    owners: dict[int, int] = {}
    for chunk in chunks(sorted(set(uids))):
        marks = ",".join("?" * len(chunk))
        owners.update(db.execute(
            f"SELECT uid, message_id FROM message_copies WHERE folder_id = ? AND uid IN ({marks})",
            [folder_id, *chunk]).fetchall())
    return owners


def settle(db: Database, message_ids: Iterable[int]) -> int:
    """After copies went or moved: delete the messages left with no copy, move the home of
    the others onto a copy they still have. Returns how many messages were deleted."""
    ids = sorted(set(message_ids))
    deleted = 0
    stale: list[int] = []
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        deleted += db.execute(
            f"DELETE FROM messages WHERE id IN ({marks}) AND NOT EXISTS"
            " (SELECT 1 FROM message_copies c WHERE c.message_id = messages.id)", list(chunk)
        ).rowcount
        stale += [row_id for (row_id,) in db.execute(
            f"SELECT id FROM messages m WHERE id IN ({marks}) AND NOT EXISTS (SELECT 1 FROM"
            " message_copies c WHERE c.message_id = m.id AND c.folder_id = m.folder_id"
            " AND c.uid = m.uid)", list(chunk))]
    # Every stale home out of the way first (a negative UID is never a copy's): a home moving
    # onto a copy's (folder, UID) never meets another message's stale home there.
    for row_id in stale:
        db.execute("UPDATE messages SET uid = -id WHERE id = ?", [row_id])
    for row_id in stale:
        db.execute(
            "UPDATE messages SET (folder_id, uid) = (SELECT folder_id, uid FROM message_copies"
            " WHERE message_id = ? ORDER BY folder_id, uid LIMIT 1) WHERE id = ?",
            [row_id, row_id])
    return deleted


def new_copies(db: Database, folder_id: int, rows: Sequence[tuple[int, int, Flags]]) -> None:
    """The first copies (uid, message id, flags) of messages just stored (add_copy's cheap
    case, in one statement)."""
    db.conn.executemany(
        "INSERT INTO message_copies (folder_id, uid, message_id, seen, answered, flagged, draft)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(folder_id, uid, message_id, *(int(f) for f in flags)) for uid, message_id, flags in rows])


def remove_copies(db: Database, folder_id: int, uids: Iterable[int]) -> int:
    """The folder's copies at `uids` are gone from the server (and their skip records);
    returns how many copies were removed. Messages go with their last copy."""
    uid_list = sorted(set(uids))
    owners = copy_owners(db, folder_id, uid_list)
    removed = 0
    for chunk in chunks(uid_list):
        marks = ",".join("?" * len(chunk))
        removed += db.execute(
            f"DELETE FROM message_copies WHERE folder_id = ? AND uid IN ({marks})",
            [folder_id, *chunk]).rowcount
        db.execute(f"DELETE FROM skipped_messages WHERE folder_id = ? AND uid IN ({marks})",
                   [folder_id, *chunk])
    settle(db, owners.values())
    return removed


def clear_folder(db: Database, folder_id: int, *, settle_after: bool = True) -> list[int]:
    """Forget every copy (and skip record) of the folder; messages go with their last copy.
    Returns the ids of the messages it held (left to the caller to `settle` when asked)."""
    owners = [m for (m,) in db.execute(
        "SELECT DISTINCT message_id FROM message_copies WHERE folder_id = ?", [folder_id])]
    db.execute("DELETE FROM message_copies WHERE folder_id = ?", [folder_id])
    db.execute("DELETE FROM skipped_messages WHERE folder_id = ?", [folder_id])
    if settle_after:
        settle(db, owners)
    return owners


def apply_copy_flags(db: Database, folder_id: int, changes: dict[int, Flags]) -> int:
    """The server's flags of the folder's copies: a copy whose flags moved since last seen
    passes the change on to its message (unless a change made in Rapport awaits its push).
    Returns how many messages changed."""
    changed = 0
    for uid, flags in changes.items():
        values = [int(f) for f in flags]
        row = db.execute(
            "UPDATE message_copies SET seen = ?, answered = ?, flagged = ?, draft = ?"
            " WHERE folder_id = ? AND uid = ? AND (seen, answered, flagged, draft) IS NOT"
            " (?, ?, ?, ?) RETURNING message_id", [*values, folder_id, uid, *values]).fetchone()
        if row is None:
            continue
        changed += db.execute(
            "UPDATE messages SET seen = ?, answered = ?, flagged = ?, draft = ? WHERE id = ?"
            " AND flags_dirty = 0 AND (seen, answered, flagged, draft) IS NOT (?, ?, ?, ?)",
            [*values, row[0], *values]).rowcount
    return changed


def copy_flags(db: Database, folder_id: int) -> dict[int, Flags]:
    """UID -> the server flags of each of the folder's copies, as last seen."""
    rows = db.execute("SELECT uid, seen, answered, flagged, draft FROM message_copies"
                      " WHERE folder_id = ?", [folder_id])
    return {uid: (bool(s), bool(a), bool(f), bool(d)) for uid, s, a, f, d in rows}


def dirty_copies(db: Database, folder_id: int) -> dict[int, Flags]:
    """UID -> the message's flags, for the folder's copies that still need them written."""
    rows = db.execute(
        "SELECT c.uid, m.seen, m.answered, m.flagged, m.draft FROM message_copies c"
        " JOIN messages m ON m.id = c.message_id WHERE c.folder_id = ? AND c.flags_dirty = 1",
        [folder_id])
    return {uid: (bool(s), bool(a), bool(f), bool(d)) for uid, s, a, f, d in rows}


def mark_pushed(db: Database, folder_id: int, pushed: Iterable[int] | dict[int, Flags]) -> None:
    """The message flags were written to these copies. Given {uid: flags written}, a copy whose
    message changed again meanwhile stays to be written. A message is clean once every copy is."""
    wanted = pushed if isinstance(pushed, dict) else None
    owners = copy_owners(db, folder_id, pushed)
    for uid, message_id in owners.items():
        current = db.execute("SELECT seen, answered, flagged, draft FROM messages WHERE id = ?",
                             [message_id]).fetchone()
        if current is None or (wanted is not None
                               and tuple(bool(v) for v in current) != tuple(wanted[uid])):
            continue
        db.execute("UPDATE message_copies SET flags_dirty = 0, seen = ?, answered = ?,"
                   " flagged = ?, draft = ? WHERE folder_id = ? AND uid = ?",
                   [*current, folder_id, uid])
    for chunk in chunks(sorted(set(owners.values()))):
        marks = ",".join("?" * len(chunk))
        db.execute(f"UPDATE messages SET flags_dirty = 0 WHERE id IN ({marks}) AND NOT EXISTS"
                   " (SELECT 1 FROM message_copies c WHERE c.message_id = messages.id"
                   " AND c.flags_dirty = 1)", list(chunk))


def mark_all_copies_dirty(db: Database, message_id: int) -> None:
    db.execute("UPDATE message_copies SET flags_dirty = 1 WHERE message_id = ?", [message_id])


def folder_uids(db: Database, folder_id: int) -> set[int]:
    return {uid for (uid,) in db.execute(
        "SELECT uid FROM message_copies WHERE folder_id = ?", [folder_id])}


def folder_count(db: Database, folder_id: int) -> int:
    return int(db.execute("SELECT count(*) FROM message_copies WHERE folder_id = ?",
                          [folder_id]).fetchone()[0])


def folders_of(db: Database, message_id: int) -> list[tuple[str, str]]:
    """(mailbox, folder) of every copy of the message, sorted."""
    return [(mailbox, name) for mailbox, name in db.execute(
        "SELECT DISTINCT f.mailbox, f.name FROM message_copies c JOIN folders f"
        " ON f.id = c.folder_id WHERE c.message_id = ? ORDER BY f.mailbox, f.name",
        [message_id])]
