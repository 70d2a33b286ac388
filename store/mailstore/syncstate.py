"""Provides the sync-state guards and the skipped-message records of the synced-mail store.

Kept apart from messages.py (storage of mail itself): these are the rules that keep a sync
from losing mail — a state write checks UIDVALIDITY, a skip is remembered with the server's
words and, when the server was at fault, retried by later syncs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapport.store.errors import RapportError
from rapport.store.mailstore.copies import chunks
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database

# (uid, reason) for a message we could not decode, (uid, reason, True) for one the server
# failed to send: only the latter is asked for again.
Skip = tuple[int, str] | tuple[int, str, bool]


class StaleSyncState(RapportError):
    """The folder's UIDVALIDITY changed under this sync (another run reset it): nothing saved."""


@dataclass(frozen=True)
class SkippedMessage:
    """A message a sync could not store, and why (the server's words or the decoder's)."""

    mailbox: str
    folder: str
    uid: int
    reason: str
    retry: bool
    since: str | None


def check_uidvalidity(db: Database, folder_id: int, uidvalidity: int | None) -> None:
    """Raise StaleSyncState when the folder's stored UIDVALIDITY is set and is not `uidvalidity`.

    Call inside the transaction that writes: UIDs read under an old UIDVALIDITY name other
    messages now, so a stale run must not store them nor undo the reset.
    """
    if uidvalidity is None:
        return
    row = db.execute("SELECT uidvalidity FROM folders WHERE id = ?",
                     [folder_id]).fetchone()
    if row is not None and row[0] is not None and int(row[0]) != int(uidvalidity):
        raise StaleSyncState(
            f"UIDVALIDITY changed from {uidvalidity} to {row[0]} during this sync (another sync "
            "reset the folder); nothing saved, sync again")


def record_skipped(db: Database, folder_id: int, skipped: Sequence[Skip],
                   stored: Iterable[int] = ()) -> None:
    """Remember skipped messages (keeping the first `since`); forget those now `stored`."""
    now = utc_now_text()
    db.conn.executemany(
        "INSERT INTO skipped_messages (folder_id, uid, reason, retry, skipped_utc) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (folder_id, uid) DO UPDATE SET "
        "reason = excluded.reason, retry = excluded.retry",
        [(folder_id, item[0], item[1], int(len(item) > 2 and bool(item[2])), now)
         for item in skipped],
    )
    forget_skipped(db, folder_id, stored)


def forget_skipped(db: Database, folder_id: int, uids: Iterable[int]) -> None:
    for chunk in chunks(sorted(set(uids))):
        db.execute(f"DELETE FROM skipped_messages WHERE folder_id = ? AND uid IN "
                   f"({','.join('?' * len(chunk))})", [folder_id, *chunk])


def uids_to_retry(db: Database, folder_id: int) -> list[int]:
    """The skipped UIDs the server failed to send: every sync asks for them again."""
    return [uid for (uid,) in db.execute(
        "SELECT uid FROM skipped_messages WHERE folder_id = ? AND retry = 1 ORDER BY uid",
        [folder_id])]


def list_skipped(db: Database) -> list[SkippedMessage]:
    """Every skipped message of the workspace, by mailbox, folder and UID."""
    rows = db.execute(
        "SELECT f.mailbox, f.name, s.uid, s.reason, s.retry, s.skipped_utc FROM skipped_messages s"
        " JOIN folders f ON f.id = s.folder_id ORDER BY f.mailbox, f.name, s.uid")
    return [SkippedMessage(mailbox, folder, int(uid), reason, bool(retry), since)
            for mailbox, folder, uid, reason, retry, since in rows]


def record_highestmodseq(db: Database, folder_id: int, highestmodseq: int,
                         uidvalidity: int) -> None:
    """Move the folder's HIGHESTMODSEQ forward (never back) under the same UIDVALIDITY."""
    with db.atomic():
        check_uidvalidity(db, folder_id, uidvalidity)
        db.execute("UPDATE folders SET highestmodseq = max(coalesce(highestmodseq, 0), ?) "
                   "WHERE id = ?", [highestmodseq, folder_id])


__all__ = ["SkippedMessage", "StaleSyncState", "check_uidvalidity", "forget_skipped",
           "list_skipped", "record_highestmodseq", "record_skipped", "uids_to_retry"]
