"""Provides `phase_profile`: one first sync, in process, timed phase by phase.

The phases are measured by wrapping the functions that do each kind of work (nothing in
Rapport itself knows it is being timed):

- network: imaplib's UID commands, from sending to the tagged answer (the wait for Dovecot and
  imaplib's reading of lines and literals, which cannot be told apart from outside);
- parsing: our FETCH response reader and BODYSTRUCTURE parsing and planning;
- decoding: headers, bodies (charset, HTML to text), snippets, bounces, in this process (a
  small sync, or this process's share of each batch, mail/sync/pipeline.py);
- decoding (worker): the same in the decoding worker process, running beside the rest;
- waiting (worker): this process waiting for the worker's share of a batch;
- matching: linking messages to accounts, bounce and unsubscribe notes;
- sqlite: the rest of each batch's transaction (inserts, copies, addresses, commit), FTS
  included: SQLite runs the FTS triggers inside the inserts;
- fts (estimate): the same rows indexed again afterwards by an FTS5 'rebuild', timed alone.

The worker's decoding overlaps the fetch and the store, so the phases add up to more than
the wall time: the difference is the overlap won.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PHASES = ("network", "parsing", "decoding", "decoding (worker)", "waiting (worker)", "matching",
          "sqlite", "fts (estimate)")


class PhaseClock:
    """Seconds per phase, summed over threads; a phase nested in another is subtracted from
    it by the caller (see `phase_profile`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.lock = threading.Lock()

    def wrap(self, phase: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds[phase] += time.perf_counter() - start

        return timed


def phase_profile(home: Path) -> tuple[float, dict[str, float]]:
    """(wall seconds, seconds per phase) of a first sync of the workspace at `home`."""
    import imaplib

    from rapport.mail.sync import fetch, pipeline, response
    from rapport.mail.sync.run import sync_all
    from rapport.store.mailstore import matching, messages
    from rapport.store.session import open_workspace

    clock = PhaseClock()
    patches: list[tuple[Any, str, Any]] = [
        (imaplib.IMAP4, "uid", "network"),
        (response, "fetch_items", "parsing"),
        (fetch, "parse_bodystructure", "parsing"),
        (fetch, "plan", "parsing"),
        (pipeline, "decode", "decoding"),
        (pipeline.ProcessDecoder, "result", "waiting (worker)"),
        (fetch, "read_bounces", "decoding"),
        (messages, "save_batch", "sqlite"),
        (matching, "relink_messages", "matching"),
        (messages, "note_batch", "matching"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _phase in patches]
    for owner, name, phase in patches:
        setattr(owner, name, clock.wrap(phase, getattr(owner, name)))
    close = pipeline.ProcessDecoder.close

    def counted_close(decoder: pipeline.ProcessDecoder) -> None:
        clock.seconds["decoding (worker)"] += decoder.worker_seconds
        close(decoder)

    originals.append((pipeline.ProcessDecoder, "close", close))
    pipeline.ProcessDecoder.close = counted_close  # restored with the others below
    opened = open_workspace(home)
    try:
        start = time.perf_counter()
        summaries = sync_all(opened)
        wall = time.perf_counter() - start
        if not all(s.ok for s in summaries):
            raise SystemExit(f"phase profile: sync failed: {summaries}")
        start = time.perf_counter()
        with opened.db.conn:
            opened.db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
        clock.seconds["fts (estimate)"] = time.perf_counter() - start
    finally:
        opened.close()
        for owner, name, original in originals:
            setattr(owner, name, original)
    phases = dict(clock.seconds)
    # save_batch holds the matching and the FTS triggers: "sqlite" is what remains.
    phases["sqlite"] = max(0.0, phases["sqlite"] - phases["matching"] - phases["fts (estimate)"])
    return wall, phases


def print_phases(wall: float, phases: dict[str, float], messages: int) -> None:
    print(f"\nfirst sync of {messages} messages, in process, by phase "
          f"(wall {wall:.2f} s; phases summed over both processes):")
    for name in PHASES:
        seconds = phases[name]
        print(f"  {name:<16}{seconds:>8.2f} s {100 * seconds / wall:>5.0f}% of wall")
    rest = wall - sum(phases.values())
    print(f"  {'unaccounted':<16}{rest:>8.2f} s {100 * rest / wall:>5.0f}% of wall"
          + ("  (negative: phases overlapped)" if rest < 0 else ""))
