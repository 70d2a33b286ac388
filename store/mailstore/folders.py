"""Provides the synced folders: their sync state (`folders`) and what each holds, by UID.

The sync engines (IMAP in mail/sync/engine.py, Maildir in mail/sync/maildir.py) keep a folder's
UIDVALIDITY, last UID and HIGHESTMODSEQ here, and ask and change which UIDs it holds: copies of
stored messages (store/mailstore/copies.py) and the UIDs a sync skipped (`skipped_messages`).
store/mailstore/messages.py re-exports these names, as the engines call them from there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapport.store.errors import NotFoundError
from rapport.store.mailstore import copies
from rapport.store.mailstore.copies import Flags
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database


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
    maildir_mtime_ns: int | None = None  # a Maildir folder's directory stamp at its last sync


def _folder_from_row(row: dict[str, Any]) -> FolderState:
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
        maildir_mtime_ns=row.get("maildir_mtime_ns"),
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


def mark_folder_synced(
    db: Database, folder_id: int, *, highestmodseq: int | None = None, last_uid: int | None = None,
    maildir_mtime_ns: int | None = None,
) -> None:
    """Record a sync that found nothing new (keeps `last_sync_utc` honest for the status bar)."""
    with db.atomic():
        db.execute(
            "UPDATE folders SET last_sync_utc = ?, highestmodseq = coalesce(?, highestmodseq), "
            "last_uid = max(last_uid, coalesce(?, 0)), "
            "maildir_mtime_ns = coalesce(?, maildir_mtime_ns) WHERE id = ?",
            [utc_now_text(), highestmodseq, last_uid, maildir_mtime_ns, folder_id],
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
