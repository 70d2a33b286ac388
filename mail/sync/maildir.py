"""Provides `sync_maildir`: a local Maildir root ingested like an IMAP mailbox, incrementally.

Layout: the root's own cur/new is INBOX; subfolders are found in both common layouts —
Maildir++ (`.Sent`, `.Archive.2020`, as Dovecot and offlineimap write them) and mbsync's
verbatim one (`Sent/`, `Archive/2020/`). Both give folder names with "/" between levels.

A message's UID is derived from the stable part of its file name (before `:2,`), which never
changes when a client moves the file from new/ to cur/ or renames it to change flags. So a rerun
needs only a directory listing and one query per folder to see what was added, removed or
re-flagged — nothing is re-read and nothing duplicated. Flags changed in Rapport (set_flags) are
written back by renaming the file, as a Maildir client must.

Like notmuch, a rerun first compares each folder's directory mtimes (new/ and cur/) with the
stamp stored at the last sync (the folder's `maildir_mtime_ns`, which plays the role
HIGHESTMODSEQ plays for IMAP) and skips unchanged folders unlisted.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from rapport.mail.message.bounces import with_bounces
from rapport.mail.message.decode import decode_message
from rapport.mail.sync.events import (
    FolderDone,
    FolderProgress,
    FolderStarted,
    FolderSummary,
    MailboxFailed,
    MessageSkipped,
    Report,
    ShouldStop,
    SyncSummary,
    never,
    no_report,
)
from rapport.store.mailstore import messages as store
from rapport.store.mailstore.bounces import UnsubscribeRules
from rapport.store.mailstore.messages import NewMessage
from rapport.store.timeutil import to_utc_text

BATCH_SIZE = 500
_FRESH_NS = 2_000_000_000  # mtimes younger than 2 s are not trusted to mark "no change"
_SUBDIRS = ("cur", "new", "tmp")
_INFO_SEPARATORS = (":2,", "!2,")  # "!" where ":" is not allowed in file names
_FLAG_LETTERS = {"S": "\\Seen", "R": "\\Answered", "F": "\\Flagged", "D": "\\Draft"}
_ROLE_NAMES = {
    "sent": "sent",
    "sent items": "sent",
    "sent messages": "sent",
    "sent mail": "sent",
    "gesendet": "sent",
    "envoyés": "sent",
    "drafts": "drafts",
    "draft": "drafts",
    "entwürfe": "drafts",
    "brouillons": "drafts",
}

@dataclass(frozen=True)
class MaildirFile:
    """One message file on disk: where it is and the flags its name carries."""

    path: Path
    uid: int
    flags: str  # info letters, e.g. "RS"

    @property
    def flag_tuple(self) -> store.Flags:
        return ("S" in self.flags, "R" in self.flags, "F" in self.flags, "D" in self.flags)


def _split_name(name: str) -> tuple[str, str]:
    """`1700000000.M1P2.host,S=42:2,RS` -> (`1700000000.M1P2.host,S=42`, `RS`)."""
    for separator in _INFO_SEPARATORS:
        key, found, info = name.partition(separator)
        if found:
            return key, info
    return name, ""


def uid_for(key: str) -> int:
    """A stable positive 62-bit UID from the unique part of a file name."""
    return (
        int.from_bytes(
            hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
        )
        >> 2
    )


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() or (path / "new").is_dir()


def role_for(name: str) -> str:
    if name.upper() == "INBOX":
        return "inbox"
    return _ROLE_NAMES.get(name.rsplit("/", 1)[-1].casefold(), "")


def find_folders(root: Path) -> list[tuple[str, Path]]:
    """(folder name, directory) for INBOX and every subfolder, in both layouts."""
    found: list[tuple[str, Path]] = []
    if is_maildir(root):
        found.append(("INBOX", root))
    found.extend(_walk_subfolders(root, ""))
    return found


def _walk_subfolders(directory: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if not entry.is_dir() or entry.name in _SUBDIRS:
            continue
        child = Path(entry.path)
        if entry.name.startswith("."):
            # Maildir++: ".Archive.2020" is Archive/2020 (only at the root).
            if prefix or entry.name in (".", "..") or not is_maildir(child):
                continue
            name = entry.name[1:].replace(".", "/")
            if name:
                yield name, child
            continue
        name = f"{prefix}{entry.name}"
        if is_maildir(child):
            yield name, child
        # mbsync's verbatim layout nests folders as plain directories.
        yield from _walk_subfolders(child, f"{name}/")


def scan_folder(directory: Path) -> dict[int, MaildirFile]:
    """Every message file of one Maildir folder (new/ and cur/), by UID."""
    files: dict[int, MaildirFile] = {}
    for sub in ("new", "cur"):
        try:
            entries = list(os.scandir(directory / sub))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            key, info = _split_name(entry.name)
            uid = uid_for(key)
            files[uid] = MaildirFile(Path(entry.path), uid, "".join(sorted(set(info))))
    return files


def _stored_flags(db: Database, folder_id: int) -> dict[int, store.Flags]:
    """Each copy's flags as the last sync saw them on disk (message_copies)."""
    return store.copy_flags(db, folder_id)


