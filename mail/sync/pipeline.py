"""Provides `open_decoder`: batches decoded in a second process while this one fetches and stores.

Why: on a first sync, decoding (headers, charsets, HTML to text, snippets) is over half the
work, fetching and the SQLite writes the rest, and the machines Rapport runs on have two cores.
While the worker decodes batch n, the sync engine stores batch n-1 and fetches batch n+1; each
batch is still committed on its own, in order, with its folder state (mail/sync/engine.py).

The worker runs mail/sync/fetch.py's `build_messages`, the one decoder, on the bytes the server
sent, and sends back the `NewMessage`s and the (uid, reason) of messages it could not read, as
the inline path produces them. It never outlives the sync: it ends when its pipe closes, and is
terminated when the sync stops mid-batch. Ctrl-C is the parent's to handle (the worker ignores
SIGINT). A small sync decodes inline: starting a process would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Protocol

from rapport.mail.errors import MailError
from rapport.mail.sync.fetch import RawBatch, build_messages
from rapport.store.mailstore.messages import NewMessage

# Fewer new messages than this in a folder are decoded inline (the worker's start and the
# pipeline's fill cost about one batch's time); "0" in the environment always uses the worker.
PIPELINE_MIN_MESSAGES = int(os.environ.get("RAPPORT_SYNC_PIPELINE_MIN") or "600")
Decoded = tuple[list[NewMessage], list[tuple[int, str]]]
# A batch as fetched: the server's bytes and the (uid, server's words, retry) it would not send.
Fetched = tuple[RawBatch, list[tuple[int, str, bool]]]


class DecoderFailed(MailError):
    """The decoding process died or could not take a batch: the folder's sync fails (one line)."""


def decode(raw: RawBatch) -> Decoded:
    """The NewMessages of a batch and the (uid, reason) of the messages it could not read."""
    skips: list[tuple[int, str]] = []
    messages = build_messages(raw, lambda uid, reason: skips.append((uid, reason)))
    return messages, skips


def part_of(raw: RawBatch, uids: list[int]) -> RawBatch:
    """The share of a batch holding `uids` (in the batch's order)."""
    return RawBatch(uids, {u: raw.metas[u] for u in uids if u in raw.metas},
                    {u: raw.plans[u] for u in uids if u in raw.plans},
                    {u: raw.payloads[u] for u in uids if u in raw.payloads},
                    {u: raw.whole[u] for u in uids if u in raw.whole})


class Decoder(Protocol):
    """One batch at a time: `submit`, then `work` (this process's share), then `result`."""

    seconds: float  # time spent decoding, in both processes

    def submit(self, raw: RawBatch) -> None: ...

    def work(self) -> None: ...

    def result(self) -> Decoded: ...

    def close(self) -> None: ...


class InlineDecoder:
    """Decodes in this process, when asked for the result."""

    def __init__(self) -> None:
        self.pending: RawBatch | None = None
        self.seconds = 0.0

    def submit(self, raw: RawBatch) -> None:
        self.pending = raw

    def work(self) -> None:
        pass  # nothing to overlap with: `result` decodes

    def result(self) -> Decoded:
        raw, self.pending = self.pending, None
        if raw is None:
            return [], []
        start = time.perf_counter()
        try:
            return decode(raw)
        finally:
            self.seconds += time.perf_counter() - start

    def close(self) -> None:
        self.pending = None


