"""Provides `watch`: keep mailboxes in sync with IMAP IDLE (poll fallback), reconnecting with backoff.

One thread per mailbox, each with its own IMAP connection and its own database connection
(sqlite-utils connections stay on their thread). The loop: sync, then wait on IDLE in INBOX (or
sleep when the server has no IDLE) until the server says something or the interval passes, then
sync again. A connection the server drops during IDLE is noticed at once (EOF); that, other
network errors and a refused login wait 1, 2, 4 ... 300 s and retry. A secret that cannot be read
is reported once and that mailbox is no longer watched.
"""

from __future__ import annotations

import functools
import imaplib
import selectors
import threading
import time
from collections.abc import Callable, Iterable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from rapport.mail.config import MailboxConfig, MaildirConfig
from rapport.mail.errors import ConnectionLost, CredentialsUnavailable, MailError
from rapport.mail.send.unsubscribe import unsubscribe_rules
from rapport.mail.sync.events import Event, MailboxFailed
from rapport.mail.sync.imap import connect
from rapport.mail.sync.mailbox import sync_mailbox
from rapport.mail.sync.narrow import server_farewell
from rapport.mail.sync.run import select_sources, sync_maildir_source
from rapport.store.mailstore.matching import remember_my_addresses
from rapport.store.session import OpenWorkspace

MAX_BACKOFF = 300.0
# RFC 2177: re-issue IDLE at least every 29 minutes or the server may drop us.
IDLE_RENEW = 25 * 60


def _server_spoke(client: IMAPClient, timeout: float, mailbox: str) -> bool:
    """Wait up to `timeout` s in IDLE for news from the server: True when a line other than a
    keep-alive came.

    Not imapclient's idle_check(): it swallows EOF and returns [] as it does for silence, so a
    dropped connection went unnoticed and was polled in a busy loop until the interval ran out.
    The rest of what the server sent is read by idle_done().
    """
    with selectors.DefaultSelector() as selector:
        selector.register(client.socket(), selectors.EVENT_READ)
        if not selector.select(timeout):
            return False
    try:
        line = client._imap._get_line()  # noqa: SLF001 - readable socket: a whole line, or EOF
    except imaplib.IMAP4.abort as exc:  # imaplib's "socket error: EOF"
        raise ConnectionLost("connection lost: the server closed the connection during IDLE",
                             mailbox=mailbox) from exc
    except OSError as exc:  # ETIMEDOUT: TCP keepalive probes went unanswered (network gone)
        raise ConnectionLost(f"connection lost during IDLE: {exc.strerror or exc}",
                             mailbox=mailbox) from exc
    # Dovecot says "* OK Still here" every 2 minutes (others alike): no change, no resync.
    return not line.upper().startswith(b"* OK")


def wait_for_change(client: IMAPClient, interval: float, should_stop: Callable[[], bool],
                    mailbox: str = "") -> None:
    """Block until INBOX changes (IDLE) or `interval` seconds pass, checking `should_stop`.

    ConnectionLost when the server drops the connection while we wait.
    """
    deadline = time.monotonic() + interval
    if not client.has_capability("IDLE"):
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        return
    client.select_folder("INBOX", readonly=True)
    client.idle()
    renew = time.monotonic() + IDLE_RENEW
    while not should_stop() and time.monotonic() < deadline:
        wait = min(1.0, max(0.0, deadline - time.monotonic()))
        if _server_spoke(client, wait, mailbox):
            break
        if time.monotonic() > renew:
            client.idle_done()
            client.idle()
            renew = time.monotonic() + IDLE_RENEW
    # Not reached after ConnectionLost: a dead connection is dropped, never sent DONE.
    client.idle_done()