def _mtime_utc(path: Path) -> str:
    try:
        return to_utc_text(datetime.fromtimestamp(path.stat().st_mtime, UTC))
    except (OSError, ValueError, OverflowError):
        return store.EPOCH_UTC


def message_from_bytes(item: MaildirFile, raw: bytes) -> NewMessage:
    """The NewMessage of one file's bytes: flags from its name, its mtime for a missing Date,
    the failed recipients when it is a bounce."""
    flags = [_FLAG_LETTERS[c] for c in item.flags if c in _FLAG_LETTERS]
    msg = decode_message(raw, uid=item.uid, flags=flags, fallback_date_utc=_mtime_utc(item.path))
    return with_bounces(msg, raw)


def message_from_file(item: MaildirFile) -> NewMessage:
    """The NewMessage of one file (OSError when it cannot be read)."""
    return message_from_bytes(item, item.path.read_bytes())


def _write_back_flags(
    db: Database, folder_id: int, on_disk: dict[int, MaildirFile]
) -> dict[int, MaildirFile]:
    """Rename files whose flags were changed in Rapport; returns the updated disk view."""
    dirty = store.dirty_flags(db, folder_id)
    done: dict[int, store.Flags] = {}
    for uid, (seen, answered, flagged, draft) in dirty.items():
        current = on_disk.get(uid)
        if current is None:
            continue
        keep = "".join(c for c in current.flags if c not in "SRFD")
        wanted = {"S": seen, "R": answered, "F": flagged, "D": draft}
        letters = "".join(sorted(keep + "".join(c for c, on in wanted.items() if on)))
        key, _ = _split_name(current.path.name)
        target = current.path.parent.parent / "cur" / f"{key}:2,{letters}"
        try:
            if target != current.path:
                os.rename(current.path, target)
        except OSError:
            continue  # read-only Maildir: keep the change local and dirty
        on_disk[uid] = MaildirFile(target, uid, letters)
        done[uid] = (seen, answered, flagged, draft)
    store.clear_dirty(db, folder_id, done)
    return on_disk


def folder_stamp(directory: Path) -> int:
    """The newest mtime (ns) of new/ and cur/: any add, delete or rename moves it forward.

    0 (never equal to a stored stamp) when it is too fresh to trust: a file landing in the same
    clock tick as our listing would otherwise be missed on coarse-mtime file systems.
    """
    stamps = []
    for sub in ("new", "cur"):
        try:
            stamps.append((directory / sub).stat().st_mtime_ns)
        except OSError:
            continue
    stamp = max(stamps, default=0)
    return stamp if time.time_ns() - stamp > _FRESH_NS else 0


def _folder(
    db: Database, mailbox: str, name: str, known: dict[str, store.FolderState]
) -> store.FolderState:
    state = known.get(name)
    if state is not None and state.role == role_for(name):
        return state  # known: no write, so a no-change run writes nothing here
    return store.get_or_create_folder(db, mailbox, name, role_for(name))


