"""Provides `sync_all`: the `[[mailbox]]` and `[[maildir]]` sources a command names, synced in turn.

One source failing (even by an unexpected exception) never stops the others: each ends as a
`SyncSummary` with its error, which the CLI turns into one line and a non-zero exit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rapport.mail.config import MailboxConfig, MaildirConfig, mailbox_configs, maildir_configs
from rapport.mail.send.unsubscribe import unsubscribe_rules
from rapport.mail.sync.events import (
    MailboxFailed,
    Report,
    ShouldStop,
    SyncSummary,
    never,
    no_report,
)
from rapport.mail.sync.lock import MailboxBusy, mailbox_lock
from rapport.mail.sync.mailbox import sync_mailbox
from rapport.store.config import Config
from rapport.store.errors import InputError
from rapport.store.mailstore.matching import remember_my_addresses
from rapport.store.mailstore.optout_rules import UnsubscribeRules
from rapport.store.session import OpenWorkspace

if TYPE_CHECKING:
    from sqlite_utils import Database


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
    rules = unsubscribe_rules(opened.config)  # a bad [announce] refuses before anything is written
    mine = opened.config.me.all_addresses
    # [me] is read afresh at every sync: apply a changed address list to the mail already stored.
    remember_my_addresses(opened.db, mine)
    summaries = []
    for cfg in configs:
        if should_stop():
            break
        summaries.append(sync_mailbox(opened.db, cfg, my_addresses=mine, report=report,
                                      should_stop=should_stop, unsubscribe=rules))
    if maildirs and not should_stop():
        for source in maildirs:
            if should_stop():
                break
            summaries.append(sync_maildir_source(opened.db, source, my_addresses=mine,
                                                 report=report, should_stop=should_stop,
                                                 unsubscribe=rules))
    return summaries


def sync_maildir_source(db: Database, source: MaildirConfig, *, my_addresses: frozenset[str],
                        report: Report = no_report, should_stop: ShouldStop = never,
                        unsubscribe: UnsubscribeRules | None = None) -> SyncSummary:
    """One `[[maildir]]` synced under its lock, any failure ending as its summary's error."""
    from rapport.mail.sync.maildir import sync_maildir  # parse-heavy: only when used

    try:
        with mailbox_lock(db, source.name):
            return sync_maildir(db, mailbox=source.name, path=source.path,
                                my_addresses=my_addresses, report=report, should_stop=should_stop,
                                unsubscribe=unsubscribe)
    except MailboxBusy as exc:
        message = exc.message
    except Exception as exc:  # noqa: BLE001 - one source's fault must not stop the others
        message = f"maildir {source.name!r}: sync failed: {type(exc).__name__}: {exc}"[:300]
    report(MailboxFailed(source.name, message))
    return SyncSummary(source.name, error=message)


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


__all__ = ["select_mailboxes", "select_sources", "sync_all", "sync_maildir_source",
           "sync_on_this_thread"]
