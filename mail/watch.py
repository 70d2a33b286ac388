"""Provides `watch`: keep mailboxes in sync with IMAP IDLE (poll fallback), reconnecting with backoff.

One thread per mailbox, each with its own IMAP connection and its own database connection
(sqlite-utils connections stay on their thread). The loop: sync, then wait on IDLE in INBOX (or
sleep when the server has no IDLE) until the server says something or the interval passes, then
sync again. A dropped network connection or a failed login waits 1, 2, 4 ... 300 s and retries.
"""

from __future__ import annotations

import imaplib
import threading
import time
from collections.abc import Callable, Iterable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from rapport.mail.config import MailboxConfig, MaildirConfig, mailbox_configs, maildir_configs
from rapport.mail.errors import MailError
from rapport.mail.events import Event, MailboxFailed
from rapport.mail.imap import connect
from rapport.mail.sync import select_mailboxes, sync_mailbox
from rapport.store.session import OpenWorkspace

MAX_BACKOFF = 300.0
# RFC 2177: re-issue IDLE at least every 29 minutes or the server may drop us.
IDLE_RENEW = 25 * 60


def wait_for_change(client: IMAPClient, interval: float, should_stop: Callable[[], bool]) -> None:
    """Block until INBOX changes (IDLE) or `interval` seconds pass, checking `should_stop`."""
    deadline = time.monotonic() + interval
    if not client.has_capability("IDLE"):
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        return
    client.select_folder("INBOX", readonly=True)
    client.idle()
    try:
        renew = time.monotonic() + IDLE_RENEW
        while not should_stop() and time.monotonic() < deadline:
            if client.idle_check(timeout=1):
                return
            if time.monotonic() > renew:
                client.idle_done()
                client.idle()
                renew = time.monotonic() + IDLE_RENEW
    finally:
        client.idle_done()


def watch_mailbox(opened: OpenWorkspace, cfg: MailboxConfig, *, interval: float,
                  report: Callable[[Event], None], should_stop: Callable[[], bool],
                  sleep: Callable[[float], None] = time.sleep) -> None:
    """Sync `cfg` forever (until `should_stop()`), on this thread's own database connection."""
    db = opened.reopen_db()
    mine = opened.config.me.all_addresses
    backoff = 1.0
    try:
        while not should_stop():
            client = None
            try:
                client = connect(cfg)
                while not should_stop():
                    summary = sync_mailbox(db, cfg, my_addresses=mine, report=report,
                                           should_stop=should_stop, client=client)
                    if summary.error:
                        break  # already reported by sync_mailbox: reconnect after a pause
                    backoff = 1.0
                    wait_for_change(client, interval, should_stop)
            except MailError as exc:
                report(MailboxFailed(cfg.name, exc.message))
            except (OSError, imaplib.IMAP4.error, IMAPClientError) as exc:
                report(MailboxFailed(cfg.name, f"mailbox {cfg.name!r}: connection lost: {exc}"))
            finally:
                if client is not None:
                    try:
                        client.shutdown()
                    except OSError:
                        pass
            if should_stop():
                break
            _sleep_unless_stopped(backoff, should_stop, sleep)
            backoff = min(backoff * 2, MAX_BACKOFF)
    finally:
        db.close()


def _sleep_unless_stopped(seconds: float, should_stop: Callable[[], bool],
                          sleep: Callable[[float], None]) -> None:
    # Counted in steps rather than against the clock, so an injected `sleep` controls time.
    remaining = seconds
    while remaining > 0 and not should_stop():
        step = min(0.5, remaining)
        sleep(step)
        remaining -= step


def watch_maildirs(opened: OpenWorkspace, sources: list[MaildirConfig], *, interval: float,
                   report: Callable[[Event], None], should_stop: Callable[[], bool]) -> None:
    """Local Maildirs have no IDLE: rescan them every `interval` seconds (cheap when unchanged)."""
    from rapport.mail.maildir import sync_maildir

    db = opened.reopen_db()
    mine = opened.config.me.all_addresses
    try:
        while not should_stop():
            for source in sources:
                sync_maildir(db, mailbox=source.name, path=source.path, my_addresses=mine,
                             report=report)
            _sleep_unless_stopped(max(interval, 1.0), should_stop, time.sleep)
    finally:
        db.close()


def watch(opened: OpenWorkspace, names: Iterable[str] | None = None, *,
          report: Callable[[Event], None], stop: threading.Event,
          interval: float | None = None) -> list[threading.Thread]:
    """Start one watcher thread per mailbox; set `stop` to end them."""
    configs = select_mailboxes(mailbox_configs(opened.config), names,
                               [m.name for m in maildir_configs(opened.config)])
    seconds = interval if interval is not None else opened.config.sync_interval_minutes * 60
    wanted = {n.casefold() for n in (names or []) if n}
    maildirs = [m for m in maildir_configs(opened.config)
                if not wanted or m.name.casefold() in wanted]
    threads = []
    if maildirs:
        thread = threading.Thread(
            target=watch_maildirs, args=(opened, maildirs),
            kwargs={"interval": seconds, "report": report, "should_stop": stop.is_set},
            name="rapport-watch-maildirs", daemon=True,
        )
        thread.start()
        threads.append(thread)
    for cfg in configs:
        thread = threading.Thread(
            target=watch_mailbox,
            args=(opened, cfg),
            kwargs={"interval": seconds, "report": report, "should_stop": stop.is_set},
            name=f"rapport-watch-{cfg.name}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    return threads


__all__ = ["watch", "watch_mailbox", "wait_for_change"]
