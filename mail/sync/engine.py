"""Provides the IMAP sync engine: server folders mirrored into the store, incrementally and safely.

Per folder (state in the `folders` table: uidvalidity, last_uid, highestmodseq)::

    initial ──SELECT──▶ fetch UIDs 1..UIDNEXT-1 in batches ──▶ poll
    poll ──STATUS same UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ/MESSAGES──▶ poll   (one round trip)
    poll ──changed──▶ push local flags ▶ flags+expunges ▶ new UIDs in batches ──▶ poll
    * ──UIDVALIDITY differs──▶ reset_folder (drop messages, keep assignments) ──▶ initial

Every batch is saved with the folder's `last_uid` in ONE transaction (store.messages.save_batch),
so a kill -9 anywhere resumes from the last committed batch with nothing lost or duplicated.
A message that cannot be read is reported (MessageSkipped) and recorded in `skipped_messages`
in its batch's transaction: the server still counts it, so MESSAGES and EXISTS are compared
with stored + skipped, and its record goes when the server expunges it.
HIGHESTMODSEQ is only recorded once the whole folder matches the server, and it is the value
seen at SELECT time, so a change made during the sync is picked up by the next one.

Flags come from CONDSTORE `CHANGEDSINCE` when offered (else a FLAGS scan of known UIDs);
expunges from QRESYNC `VANISHED` when offered, else UID-set difference; and whatever the server
offers, a count check (local vs EXISTS) catches anything missed.

Plain Python with injected `report(event)` and `should_stop()`: the CLI and the TUI share it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imapclient import IMAPClient

from rapport.mail.config import MailboxConfig
from rapport.mail.message.flags import flag_tuple
from rapport.mail.sync.events import (
    FolderDone,
    FolderProgress,
    FolderStarted,
    FolderSummary,
    MessageSkipped,
    Report,
    ShouldStop,
)
from rapport.mail.sync.imap import find_special_folders, list_folder_names
from rapport.mail.sync.response import parse_uid_set, raw_uid_fetch, uid_ranges
from rapport.store.mailstore import folders as store  # messages (save_batch) only when used
from rapport.store.mailstore import syncstate
from rapport.store.mailstore.optout_rules import UnsubscribeRules

if TYPE_CHECKING:
    from sqlite_utils import Database

if TYPE_CHECKING:
    from rapport.mail.sync.pipeline import Decoded, Fetched

# Messages per committed batch: the unit of progress, cancel and transaction.
BATCH_SIZE = int(os.environ.get("RAPPORT_SYNC_BATCH", "500") or 500)
FLAG_NAMES = (b"\\Seen", b"\\Answered", b"\\Flagged", b"\\Draft")


@dataclass(frozen=True)
class Capabilities:
    condstore: bool
    qresync: bool


def enable_extensions(client: IMAPClient) -> Capabilities:
    """ENABLE QRESYNC (or CONDSTORE) only when the server advertises it; once per connection."""
    known = getattr(client, "_rapport_capabilities", None)
    if isinstance(known, Capabilities):
        return known  # ENABLE is illegal once a folder is selected (a reused --watch connection)
    qresync = client.has_capability("QRESYNC")
    condstore = qresync or client.has_capability("CONDSTORE")
    if qresync:
        client.enable("QRESYNC", "CONDSTORE")
    elif condstore:
        client.enable("CONDSTORE")
    caps = Capabilities(condstore=condstore, qresync=qresync)
    client._rapport_capabilities = caps  # kept on the connection: ENABLE holds as long as it does
    return caps


def plan_folders(client: IMAPClient, cfg: MailboxConfig,
                 listed: list[tuple[tuple[bytes, ...], str]] | None = None,
                 ) -> list[tuple[str, str, str]]:
    """[(name, role, error)]: configured folders (error when missing) or INBOX + Sent + Drafts
    + the \\All folder (Gmail's All Mail) where the server has one."""
    listed = list_folder_names(client) if listed is None else listed
    names = {name for _flags, name in listed}
    special = find_special_folders(client, listed)
    roles = {name: role for role, name in special.items()}
    roles["INBOX"] = "inbox"
    if cfg.folders:
        plan = []
        for name in cfg.folders:
            actual = "INBOX" if name.upper() == "INBOX" else name
            error = "" if actual in names else "folder not found on the server (vanished or renamed?)"
            plan.append((actual, roles.get(actual, ""), error))
        return plan
    plan = [("INBOX", "inbox", "")]
    for role in ("sent", "drafts", "all"):
        if role in special and special[role] != "INBOX":
            plan.append((special[role], role, ""))
    return plan


def status_unchanged(client: IMAPClient, db: Database, caps: Capabilities, name: str,
                     state: store.FolderState) -> bool:
    """One STATUS round trip says nothing moved (only meaningful with CONDSTORE)."""
    if not caps.condstore or state.uidvalidity is None or state.highestmodseq is None:
        return False
    status = client.folder_status(name, [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY", b"HIGHESTMODSEQ"])
    return (
        status.get(b"UIDVALIDITY") == state.uidvalidity
        and status.get(b"UIDNEXT") == state.last_uid + 1
        and status.get(b"HIGHESTMODSEQ") == state.highestmodseq
        and status.get(b"MESSAGES") == store.known_count(db, state.id)
        and not store.dirty_flags(db, state.id)
        and not syncstate.uids_to_retry(db, state.id)
    )


class FolderSync:
    """One folder's sync against a selected connection (see the module docstring)."""

    def __init__(self, client: IMAPClient, db: Database, cfg: MailboxConfig, caps: Capabilities,
                 *, my_addresses: frozenset[str], report: Report, should_stop: ShouldStop,
                 reconnect: Callable[[], IMAPClient] | None = None,
                 unsubscribe: UnsubscribeRules | None = None) -> None:
        self.client = client
        self.unsubscribe = unsubscribe
        self.db = db
        self.cfg = cfg
        self.caps = caps
        self.mine = my_addresses
        self.report = report
        self.should_stop = should_stop
        self.reconnect = reconnect
        self.skipped = 0
        self.moved = False  # an expunge seen, if only of a skipped message: not "up to date"

    def run(self, name: str, role: str) -> FolderSummary:
        state = store.get_or_create_folder(self.db, self.cfg.name, name, role)
        if status_unchanged(self.client, self.db, self.caps, name, state):
            store.mark_folder_synced(self.db, state.id)
            self.report(FolderDone(self.cfg.name, name, unchanged=True))
            return FolderSummary(name)
        dirty = store.dirty_flags(self.db, state.id)
        selected = self.client.select_folder(name, readonly=not dirty)
        uidvalidity, uidnext, exists, modseq = _selected(selected, self.caps)
        reidentified: int | None = None
        found_again: set[int] = set()
        removed = 0
        if state.uidvalidity is not None and state.uidvalidity != uidvalidity:
            if state.uidvalidity_changes and not dirty:
                # New at the last sync too: a server that keeps UIDs only for a folder opened
                # read-write (Courier). Opened so once, it keeps them from then on.
                selected = self.client.select_folder(name, readonly=False)
                uidvalidity, uidnext, exists, modseq = _selected(selected, self.caps)
            # Imported here, like fetch below: parsing costs a no-change sync ~25 ms.
            from rapport.mail.sync.reidentify import reidentify

            found_again, removed = reidentify(self.client, self.db, state, uidvalidity, uidnext)
            reidentified = len(found_again)
            state = store.get_folder(self.db, state.id)
            dirty = {}  # pushed next time, to the UIDs the messages were found again at
        elif state.uidvalidity_changes:
            store.uidvalidity_steady(self.db, state.id)
        if dirty:
            self.push_flags(state.id, dirty)
        # Just found again with their flags: nothing to refresh among the stored UIDs.
        changed, gone, via, seen_modseq, moved = (
            (0, 0, "", 0, False) if reidentified is not None
            else refresh_stored(self.client, self.db, self.caps, state))
        removed += gone
        self.moved = self.moved or moved
        if not uidnext:
            # No UIDNEXT in SELECT (allowed by RFC 3501): ask for the highest UID instead.
            found = self.client.search(["ALL"])
            uidnext = (max(found) + 1) if found else 1
        retry = syncstate.uids_to_retry(self.db, state.id)
        added = self.fetch_new_mail(state, uidvalidity, uidnext, name, found_again)
        if added is None:  # stopped between batches: state stays at the last batch committed
            return FolderSummary(name, added=0, flags_changed=changed, removed=removed,
                                 skipped=self.skipped)
        added += self.retry_skipped(state.id, uidvalidity, retry, name)
        recounted = self.check_count(state.id, exists, uidnext)
        removed += recounted
        if modseq is not None and seen_modseq is not None:
            # CHANGEDSINCE answered every change up to seen_modseq, our own pushes included:
            # recording it lets the next sync's STATUS find nothing new.
            modseq = max(modseq, seen_modseq)
        # The folder now matches the server as of SELECT: record UIDVALIDITY and HIGHESTMODSEQ
        # (an empty batch is just the state write, in one transaction).
        from rapport.store.mailstore.messages import save_batch

        save_batch(self.db, state.id, [], last_uid=uidnext - 1, uidvalidity=uidvalidity,
                         highestmodseq=modseq, my_addresses=self.mine)
        quiet = reidentified is None and not (added or changed or removed or dirty or self.skipped
                                              or self.moved)
        self.report(FolderDone(self.cfg.name, name, added, changed, removed, unchanged=quiet,
                               expunges_via=via, recounted=recounted,
                               reidentified=reidentified, refetched=added))
        return FolderSummary(name, added=added, flags_changed=changed, removed=removed,
                             skipped=self.skipped)

    def push_flags(self, folder_id: int, dirty: dict[int, tuple[bool, bool, bool, bool]]) -> None:
        """Write flags changed in Rapport to the server (+FLAGS/-FLAGS keep other keywords).

        Then compare-and-clear: a UID changed again in Rapport while this ran stays dirty.
        """
        for index, flag in enumerate(FLAG_NAMES):
            on = [uid for uid, flags in dirty.items() if flags[index]]
            off = [uid for uid, flags in dirty.items() if not flags[index]]
            if on:
                self.client.add_flags(on, [flag], silent=True)
            if off:
                self.client.remove_flags(off, [flag], silent=True)
        store.clear_dirty(self.db, folder_id, dirty)

    def fetch_new_mail(self, state: store.FolderState, uidvalidity: int, uidnext: int,
                       name: str, found_again: Set[int] = frozenset()) -> int | None:
        """Fetch UIDs above last_uid (below the SELECT-time UIDNEXT, but those just found
        again by identity) in committed batches."""
        last = state.last_uid
        if uidnext - 1 <= last:
            self.report(FolderStarted(self.cfg.name, state.name, 0))
            return 0
        uids = sorted(u for u in self.client.search(["UID", f"{last + 1}:{uidnext - 1}"])
                      if last < u < uidnext and u not in found_again)
        total = len(uids)
        self.report(FolderStarted(self.cfg.name, state.name, total))
        # Imported here: parsing (email, dateutil, lxml) costs a no-change sync ~25 ms.
        from rapport.mail.sync.pipeline import store_in_batches

        def progress(done: int) -> None:
            self.report(FolderProgress(self.cfg.name, state.name, done, total))

        return store_in_batches(
            uids, BATCH_SIZE, uidnext - 1,
            fetch=lambda batch: self._fetch(batch, uidvalidity, name),
            save=lambda fetched, last_uid, decoded: self._save(
                state.id, name, uidvalidity, fetched, last_uid, decoded),
            should_stop=self.should_stop, progress=progress)

    def retry_skipped(self, folder_id: int, uidvalidity: int, uids: list[int], name: str) -> int:
        """Ask again for the messages the server failed to send before; returns how many are
        stored now. One the server no longer has loses its record."""
        if not uids:
            return 0
        from rapport.mail.sync.pipeline import decode

        before = self.skipped
        fetched = self._fetch(uids, uidvalidity, name)
        stored = self._save(folder_id, name, uidvalidity, fetched, 0, decode(fetched[0]),
                            retrying=True)
        if self.skipped > before:
            still = set(syncstate.uids_to_retry(self.db, folder_id)) & set(uids)
            present = set(self.client.search(["UID", uid_ranges(sorted(still))])) if still else set()
            if still - present:
                store.remove_uids(self.db, folder_id, still - present)
        return stored

    def _fetch(self, uids: list[int], uidvalidity: int, name: str) -> Fetched:
        """The server's bytes for `uids` and the (uid, words, retry) it would not send."""
        from rapport.mail.sync.narrow import Narrower, reselecting

        reconnect = reselecting(self.reconnect, name, uidvalidity) if self.reconnect else None
        narrower = Narrower(self.client, reconnect)
        raw, refused = narrower.fetch(uids)
        self.client = narrower.client
        return raw, refused

    def _save(self, folder_id: int, name: str, uidvalidity: int, fetched: Fetched,
              last_uid: int, decoded: Decoded, *, retrying: bool = False) -> int:
        """Bounces read, then the decoded batch, its skips and the folder state in one
        transaction."""
        from rapport.mail.sync.fetch import read_bounces
        from rapport.mail.sync.narrow import LEFT_OUT
        from rapport.store.mailstore.messages import save_batch

        raw, refused = fetched
        decoded_messages, decode_skips = decoded
        skipped: list[syncstate.Skip] = []
        for uid, reason in decode_skips:
            self._skip(name, skipped)(uid, reason)
        messages = read_bounces(self.client, decoded_messages, raw)
        for uid, reason, retry in refused:
            if retrying and reason == LEFT_OUT:
                reason = f"{reason} (asked again)"
            self._skip(name, skipped, retry)(uid, reason)
        return save_batch(self.db, folder_id, messages, last_uid=last_uid,
                          uidvalidity=uidvalidity, highestmodseq=None,
                          my_addresses=self.mine, skipped=skipped, unsubscribe=self.unsubscribe)

    def check_count(self, folder_id: int, exists: int, uidnext: int) -> int:
        """Stored + skipped differs from the server's EXISTS: forget what the server no longer
        has (skip records included); returns how many stored messages went."""
        if store.known_count(self.db, folder_id) == exists:
            return 0
        server = {u for u in self.client.search(["ALL"]) if u < uidnext}
        gone = store.known_uids(self.db, folder_id) - server
        self.moved = self.moved or bool(gone)
        return store.remove_uids(self.db, folder_id, gone) if gone else 0

    def _skip(self, folder: str, into: list[syncstate.Skip],
              retry: bool = False) -> Callable[[int, str], None]:
        """Report each unreadable message and collect it for its batch's transaction."""
        def skip(uid: int, reason: str) -> None:
            self.skipped += 1
            into.append((uid, reason, retry))
            self.report(MessageSkipped(self.cfg.name, folder, uid, reason))

        return skip


def refresh_stored(client: IMAPClient, db: Database, caps: Capabilities, state: store.FolderState
                  ) -> tuple[int, int, str, int | None, bool]:
    """Flag changes and expunges among the UIDs already stored:
    (changed, removed, how, highest MODSEQ seen or None, whether anything was expunged).

    `how` is "vanished" (QRESYNC), "scan" (UID set difference) or "" (CONDSTORE alone:
    only the count check finds expunges).
    """
    if state.last_uid <= 0:
        return 0, 0, "", None, False
    known = f"1:{state.last_uid}"
    removed = 0
    moved = False
    seen_modseq: int | None = None
    if caps.condstore and state.highestmodseq is not None:
        modifiers = f"(CHANGEDSINCE {state.highestmodseq}"
        modifiers += " VANISHED)" if caps.qresync else ")"
        imap = client._imap  # noqa: SLF001 - VANISHED arrives as its own untagged reply
        imap.untagged_responses.pop("VANISHED", None)
        items = raw_uid_fetch(client, known, "(UID FLAGS MODSEQ)", modifiers)
        vanished = imap.untagged_responses.pop("VANISHED", [])
        gone: list[int] = []
        for line in vanished:
            text = line if isinstance(line, bytes) else b""
            gone.extend(parse_uid_set(text.replace(b"(EARLIER)", b"").strip()))
        if gone:
            removed = store.remove_uids(db, state.id, gone)
            moved = True
        via = "vanished" if caps.qresync else ""
        seen_modseq = max((_modseq(v.get(b"MODSEQ")) for v in items.values()), default=0)
    else:
        held = store.known_uids(db, state.id)
        # Copies found again after a UIDVALIDITY change may sit above last_uid (a sync
        # stopped before fetching the rest): scan them too, never take them for expunged.
        top = max(state.last_uid, max(held, default=0))
        items = raw_uid_fetch(client, f"1:{top}", "(UID FLAGS)")
        missing = held - set(items)
        if missing:
            removed = store.remove_uids(db, state.id, missing)
            moved = True
        via = "scan"
    changes = {uid: flag_tuple(values.get(b"FLAGS")) for uid, values in items.items()
               if b"FLAGS" in values}
    changed = store.apply_flag_changes(db, state.id, changes, highestmodseq=None)
    return changed, removed, via, seen_modseq, moved


def _selected(selected: dict[bytes, Any], caps: Capabilities) -> tuple[int, int, int, int | None]:
    """UIDVALIDITY, UIDNEXT (0: not sent), EXISTS and HIGHESTMODSEQ of a SELECT answer."""
    modseq = selected.get(b"HIGHESTMODSEQ") if caps.condstore else None
    return (int(selected[b"UIDVALIDITY"]), int(selected.get(b"UIDNEXT") or 0),
            int(selected.get(b"EXISTS") or 0), int(modseq) if modseq is not None else None)


def _modseq(value: object) -> int:
    """MODSEQ (12345) as our reader gives it: [b"12345"]."""
    if isinstance(value, list) and value and isinstance(value[0], bytes) and value[0].isdigit():
        return int(value[0])
    return 0


__all__ = [
    "BATCH_SIZE",
    "Capabilities",
    "FolderSync",
    "enable_extensions",
    "plan_folders",
    "uid_ranges",
]
