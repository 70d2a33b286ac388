"""Provides helpers shared by the sync tests: config.toml with mailboxes, running `rapport sync`,
and a TCP relay a test can cut to play a network failure."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from rapport.store.session import open_workspace
from rapport.tui.cli.main import main


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_config(home: Path, mailboxes: list[dict[str, Any]], me: str = "me@rapport.example",
                 maildirs: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    """A workspace at `home` whose config.toml lists these `[[mailbox]]`/`[[maildir]]` tables."""
    open_workspace(home).close()
    lines = ["[me]", f"email = {_toml_value(me)}", ""]
    for table in mailboxes:
        lines.append("[[mailbox]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        lines.append("")
    for table in maildirs:
        lines.append("[[maildir]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        lines.append("")
    (home / "config.toml").write_text("\n".join(lines))


def run_sync(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`rapport sync --home HOME ARGS` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(["sync", "--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def stored(home: Path, folder: str = "INBOX") -> dict[int, tuple[str, int, int, int]]:
    """UID -> (Message-ID, seen, answered, flagged) of one folder as the workspace holds it."""
    with sqlite3.connect(home / "rapport.db") as conn:
        # Through the folder's copies: a message another folder holds too is listed in both.
        rows = conn.execute(
            "SELECT c.uid, m.message_id, m.seen, m.answered, m.flagged FROM message_copies c "
            "JOIN messages m ON m.id = c.message_id JOIN folders f ON f.id = c.folder_id "
            "WHERE f.name = ?",
            [folder],
        ).fetchall()
    return {uid: (mid, seen, answered, flagged) for uid, mid, seen, answered, flagged in rows}


def server_state(user: Any, folder: str = "INBOX") -> dict[int, tuple[str, int, int, int]]:
    """The same shape as `stored`, read from the server."""
    ids = user.server_messages(folder)
    flags = user.flags(folder)
    result = {}
    for uid, header in ids.items():
        value = header.split(b":", 1)[1].strip().decode() if b":" in header else ""
        names = set(flags.get(uid, ()))
        result[uid] = (value.strip("<>"), int(b"\\Seen" in names), int(b"\\Answered" in names),
                       int(b"\\Flagged" in names))
    return result


class TcpProxy:
    """A loopback TCP relay in front of a server port, for playing network failures.

    `cut()` drops every open connection (both ends see EOF, as when a NAT or a laptop's Wi-Fi
    forgets it); `refuse(True)` closes new connections at once (the server "unreachable").
    `sent` is everything clients sent, so a test can wait for a command such as IDLE;
    `received` counts the bytes servers sent back (what a client downloaded).
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.accepted = 0
        self.sent = bytearray()
        self.received = 0
        self.replies = bytearray()  # everything servers sent back
        self._refusing = False
        self._hooks: list[tuple[bytes, Any]] = []
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def refuse(self, refusing: bool) -> None:
        self._refusing = refusing

    def cut(self) -> None:
        with self._lock:
            doomed, self._open = self._open, []
        for sock in doomed:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        # shutdown() first: close() alone leaves the accept thread blocked on a socket that
        # goes on listening (and relaying to this test's server) after the test has ended.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.cut()

    def tell_clients(self, data: bytes) -> None:
        """Send `data` to every connected client as if the server had said it (only while the
        server is silent, as in IDLE: the relay's own writes are not interleaved with it)."""
        with self._lock:
            clients = self._open[0::2]  # accepted in pairs: (client, upstream)
        for sock in clients:
            sock.sendall(data)

    def saw(self, data: bytes) -> bool:
        with self._lock:
            return data in self.sent

    def count(self, data: bytes, *, replies: bool = False) -> int:
        """How often clients sent `data` (servers, with `replies`)."""
        with self._lock:
            return (self.replies if replies else self.sent).count(data)

    def before_forwarding(self, marker: bytes, hook: Any, nth: int = 1) -> None:
        """Call `hook()` once, when clients have sent `marker` `nth` more times, BEFORE the
        server gets it: the client waits for the answer meanwhile, so the hook acts at an exact
        point of its conversation (a change made in the TUI during a STORE, a kill during a
        FETCH)."""
        with self._lock:
            self._hooks.append((marker, hook, self.sent.count(marker) + nth))

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # listener closed
            if self._refusing:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self.accepted += 1
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                due = []
                with self._lock:
                    if from_client:
                        self.sent += data
                        due = [h for h in self._hooks
                               if h[0] in data and self.sent.count(h[0]) >= h[2]]
                        self._hooks = [h for h in self._hooks if h not in due]
                    else:
                        self.received += len(data)
                        self.replies += data
                for _marker, hook, _count in due:
                    hook()
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


UNREADABLE = "unreadable on purpose"


def fail_to_decode(monkeypatch: pytest.MonkeyPatch, subjects: set[str]) -> None:
    """Make the IMAP decoder fail on messages whose Subject holds one of `subjects` (a set the
    test may change between syncs), so the sync skips them with a reason.

    No real message trips it: the ~14,000 corpus messages sync without a skip
    (tests/test_sync_corpus.py) and the decoder catches what hostile mail throws. So a decoder
    bug is played at the step where one would fail; the server, the fetch and the store are real.
    """
    from rapport.mail.sync import fetch

    build = fetch._build

    def failing_build(uid: int, meta: dict[bytes, object], *rest: Any) -> object:
        header = meta.get(fetch.HEADER_KEY)
        if isinstance(header, bytes) and any(s.encode() in header for s in subjects):
            raise ValueError("a decoder bug")
        return build(uid, meta, *rest)

    monkeypatch.setattr(fetch, "_build", failing_build)
