"""Provides `sync_mailbox`: one mailbox's folders synced under its lock, every failure contained.

Whatever goes wrong — the network, the server, the database, a bug — ends as events and
`SyncSummary.error` naming the mailbox (and folder), so the caller goes on with the others.
The folder state machine itself is mail/sync/engine.py's `FolderSync`.
"""

from __future__ import annotations

import imaplib
from typing import TYPE_CHECKING

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from rapport.mail.config import MailboxConfig
from rapport.mail.errors import ConnectionLost, MailError
from rapport.mail.sync.engine import FolderSync, enable_extensions, plan_folders
from rapport.mail.sync.events import (
    FolderFailed,
    FolderSummary,
    MailboxFailed,
    Report,
    ShouldStop,
    SyncSummary,
    never,
    no_report,
)
from rapport.mail.sync.imap import close, connect, list_folder_names
from rapport.mail.sync.lock import MailboxBusy, mailbox_lock
from rapport.mail.sync.response import FetchFailed
from rapport.store.mailstore import folders as store
from rapport.store.mailstore.optout_rules import UnsubscribeRules
from rapport.store.mailstore.syncstate import StaleSyncState

if TYPE_CHECKING:
    from sqlite_utils import Database

_NETWORK_ERRORS = (OSError, imaplib.IMAP4.abort, IMAPClientAbortError)


def sync_mailbox(db: Database, cfg: MailboxConfig, *, my_addresses: frozenset[str],
                 report: Report = no_report, should_stop: ShouldStop = never,
                 client: IMAPClient | None = None,
                 unsubscribe: UnsubscribeRules | None = None) -> SyncSummary:
    """Sync every folder of one mailbox under its lock; every failure (network, server,
    database, a bug) becomes events and `SyncSummary.error`, never an exception."""
    try:
        with mailbox_lock(db, cfg.name):
            return _sync_locked(db, cfg, my_addresses=my_addresses, report=report,
                                should_stop=should_stop, client=client, unsubscribe=unsubscribe)
    except MailboxBusy as exc:
        report(MailboxFailed(cfg.name, exc.message))
        return SyncSummary(cfg.name, error=exc.message)
    except Exception as exc:  # noqa: BLE001 - one mailbox's fault must not stop the others
        message = f"mailbox {cfg.name!r}: sync failed: {_failure(exc)}"
        report(MailboxFailed(cfg.name, message))
        return SyncSummary(cfg.name, error=message)


def _sync_locked(db: Database, cfg: MailboxConfig, *, my_addresses: frozenset[str],
                 report: Report, should_stop: ShouldStop,
                 client: IMAPClient | None,
                 unsubscribe: UnsubscribeRules | None) -> SyncSummary:
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
    # The server may end the session over one message (Dovecot: BYE on a FETCH it cannot
    # serve): the engine then goes on with a new connection, which is ours to close.
    engine = FolderSync(client, db, cfg, caps, my_addresses=my_addresses, report=report,
                        should_stop=should_stop, reconnect=lambda: connect(cfg),
                        unsubscribe=unsubscribe)
    try:
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
            engine.skipped, engine.moved = 0, False
            try:
                folders.append(engine.run(name, role))
            except _NETWORK_ERRORS:
                raise
            except (FetchFailed, IMAPClientError, imaplib.IMAP4.error) as exc:
                failure = MailError(f"server refused: {_text(exc)}", mailbox=cfg.name, folder=name)
                report(FolderFailed(cfg.name, name, failure.message))
                folders.append(FolderSummary(name, error=failure.message))
            except Exception as exc:  # noqa: BLE001 - the next folder may well sync
                failure = MailError(f"sync failed: {_failure(exc)}", mailbox=cfg.name, folder=name)
                report(FolderFailed(cfg.name, name, failure.message))
                folders.append(FolderSummary(name, error=failure.message))
    except _NETWORK_ERRORS as exc:
        own_client = False  # a dead connection is dropped, not logged out
        lost = ConnectionLost(f"connection lost: {_text(exc)}", mailbox=cfg.name)
        error = lost.message
        report(MailboxFailed(cfg.name, error))
        for dead in {id(client): client, id(engine.client): engine.client}.values():
            try:
                dead.shutdown()
            except OSError:
                pass
    finally:
        if engine.client is not client:
            close(engine.client)  # the replacement connection is always ours
        if own_client and client is not None:
            close(client)
    return SyncSummary(cfg.name, tuple(folders), error)


def _failure(exc: BaseException) -> str:
    """A one-line cause: the message of our own errors, else the type and its text."""
    if isinstance(exc, MailError | StaleSyncState):
        return exc.message
    return f"{type(exc).__name__}: {_text(exc)}"


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


__all__ = ["drop_vanished_folders", "sync_mailbox"]