def _serve(conn: Connection, parents_end: Connection | None) -> None:
    """The worker's loop: a RawBatch in, ("ok", Decoded, seconds) or ("error", text, 0) out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the sync, then this ends
    if parents_end is not None:
        parents_end.close()  # forked: without this, the parent's death would never be seen
    while True:
        try:
            raw = conn.recv()
        except (EOFError, OSError):
            return  # the sync is over (or its process died): so is this one
        start = time.perf_counter()
        try:
            decoded = decode(raw)
            conn.send(("ok", decoded, time.perf_counter() - start))
        except (EOFError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 - told to the parent as one line
            try:
                conn.send(("error", f"{type(exc).__name__}: {exc}"[:200], 0.0))
            except (EOFError, OSError):
                return


class ProcessDecoder:
    """Decodes the first share of each batch in a worker process and the rest here, while the
    worker runs; one batch in flight (bounded memory, a send never waits on a busy worker).

    The shares follow the measured speeds: the worker takes as much as it can decode in the
    time this process spends fetching, storing and decoding the rest, so neither waits long
    for the other, on an idle machine or one whose other users slow either process down.
    """

    def __init__(self) -> None:
        # fork costs a few ms and inherits the imported decoder; a process running other
        # threads (the TUI's) must not fork, so it pays spawn's interpreter start instead.
        forkable = "fork" in multiprocessing.get_all_start_methods()
        fork = forkable and threading.active_count() == 1
        context: ForkContext | SpawnContext = (
            multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn"))
        ours, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(theirs, ours if fork else None),
            name="rapport-decoder", daemon=True)
        self.process.start()
        theirs.close()
        self.conn = ours
        self.waiting = False
        self.seconds = 0.0
        self.worker_seconds = 0.0  # of `seconds`, those spent in the worker
        self.share = 0.8  # of a batch, to the worker: about right when both cores are free
        self.own: RawBatch | None = None
        self.own_decoded: Decoded = ([], [])
        self.sent = self.kept = 0  # messages in the worker's share, in this process's
        self.since = time.perf_counter()  # submitted (or `work` ended): this process busy
        self.busy = 0.0  # this process's time on other work than decoding, this batch
        self.own_seconds = 0.0

    def submit(self, raw: RawBatch) -> None:
        count = len(raw.uids)
        cut = min(count, max(1, round(count * self.share)))
        self.sent, self.kept = cut, count - cut
        self.own = part_of(raw, raw.uids[cut:]) if cut < count else None
        self.own_decoded = ([], [])
        try:
            self.waiting = True
            self.conn.send(part_of(raw, raw.uids[:cut]) if self.own else raw)
        except (OSError, ValueError) as exc:
            raise self._died() from exc
        self.since = time.perf_counter()
        self.busy = 0.0

    def work(self) -> None:
        """Decode this process's share of the batch submitted last (the worker decodes its own)."""
        start = time.perf_counter()
        self.busy += start - self.since
        if self.own is not None:
            self.own_decoded = decode(self.own)
            self.own = None
        end = time.perf_counter()
        self.own_seconds = end - start
        self.seconds += self.own_seconds
        self.since = end

    def result(self) -> Decoded:
        if not self.waiting:
            return [], []
        self.busy += time.perf_counter() - self.since
        try:
            status, value, seconds = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise self._died() from exc
        self.waiting = False
        if status != "ok":
            raise DecoderFailed(f"decoding failed in the worker process: {value}")
        self.seconds += seconds
        self.worker_seconds += seconds
        self._balance(seconds)
        messages, skips = value
        own_messages, own_skips = self.own_decoded
        self.own_decoded = ([], [])
        return messages + own_messages, skips + own_skips  # the worker's share comes first

    def _balance(self, worker_seconds: float) -> None:
        """The next share: the worker's decoding as long as this process's other work plus
        its own decoding, at this batch's speeds per message (half-way there: speeds vary)."""
        if worker_seconds <= 0 or self.sent <= 0:
            return
        worker_rate = worker_seconds / self.sent
        own_rate = self.own_seconds / self.kept if self.kept and self.own_seconds > 0 \
            else worker_rate
        total = self.sent + self.kept
        share = (self.busy + total * own_rate) / (total * (worker_rate + own_rate))
        self.share = (self.share + min(1.0, max(0.2, share))) / 2

    def _died(self) -> DecoderFailed:
        self.process.join(timeout=1)
        code = self.process.exitcode
        return DecoderFailed("the decoding process ended unexpectedly"
                             + (f" (exit code {code})" if code is not None else ""))

    def close(self) -> None:
        """End the worker: at once if a batch is still in it (a stop or a failure), else by
        closing its pipe."""
        if self.waiting and self.process.is_alive():
            self.process.terminate()
        self.conn.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def open_decoder(new_messages: int, batch_size: int) -> Decoder:
    """A worker process when the folder has enough new mail to gain by it, else inline."""
    if new_messages > batch_size and new_messages >= PIPELINE_MIN_MESSAGES:
        return ProcessDecoder()
    return InlineDecoder()


def store_in_batches(uids: list[int], batch_size: int, final_uid: int, *,
                     fetch: Callable[[list[int]], Fetched],
                     save: Callable[[Fetched, int, Decoded], int],
                     should_stop: Callable[[], bool],
                     progress: Callable[[int], None]) -> int | None:
    """Fetch, decode and `save(fetched, last_uid, decoded)` `uids` batch by batch, in order,
    the last with `final_uid` as its last_uid; batch n decodes while n-1 is saved and n+1
    fetched. Returns how many `save` stored; None when stopped before the last batch."""
    total = len(uids)
    decoder = open_decoder(total, batch_size)
    done = stored = 0
    pending: tuple[Fetched, int, int] | None = None  # in the decoder: its last_uid and size
    try:
        for start in range(0, total, batch_size):
            if should_stop():
                break
            batch = uids[start:start + batch_size]
            fetched = fetch(batch)
            decoded = decoder.result() if pending is not None else None
            decoder.submit(fetched[0])  # the worker starts on it, while the last is stored
            if pending is not None and decoded is not None:
                stored += save(pending[0], pending[1], decoded)
                done += pending[2]
                progress(done)
            decoder.work()
            final = start + batch_size >= total
            pending = (fetched, final_uid if final else batch[-1], len(batch))
        if pending is not None:  # when stopping too: a batch fetched is not thrown away
            stored += save(pending[0], pending[1], decoder.result())
            done += pending[2]
            progress(done)
    finally:
        decoder.close()
    return stored if done == total else None


__all__ = ["PIPELINE_MIN_MESSAGES", "Decoded", "Decoder", "DecoderFailed", "Fetched", "InlineDecoder",
           "ProcessDecoder", "decode", "open_decoder", "store_in_batches"]
