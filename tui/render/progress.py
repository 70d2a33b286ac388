"""Provides the CLI's sync progress: a bar per folder on a terminal, plain lines otherwise.

Folder names and server messages are hostile text: control characters (terminal escapes) are
replaced before anything is written.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import TextIO

from rapport.mail.sync.events import (
    Event,
    FolderDone,
    FolderFailed,
    FolderProgress,
    FolderStarted,
    MailboxFailed,
    MessageSkipped,
    SyncSummary,
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
BAR_WIDTH = 30


def safe(text: str) -> str:
    """Text fit for a terminal: no escapes, no line breaks."""
    return _CONTROL.sub("?", text)


def _cause(message: str, *prefixes: str) -> str:
    for prefix in prefixes:
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def failure_lines(summaries: list[SyncSummary]) -> list[str]:
    """'work/INBOX: server refused: ...', 'home: login failed ...': each failed folder or
    source, named as the progress lines name them, with its cause."""
    lines = []
    for summary in summaries:
        name = summary.mailbox
        if summary.error:
            cause = _cause(summary.error, f"mailbox {name!r}: ", f"maildir {name!r}: ")
            lines.append(f"{safe(name)}: {safe(cause)}")
        for folder in summary.folders:
            if folder.error:
                cause = _cause(folder.error, f"mailbox {name!r}, folder {folder.folder!r}: ")
                lines.append(f"{safe(name)}/{safe(folder.folder)}: {safe(cause)}")
    return lines


class ProgressPrinter:
    """Turns sync events into output; call it as `report`. `tty` None means ask the stream.

    Thread-safe: under `--watch` every mailbox's watcher thread reports to one printer.
    """

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None,
                 tty: bool | None = None, quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.quiet = quiet
        self.failures = 0
        self.skipped = 0
        self._said_after_failure = False  # a line came after a failure's: it may scroll away
        self._bar_open = False
        self._last_draw = 0.0
        self._lock = threading.Lock()
        # Block characters only where the terminal's encoding has them (LANG=C: ASCII bars).
        try:
            "█░".encode(getattr(self.out, "encoding", None) or "utf-8")
            self._full, self._empty = "█", "░"
        except (UnicodeEncodeError, LookupError):
            self._full, self._empty = "#", "-"

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._print(event)

    def finish(self) -> None:
        """End an open bar with a newline (it keeps showing where the sync got to)."""
        with self._lock:
            if self._bar_open:
                self.out.write("\n")
                self.out.flush()
                self._bar_open = False

    def summarize(self, summaries: list[SyncSummary]) -> None:
        """Every failure again in one block (one line each) when other lines came after the
        first, so a long sync does not scroll them away; when they were the last lines (or all
        there was, `quiet`), they are not repeated."""
        lines = failure_lines(summaries)
        if not lines or not self._said_after_failure:
            return
        with self._lock:
            self._end_bar()
            count = f"{len(lines)} failure{'s' if len(lines) != 1 else ''}"
            print(f"rapport: sync incomplete, {count}:", file=self.err)
            for line in lines:
                print(f"rapport:   {line}", file=self.err)
            if self.skipped:
                print(f"rapport:   and {self.skipped} message{'s' if self.skipped != 1 else ''}"
                      " skipped (rapport status lists them)", file=self.err)
            self.err.flush()

    def _print(self, event: Event) -> None:
        if isinstance(event, (MailboxFailed, FolderFailed)):
            self._end_bar()
            self.failures += 1
            print(f"rapport: {safe(event.message)}", file=self.err, flush=True)
        elif isinstance(event, MessageSkipped):
            self._end_bar()
            self._said_after_failure = self._said_after_failure or self.failures > 0
            self.skipped += 1
            print(f"rapport: mailbox {safe(event.mailbox)!r}, folder {safe(event.folder)!r}: "
                  f"message UID {event.uid} skipped: {safe(event.reason)}", file=self.err,
                  flush=True)
        elif not self.quiet:
            self._said_after_failure = self._said_after_failure or self.failures > 0
            self._progress(event)

    def _name(self, event: FolderStarted | FolderProgress | FolderDone) -> str:
        return f"{safe(event.mailbox)}/{safe(event.folder)}"

    def _progress(self, event: Event) -> None:
        if isinstance(event, FolderStarted):
            if event.new and not self.tty:
                print(f"{self._name(event)}: {event.new} new", file=self.out, flush=True)
            elif event.new:
                self._draw(self._name(event), 0, event.new, force=True)
        elif isinstance(event, FolderProgress):
            if self.tty:
                self._draw(self._name(event), event.done, event.total)
            else:
                print(f"{self._name(event)}: {event.done}/{event.total}", file=self.out, flush=True)
        elif isinstance(event, FolderDone):
            self._end_bar()
            if event.unchanged:
                text = "up to date"
            else:
                text = (f"{event.added} new, {event.flags_changed} flag changes, "
                        f"{event.removed} removed")
                if event.reidentified is not None:
                    text += (f"; UIDVALIDITY changed: {event.reidentified} re-identified, "
                             f"{event.refetched} fetched")
            print(f"{self._name(event)}: {text}", file=self.out, flush=True)

    def _draw(self, name: str, done: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and done < total and now - self._last_draw < 0.1:
            return  # redraw at most ten times a second
        self._last_draw = now
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        bar = self._full * filled + self._empty * (BAR_WIDTH - filled)
        self.out.write(f"\r{name} {bar} {done}/{total}\x1b[K")
        self.out.flush()
        self._bar_open = True

    def _end_bar(self) -> None:
        if self._bar_open:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._bar_open = False