def _sync_folder(
    db: Database,
    mailbox: str,
    name: str,
    directory: Path,
    my_addresses: frozenset[str],
    report: Report,
    known: dict[str, store.FolderState],
    should_stop: ShouldStop,
    unsubscribe: UnsubscribeRules | None = None,
) -> tuple[FolderSummary, int, int | None]:
    """Sync one folder; returns its summary, its id and the stamp to record.

    The stamp is None when `should_stop()` ended the ingest between batches: the batches saved
    are whole (each is one transaction), and the folder is listed again at the next run.
    """
    folder = _folder(db, mailbox, name, known)
    if store.dirty_flags(db, folder.id):
        _write_back_flags(db, folder.id, scan_folder(directory))
    # Stat before listing: whatever lands after the stat moves the stamp past the stored one.
    stamp = folder_stamp(directory)
    if stamp and stamp == folder.maildir_mtime_ns:
        report(FolderStarted(mailbox, name, 0))
        report(FolderDone(mailbox, name, unchanged=True))
        return FolderSummary(name), folder.id, stamp
    on_disk = scan_folder(directory)
    stored = _stored_flags(db, folder.id)
    new_uids = [uid for uid in on_disk if uid not in stored]
    gone = [uid for uid in stored if uid not in on_disk]
    changed = {
        uid: f.flag_tuple
        for uid, f in on_disk.items()
        if uid in stored and stored[uid] != f.flag_tuple
    }
    report(FolderStarted(mailbox, name, len(new_uids)))
    removed = store.remove_uids(db, folder.id, gone) if gone else 0
    flags_changed = (
        store.apply_flag_changes(db, folder.id, changed, highestmodseq=None) if changed else 0
    )
    added = skipped = 0
    # Oldest files first, so a large first ingest shows mail in arrival order as it lands.
    new_files = sorted((on_disk[u] for u in new_uids), key=lambda f: f.path.name)
    for start in range(0, len(new_files), BATCH_SIZE):
        if should_stop():
            return FolderSummary(name, added, flags_changed, removed, skipped), folder.id, None
        batch = []
        for item in new_files[start : start + BATCH_SIZE]:
            try:
                raw = item.path.read_bytes()
            except OSError as exc:  # vanished or unreadable: report, keep going
                report(MessageSkipped(mailbox, name, item.uid, f"{item.path.name}: {exc.strerror}"))
                skipped += 1
                continue
            batch.append(message_from_bytes(item, raw))
        if batch:
            added += store.save_batch(
                db,
                folder.id,
                batch,
                last_uid=0,
                uidvalidity=None,
                highestmodseq=None,
                my_addresses=my_addresses,
                unsubscribe=unsubscribe,
            )
        report(
            FolderProgress(mailbox, name, min(start + BATCH_SIZE, len(new_files)), len(new_files))
        )
    unchanged = not (added or removed or flags_changed)
    report(FolderDone(mailbox, name, added, flags_changed, removed, unchanged))
    return FolderSummary(name, added, flags_changed, removed, skipped), folder.id, stamp


def sync_maildir(
    db: Database,
    *,
    mailbox: str,
    path: Path,
    my_addresses: frozenset[str],
    report: Report | None = None,
    should_stop: ShouldStop = never,
    unsubscribe: UnsubscribeRules | None = None,
) -> SyncSummary:
    """Bring the store in line with the Maildir at `path` (new, removed and re-flagged mail).

    `should_stop()` is asked between folders and between batches; once it is true the sync ends
    there, with every saved batch whole and the unfinished folders left to the next run.
    """
    report = report or no_report
    root = Path(path).expanduser()
    if not root.is_dir():
        message = f"maildir {mailbox!r}: {root} is not a directory"
        report(MailboxFailed(mailbox, message))
        return SyncSummary(mailbox, error=message)
    folders = find_folders(root)
    if not folders:
        message = f"maildir {mailbox!r}: no Maildir folders (cur/ and new/) under {root}"
        report(MailboxFailed(mailbox, message))
        return SyncSummary(mailbox, error=message)
    known = {state.name: state for state in store.list_folders(db, mailbox)}
    results = []
    for name, directory in folders:
        if should_stop():
            break
        results.append(
            _sync_folder(db, mailbox, name, directory, my_addresses, report, known, should_stop,
                         unsubscribe)
        )
    # One write for every folder's sync time and stamp, so a no-change run commits once.
    # A folder stopped half-way keeps its old stamp and sync time: it is not in line yet.
    with db.atomic():
        for _, folder_id, stamp in results:
            if stamp is not None:
                store.mark_folder_synced(db, folder_id, maildir_mtime_ns=stamp)
    summaries = [summary for summary, _, _ in results]
    if should_stop():
        return SyncSummary(mailbox, tuple(summaries))
    # A folder deleted on disk is gone from the mailbox too.
    present = {name for name, _ in folders}
    for state in known.values():
        if state.name not in present:
            store.delete_folder(db, state.id)
    return SyncSummary(mailbox, tuple(summaries))
