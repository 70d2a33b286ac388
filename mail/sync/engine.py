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

import imaplib
import os
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from sqlite_utils import Database

from rapport.mail.config import MailboxConfig, MaildirConfig, mailbox_configs, maildir_configs
from rapport.mail.errors import ConnectionLost, MailError
from rapport.mail.message.flags import flag_tuple
from rapport.mail.send.unsubscribe import unsubscribe_rules
from rapport.mail.sync.events import (
    FolderDone,
    FolderFailed,
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
from rapport.mail.sync.imap import close, connect, find_special_folders, list_folder_names
from rapport.mail.sync.response import FetchFailed, parse_uid_set, raw_uid_fetch, uid_ranges
from rapport.store.config import Config
from rapport.store.errors import InputError
from rapport.store.mailstore import messages as store
from rapport.store.mailstore.bounces import UnsubscribeRules
from rapport.store.mailstore.matching import remember_my_addresses
from rapport.store.session import OpenWorkspace

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


class FolderSync:
    """One folder's sync against a selected connection (see the module docstring)."""

    def __init__(self, client: IMAPClient, db: Database, cfg: MailboxConfig, caps: Capabilities,
                 *, my_addresses: frozenset[str], report: Report, should_stop: ShouldStop,
                 unsubscribe: UnsubscribeRules | None = None) -> None:
        self.client = client
        self.unsubscribe = unsubscribe
        self.db = db
        self.cfg = cfg
        self.caps = caps
        self.mine = my_addresses
        self.report = report
        self.should_stop = should_stop
        self.skipped = 0

    def unchanged(self, name: str, state: store.FolderState) -> bool:
        """One STATUS round trip says nothing moved (only meaningful with CONDSTORE)."""
        if not self.caps.condstore or state.uidvalidity is None or state.highestmodseq is None:
            return False
        status = self.client.folder_status(
            name, [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY", b"HIGHESTMODSEQ"]
        )
        return (
            status.get(b"UIDVALIDITY") == state.uidvalidity
            and status.get(b"UIDNEXT") == state.last_uid + 1
            and status.get(b"HIGHESTMODSEQ") == state.highestmodseq
            and status.get(b"MESSAGES") == store.known_count(self.db, state.id)
            and not store.dirty_flags(self.db, state.id)
        )

    def run(self, name: str, role: str) -> FolderSummary:
        state = store.get_or_create_folder(self.db, self.cfg.name, name, role)
        if self.unchanged(name, state):
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
        changed, gone, via = ((0, 0, "") if reidentified is not None
                              else self.refresh_known(state, uidnext))
        removed += gone
        if not uidnext:
            # No UIDNEXT in SELECT (allowed by RFC 3501): ask for the highest UID instead.
            found = self.client.search(["ALL"])
            uidnext = (max(found) + 1) if found else 1
        added = self.fetch_new_mail(state, uidvalidity, uidnext, found_again)
        if added is None:  # stopped between batches: state stays at the last batch committed
            return FolderSummary(name, added=0, flags_changed=changed, removed=removed,
                                 skipped=self.skipped)
        recounted = self.check_count(state.id, exists, uidnext)
        removed += recounted
        # The folder now matches the server as of SELECT: record UIDVALIDITY and HIGHESTMODSEQ
        # (an empty batch is just the state write, in one transaction).
        store.save_batch(self.db, state.id, [], last_uid=uidnext - 1, uidvalidity=uidvalidity,
                         highestmodseq=modseq, my_addresses=self.mine)
        self.report(FolderDone(self.cfg.name, name, added, changed, removed,
                               expunges_via=via, recounted=recounted,
                               reidentified=reidentified, refetched=added))
        return FolderSummary(name, added=added, flags_changed=changed, removed=removed,
                             skipped=self.skipped)

    def push_flags(self, folder_id: int, dirty: dict[int, tuple[bool, bool, bool, bool]]) -> None:
        """Write flags changed in Rapport to the server (+FLAGS/-FLAGS keep other keywords)."""
        for index, flag in enumerate(FLAG_NAMES):
            on = [uid for uid, flags in dirty.items() if flags[index]]
            off = [uid for uid, flags in dirty.items() if not flags[index]]
            if on:
                self.client.add_flags(on, [flag], silent=True)
            if off:
                self.client.remove_flags(off, [flag], silent=True)
        store.clear_dirty(self.db, folder_id, dirty)

    def refresh_known(self, state: store.FolderState, uidnext: int) -> tuple[int, int, str]:
        """Flag changes and expunges among the UIDs already stored: (changed, removed, how).

        `how` is "vanished" (QRESYNC), "scan" (UID set difference) or "" (CONDSTORE alone:
        only the count check finds expunges).
        """
        if state.last_uid <= 0:
            return 0, 0, ""
        known = f"1:{state.last_uid}"
        removed = 0
        if self.caps.condstore and state.highestmodseq is not None:
            modifiers = f"(CHANGEDSINCE {state.highestmodseq}"
            modifiers += " VANISHED)" if self.caps.qresync else ")"
            imap = self.client._imap  # noqa: SLF001 - VANISHED arrives as its own untagged reply
            imap.untagged_responses.pop("VANISHED", None)
            items = raw_uid_fetch(self.client, known, "(UID FLAGS)", modifiers)
            vanished = imap.untagged_responses.pop("VANISHED", [])
            gone: list[int] = []
            for line in vanished:
                text = line if isinstance(line, bytes) else b""
                gone.extend(parse_uid_set(text.replace(b"(EARLIER)", b"").strip()))
            if gone:
                removed = store.remove_uids(self.db, state.id, gone)
            via = "vanished" if self.caps.qresync else ""
        else:
            held = store.known_uids(self.db, state.id)
            # Copies found again after a UIDVALIDITY change may sit above last_uid (a sync
            # stopped before fetching the rest): scan them too, never take them for expunged.
            top = max(state.last_uid, max(held, default=0))
            items = raw_uid_fetch(self.client, f"1:{top}", "(UID FLAGS)")
            missing = held - set(items)
            if missing:
                removed = store.remove_uids(self.db, state.id, missing)
            via = "scan"
        changes = {uid: flag_tuple(values.get(b"FLAGS")) for uid, values in items.items()
                   if b"FLAGS" in values}
        changed = store.apply_flag_changes(self.db, state.id, changes, highestmodseq=None)
        return changed, removed, via

    def fetch_new_mail(self, state: store.FolderState, uidvalidity: int, uidnext: int,
                       found_again: Set[int] = frozenset()) -> int | None:
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
        # Imported here: parsing (email, dateutil, inscriptis) costs a no-change sync ~25 ms.
        from rapport.mail.sync.fetch import build_messages, fetch_raw, read_bounces

        done = 0
        # Sequential on purpose. Measured and dropped: fetching batch n+1 on a thread while
        # batch n is decoded (no gain: decoding holds the GIL), and decoding in a child process
        # (under 10% on 2 cores, where Dovecot, the child and this process then compete).
        for start in range(0, total, BATCH_SIZE):
            if self.should_stop():
                return None
            batch = uids[start:start + BATCH_SIZE]
            skipped: list[tuple[int, str]] = []
            raw = fetch_raw(self.client, batch)
            messages = read_bounces(self.client, build_messages(raw, self._skip(state.name, skipped)),
                                    raw)
            final = start + BATCH_SIZE >= total
            store.save_batch(
                self.db, state.id, messages,
                last_uid=(uidnext - 1) if final else batch[-1],
                uidvalidity=uidvalidity,
                highestmodseq=None,
                my_addresses=self.mine,
                skipped=skipped,
                unsubscribe=self.unsubscribe,
            )
            done += len(batch)
            self.report(FolderProgress(self.cfg.name, state.name, done, total))
        return total - self.skipped

    def check_count(self, folder_id: int, exists: int, uidnext: int) -> int:
        """Stored + skipped differs from the server's EXISTS: forget what the server no longer
        has (skip records included); returns how many stored messages went."""
        if store.known_count(self.db, folder_id) == exists:
            return 0
        server = {u for u in self.client.search(["ALL"]) if u < uidnext}
        gone = store.known_uids(self.db, folder_id) - server
        return store.remove_uids(self.db, folder_id, gone) if gone else 0

    def _skip(self, folder: str, into: list[tuple[int, str]]) -> Callable[[int, str], None]:
        """Report each unreadable message and collect it for its batch's transaction."""
        def skip(uid: int, reason: str) -> None:
            self.skipped += 1
            into.append((uid, reason))
            self.report(MessageSkipped(self.cfg.name, folder, uid, reason))

        return skip


def _selected(selected: dict[bytes, Any], caps: Capabilities) -> tuple[int, int, int, int | None]:
    """UIDVALIDITY, UIDNEXT (0: not sent), EXISTS and HIGHESTMODSEQ of a SELECT answer."""
    modseq = selected.get(b"HIGHESTMODSEQ") if caps.condstore else None
    return (int(selected[b"UIDVALIDITY"]), int(selected.get(b"UIDNEXT") or 0),
            int(selected.get(b"EXISTS") or 0), int(modseq) if modseq is not None else None)


_NETWORK_ERRORS = (OSError, imaplib.IMAP4.abort, IMAPClientAbortError)


def sync_mailbox(db: Database, cfg: MailboxConfig, *, my_addresses: frozenset[str],
                 report: Report = no_report, should_stop: ShouldStop = never,
                 client: IMAPClient | None = None,
                 unsubscribe: UnsubscribeRules | None = None) -> SyncSummary:
    """Sync every folder of one mailbox; failures become events and `SyncSummary.error`."""
    own_client = client is None
    try:
        if client is None:
            client = connect(cfg)
        else:
            _leave_selected_folder(client)
        caps = enable_extensions(client)
        listed = list_folder_names(client)
        plan = plan_folders(client, cfg, listed)
    except MailError as exc:
        report(MailboxFailed(cfg.name, exc.message))
        return SyncSummary(cfg.name, error=exc.message)
    except _NETWORK_ERRORS as exc:
        message = f"mailbox {cfg.name!r}: connection lost: {exc}"
        report(MailboxFailed(cfg.name, message))
        return SyncSummary(cfg.name, error=message)
    folders: list[FolderSummary] = []
    error = ""
    try:
        engine = FolderSync(client, db, cfg, caps, my_addresses=my_addresses, report=report,
                            should_stop=should_stop, unsubscribe=unsubscribe)
        gone = drop_vanished_folders(db, cfg, {name for _flags, name in listed}, report)
        folders.extend(gone)
        for name, role, problem in plan:
            if should_stop():
                break
            if problem and name in {g.folder for g in gone}:
                continue  # already reported as vanished
            if problem:
                failure = MailError(problem, mailbox=cfg.name, folder=name)
                report(FolderFailed(cfg.name, name, failure.message))
                folders.append(FolderSummary(name, error=failure.message))
                continue
            engine.skipped = 0
            try:
                folders.append(engine.run(name, role))
            except (FetchFailed, IMAPClientError, imaplib.IMAP4.error) as exc:
                if isinstance(exc, (imaplib.IMAP4.abort, IMAPClientAbortError)):
                    raise
                failure = MailError(f"server refused: {_text(exc)}", mailbox=cfg.name, folder=name)
                report(FolderFailed(cfg.name, name, failure.message))
                folders.append(FolderSummary(name, error=failure.message))
    except _NETWORK_ERRORS as exc:
        own_client = False  # a dead connection is dropped, not logged out
        lost = ConnectionLost(f"connection lost: {_text(exc)}", mailbox=cfg.name)
        error = lost.message
        report(MailboxFailed(cfg.name, error))
        try:
            client.shutdown()
        except OSError:
            pass
    finally:
        if own_client and client is not None:
            close(client)
    return SyncSummary(cfg.name, tuple(folders), error)


def _leave_selected_folder(client: IMAPClient) -> None:
    """A reused connection (`--watch`) still has a folder selected, and STATUS of the selected
    folder answers from the session's view, which misses mail delivered since: leave it."""
    if client._imap.state != "SELECTED":  # noqa: SLF001 - imapclient does not track it
        return
    if client.has_capability("UNSELECT"):
        client.unselect_folder()
    else:
        client.noop()  # brings the view up to date (CLOSE would expunge \Deleted mail)


def drop_vanished_folders(db: Database, cfg: MailboxConfig, on_server: set[str],
                          report: Report) -> list[FolderSummary]:
    """Folders synced before and no longer on the server: reported once, then forgotten.

    Their messages go too (the store mirrors the server); notes, assignments and pins are keyed
    by Message-ID and thread, so they come back if the mail reappears elsewhere.
    """
    summaries = []
    for state in store.list_folders(db, cfg.name):
        if state.name in on_server or state.name.upper() == "INBOX":
            continue
        count = store.delete_folder(db, state.id)  # those held in no other synced folder
        failure = MailError(
            f"folder vanished from the server; its {count} stored message"
            f"{'s' if count != 1 else ''} were removed from Rapport",
            mailbox=cfg.name, folder=state.name,
        )
        report(FolderFailed(cfg.name, state.name, failure.message))
        summaries.append(FolderSummary(state.name, removed=count, error=failure.message))
    return summaries


def _text(exc: BaseException) -> str:
    text = str(exc)
    if text[:2] in ("b'", 'b"'):
        text = text[2:-1]
    return " ".join(text.split())[:200] or type(exc).__name__


def select_mailboxes(configs: list[MailboxConfig], names: Iterable[str] | None,
                     others: Iterable[str] = ()) -> list[MailboxConfig]:
    """The mailboxes named (case-insensitive), all when `names` is empty; InputError if unknown.

    `others` are further valid names (the `[[maildir]]` sources) that are simply not selected here.
    """
    wanted = [n for n in (names or []) if n]
    if not wanted:
        return configs
    by_name = {c.name.casefold(): c for c in configs}
    known_names = [c.name for c in configs] + list(others)
    unknown = [n for n in wanted if n.casefold() not in {k.casefold() for k in known_names}]
    if unknown:
        known = ", ".join(known_names) or "none configured"
        raise InputError(f"no [[mailbox]] or [[maildir]] named {unknown[0]!r} in config.toml "
                         f"(known: {known})")
    return [by_name[n.casefold()] for n in wanted if n.casefold() in by_name]


def select_sources(config: Config, names: Iterable[str] | None
                   ) -> tuple[list[MailboxConfig], list[MaildirConfig]]:
    """The `[[mailbox]]` and `[[maildir]]` entries `names` pick (case-insensitive), all of them
    when `names` is empty; InputError for a name that is neither."""
    wanted = [n for n in (names or []) if n]
    maildirs = maildir_configs(config)
    mailboxes = select_mailboxes(mailbox_configs(config), wanted, [m.name for m in maildirs])
    if wanted:
        chosen = {n.casefold() for n in wanted}
        maildirs = [m for m in maildirs if m.name.casefold() in chosen]
    return mailboxes, maildirs


def sync_all(opened: OpenWorkspace, names: Iterable[str] | None = None, *,
             report: Report = no_report, should_stop: ShouldStop = never) -> list[SyncSummary]:
    """Sync each `[[mailbox]]`, then each `[[maildir]]`; one failing never stops the others."""
    configs, maildirs = select_sources(opened.config, names)
    mine = opened.config.me.all_addresses
    # [me] is read afresh at every sync: apply a changed address list to the mail already stored.
    remember_my_addresses(opened.db, mine)
    rules = unsubscribe_rules(opened.config)
    summaries = []
    for cfg in configs:
        if should_stop():
            break
        summaries.append(sync_mailbox(opened.db, cfg, my_addresses=mine, report=report,
                                      should_stop=should_stop, unsubscribe=rules))
    if maildirs and not should_stop():
        from rapport.mail.sync.maildir import sync_maildir  # parse-heavy: only when used

        for source in maildirs:
            if should_stop():
                break
            summaries.append(sync_maildir(opened.db, mailbox=source.name, path=source.path,
                                          my_addresses=mine, report=report, should_stop=should_stop,
                                          unsubscribe=rules))
    return summaries


def sync_on_this_thread(opened: OpenWorkspace, names: Iterable[str] | None = None, *,
                        report: Report = no_report,
                        should_stop: ShouldStop = never) -> list[SyncSummary]:
    """`sync_all` for a worker thread (the TUI's): on its own database connection, closed after.

    sqlite-utils connections stay on the thread that opened them (STYLE.md guideline 7).
    """
    from dataclasses import replace

    db = opened.reopen_db()
    try:
        return sync_all(replace(opened, db=db), names, report=report, should_stop=should_stop)
    finally:
        db.close()


__all__ = [
    "BATCH_SIZE",
    "FolderSync",
    "SyncSummary",
    "enable_extensions",
    "plan_folders",
    "select_sources",
    "sync_all",
    "sync_mailbox",
    "sync_on_this_thread",
    "uid_ranges",
]