def watch_mailbox(opened: OpenWorkspace, cfg: MailboxConfig, *, interval: float,
                  report: Callable[[Event], None], should_stop: Callable[[], bool],
                  sleep: Callable[[float], None] = time.sleep) -> str:
    """Sync `cfg` until `should_stop()`, on this thread's own database connection.

    Network errors and refused logins are retried after 1, 2, 4 ... 300 s; so is any other
    failure of the watcher itself (one line each, the pause reset only once a whole round of
    sync and wait went through), so a bug never kills the thread nor spins. A secret that cannot
    be read (password_command failing, no keyring) will not fix itself: it is reported once and
    the watcher returns its one-line reason (empty when stopped normally).
    """
    mine = opened.config.me.all_addresses
    # The same rules as `rapport sync`: an unsubscribe request is one whichever sync saw it first.
    rules = unsubscribe_rules(opened.config)
    db = opened.reopen_db()
    backoff = 1.0
    bug_backoff = 1.0  # grows until a whole sync-and-wait round succeeds
    try:
        while not should_stop():
            client = None
            try:
                client = connect(cfg)
                while not should_stop():
                    summary = sync_mailbox(db, cfg, my_addresses=mine, report=report,
                                           should_stop=should_stop, client=client,
                                           unsubscribe=rules)
                    if summary.error:
                        break  # already reported by sync_mailbox: reconnect after a pause
                    backoff = 1.0
                    if server_farewell(client):
                        # The server ended this session over a message it could not send; the
                        # sync went on with a connection of its own. IDLE on a fresh one.
                        client.shutdown()
                        client = connect(cfg)
                    wait_for_change(client, interval, should_stop, cfg.name)
                    bug_backoff = 1.0
            except CredentialsUnavailable as exc:
                message = f"{exc.message}; not watched any more"
                report(MailboxFailed(cfg.name, message))
                return message
            except MailError as exc:
                report(MailboxFailed(cfg.name, exc.message))
            except (OSError, imaplib.IMAP4.error, IMAPClientError) as exc:
                report(MailboxFailed(cfg.name, f"mailbox {cfg.name!r}: connection lost: {exc}"))
            except Exception as exc:  # noqa: BLE001 - a bug or a database fault: one line, retry
                report(MailboxFailed(cfg.name, f"mailbox {cfg.name!r}: watcher failed: "
                                     f"{type(exc).__name__}: {_one_line(exc)}; restarting"))
                backoff = max(backoff, bug_backoff)
                bug_backoff = min(bug_backoff * 2, MAX_BACKOFF)
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
    return ""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _sleep_unless_stopped(seconds: float, should_stop: Callable[[], bool],
                          sleep: Callable[[float], None]) -> None:
    # Counted in steps rather than against the clock, so an injected `sleep` controls time.
    remaining = seconds
    while remaining > 0 and not should_stop():
        step = min(0.5, remaining)
        sleep(step)
        remaining -= step


class WatchThread(threading.Thread):
    """A watcher; `gave_up` is the one-line reason it stopped on its own (empty otherwise)."""

    def __init__(self, name: str, target: Callable[[], str | None]) -> None:
        super().__init__(name=name, daemon=True)
        self._watch = target
        self.gave_up = ""

    def run(self) -> None:
        self.gave_up = self._watch() or ""


def watch_maildirs(opened: OpenWorkspace, sources: list[MaildirConfig], *, interval: float,
                   report: Callable[[Event], None], should_stop: Callable[[], bool]) -> None:
    """Local Maildirs have no IDLE: rescan them every `interval` seconds (cheap when unchanged)."""
    mine = opened.config.me.all_addresses
    rules = unsubscribe_rules(opened.config)
    db = opened.reopen_db()
    try:
        while not should_stop():
            for source in sources:  # each source's failure ends as a reported summary
                sync_maildir_source(db, source, my_addresses=mine, report=report,
                                    should_stop=should_stop, unsubscribe=rules)
            _sleep_unless_stopped(max(interval, 1.0), should_stop, time.sleep)
    finally:
        db.close()


def watch(opened: OpenWorkspace, names: Iterable[str] | None = None, *,
          report: Callable[[Event], None], stop: threading.Event,
          interval: float | None = None) -> list[WatchThread]:
    """Start one watcher thread per mailbox (one for all Maildirs); set `stop` to end them."""
    configs, maildirs = select_sources(opened.config, names)
    unsubscribe_rules(opened.config)  # a bad [announce] refuses here, before any thread starts
    seconds = interval if interval is not None else opened.config.sync_interval_minutes * 60
    # [me] applied to the mail already stored, once for all watchers (as sync_all does).
    remember_my_addresses(opened.db, opened.config.me.all_addresses)
    threads: list[WatchThread] = []
    if maildirs:
        threads.append(WatchThread("rapport-watch-maildirs", lambda: watch_maildirs(
            opened, maildirs, interval=seconds, report=report, should_stop=stop.is_set)))
    for cfg in configs:
        threads.append(WatchThread(f"rapport-watch-{cfg.name}", functools.partial(
            watch_mailbox, opened, cfg, interval=seconds, report=report,
            should_stop=stop.is_set)))
    for thread in threads:
        thread.start()
    return threads


__all__ = ["WatchThread", "wait_for_change", "watch", "watch_mailbox"]
