"""Provides a real Courier-IMAP server on 127.0.0.1: the second IMAP implementation the sync is
tested against, beside Dovecot (tests/dovecot_server.py).

It runs from Debian's packages unpacked by tests/courier_install.py (courier-imap conflicts
with dovecot-imapd as a package, so it is never installed).

What is Courier's own and what is ours: Courier's `imapd` answers every command after login
(folders, UIDs, UIDVALIDITY, FETCH, STORE, APPEND, EXPUNGE), exactly as it does behind its
`imaplogin`. Its login half needs courier-authlib's daemon, which reads a config file at a fixed
path under /etc; in its place a small relay here greets, answers CAPABILITY/NOOP/LOGOUT, checks
LOGIN against its own user list, then hands the socket to `imapd` the way `imaplogin` does
(IMAPLOGINTAG and AUTHENTICATED in the environment): `imapd` itself says "tag OK LOGIN Ok.".
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from courier_install import CourierInstall, install_courier

PASSWORD = "secret-pw"
# What Debian's /etc/courier/imapd sets, without QUOTA's extra round trips nothing here needs.
CAPABILITY = ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES "
              "SORT QUOTA IDLE")
_user_numbers = itertools.count(1)
_ASTRING = re.compile(rb'\s*(?:"((?:[^"\\]|\\.)*)"|\{(\d+)\+?\}$|([^\s"(){]+))')


def _astrings(text: bytes) -> tuple[list[bytes], int | None]:
    """IMAP astrings of a command's arguments; the size of a trailing literal, if any."""
    values: list[bytes] = []
    pos = 0
    while pos < len(text):
        match = _ASTRING.match(text, pos)
        if match is None or match.end() == pos:
            break
        quoted, literal, atom = match.groups()
        if literal is not None:
            return values, int(literal)
        values.append(re.sub(rb"\\(.)", rb"\1", quoted) if quoted is not None else atom)
        pos = match.end()
    return values, None


@dataclass
class CourierServer:
    """A running relay + Courier imapd: port, users, and their Maildirs."""

    install: CourierInstall
    root: Path
    port: int = 0
    users: dict[str, str] = field(default_factory=dict)
    _listener: socket.socket | None = None
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: bool = False

    @property
    def log_path(self) -> Path:
        return self.root / "imapd.log"

    def home(self, user: str) -> Path:
        return self.root / "home" / user

    def start(self) -> CourierServer:
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        threading.Thread(target=self._accept_loop, name="courier-relay", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            children = list(self._children)
        for child in children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()

    def add_user(self, name: str | None = None, password: str = PASSWORD) -> CourierUser:
        name = name or f"cuser{next(_user_numbers)}"
        maildir = self.home(name) / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        self.users[name] = password
        return CourierUser(self, name, password)

    def client(self, user: CourierUser):  # noqa: ANN201 - IMAPClient, imported lazily
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(user.name, user.password)
        return client

    # --- the login relay -------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping:
            try:
                conn, _addr = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._serve_until_login(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def _serve_until_login(self, conn: socket.socket) -> None:
        conn.sendall(f"* OK [CAPABILITY {CAPABILITY}] Courier-IMAP ready. (relay)\r\n".encode())
        buffer = b""
        while True:
            while b"\r\n" not in buffer:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buffer += chunk
            line, buffer = buffer.split(b"\r\n", 1)
            tag, _, rest = line.partition(b" ")
            command, _, args = rest.partition(b" ")
            verb = command.upper()
            if verb == b"CAPABILITY":
                conn.sendall(b"* CAPABILITY " + CAPABILITY.encode() + b"\r\n" + tag
                             + b" OK CAPABILITY completed\r\n")
            elif verb == b"NOOP":
                conn.sendall(tag + b" OK NOOP completed\r\n")
            elif verb == b"LOGOUT":
                conn.sendall(b"* BYE Courier-IMAP server shutting down\r\n" + tag
                             + b" OK LOGOUT completed\r\n")
                return
            elif verb == b"LOGIN":
                values, literal = _astrings(args)
                while literal is not None:  # LOGIN user {n}: the rest follows as a literal
                    conn.sendall(b"+ OK\r\n")
                    while len(buffer) < literal + 2:
                        chunk = conn.recv(4096)
                        if not chunk:
                            return
                        buffer += chunk
                    values.append(buffer[:literal])
                    more, buffer = buffer[literal:].split(b"\r\n", 1)
                    extra, literal = _astrings(more)
                    values.extend(extra)
                if len(values) == 2 and self.users.get(values[0].decode(errors="replace")) \
                        == values[1].decode(errors="replace") and not buffer:
                    self._hand_over(conn, tag.decode(), values[0].decode())
                    return
                conn.sendall(tag + b" NO Login failed.\r\n")
            else:
                conn.sendall(tag + b" BAD Please login first.\r\n")

    def _hand_over(self, conn: socket.socket, tag: str, user: str) -> None:
        """Run Courier's imapd on this connection as imaplogin would after a good LOGIN."""
        home = self.home(user)
        env = {
            "PATH": "/usr/bin:/bin",
            "LD_LIBRARY_PATH": self.install.library_path,
            "GAMIN_DEBUG_SERVER": str(self.install.gam_server),
            "HOME": str(home),
            "AUTHENTICATED": user,
            "IMAPLOGINTAG": tag,
            "TCPREMOTEIP": "127.0.0.1",
            "TCPREMOTEPORT": "0",
            "IMAP_CAPABILITY": CAPABILITY,
            "IMAP_KEYWORDS": "1",
            "IMAP_IDLE_TIMEOUT": "60",
            "IMAP_USELOCKS": "1",
            "IMAP_TRASHFOLDERNAME": "Trash",
            "IMAP_MOVE_EXPUNGE_TO_TRASH": "0",
            "IMAP_ENHANCEDIDLE": "0",
        }
        conn.setblocking(True)
        with self.log_path.open("ab") as log:
            child = subprocess.Popen([str(self.install.imapd), "Maildir"], cwd=home, env=env,
                                     stdin=conn.fileno(), stdout=conn.fileno(), stderr=log,
                                     close_fds=True)
        with self._lock:
            self._children.append(child)
        child.wait()
        with self._lock:
            self._children.remove(child)


@dataclass
class CourierUser:
    """One IMAP user, with helpers to change its mail behind Rapport's back (as DovecotUser)."""

    server: CourierServer
    name: str
    password: str

    @property
    def maildir(self) -> Path:
        return self.server.home(self.name) / "Maildir"

    def folder_dir(self, folder: str = "INBOX") -> Path:
        """Courier's Maildir++ layout: INBOX is the Maildir, INBOX.Sent is Maildir/.Sent."""
        if folder.upper() == "INBOX":
            return self.maildir
        return self.maildir / ("." + folder.removeprefix("INBOX."))

    def mailbox_config(self, mailbox: str = "courier", **extra: object) -> dict[str, object]:
        table: dict[str, object] = {
            "name": mailbox,
            "host": "127.0.0.1",
            "port": self.server.port,
            "security": "plain",
            "username": self.name,
            "password_command": ["printf", "%s\\n", self.password],
        }
        table.update(extra)
        return table

    def make_folder(self, folder: str) -> None:
        """A folder as `maildirmake -f` leaves it: on disk, never opened over IMAP."""
        path = self.folder_dir(folder)
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        (path / "maildirfolder").touch()

    def deliver(self, messages: Iterable[bytes], folder: str = "INBOX") -> None:
        """Write messages straight into the folder's new/ as a delivery agent does: Courier
        has not assigned them UIDs, and a folder never opened read-write has no UID database."""
        new = self.folder_dir(folder) / "new"
        for n, raw in enumerate(messages):
            # Maildir files end lines with LF; Courier adds the CR when it serves them.
            (new / f"{time.time_ns()}.M{n}P{os.getpid()}.rapport-test").write_bytes(
                raw.replace(b"\r\n", b"\n"))

    def append(self, messages: Iterable[bytes], folder: str = "INBOX",
               flags: Iterable[bytes] = ()) -> list[int]:
        """APPEND each message over IMAP; returns the new UIDs (UIDPLUS)."""
        uids: list[int] = []
        with self.server.client(self) as client:
            for raw in messages:
                resp = client.append(folder, raw, flags=tuple(flags))
                text = resp.decode(errors="replace") if isinstance(resp, bytes) else str(resp)
                found = re.search(r"APPENDUID \d+ (\d+)", text)
                uids.append(int(found.group(1)) if found else 0)
        return uids

    def set_flags(self, uids: Iterable[int], flags: Iterable[bytes], folder: str = "INBOX",
                  add: bool = True) -> None:
        with self.server.client(self) as client:
            client.select_folder(folder)
            (client.add_flags if add else client.remove_flags)(list(uids), list(flags))

    def expunge(self, uids: Iterable[int], folder: str = "INBOX") -> None:
        with self.server.client(self) as client:
            client.select_folder(folder)
            client.delete_messages(list(uids))
            client.uid_expunge(list(uids))

    def open_read_write(self, folder: str = "INBOX") -> int:
        """SELECT the folder once (Courier then keeps its UIDs); returns its UIDVALIDITY."""
        with self.server.client(self) as client:
            return int(client.select_folder(folder)[b"UIDVALIDITY"])

    def examine(self, folder: str = "INBOX") -> int:
        """UIDVALIDITY as a read-only EXAMINE sees it."""
        with self.server.client(self) as client:
            return int(client.select_folder(folder, readonly=True)[b"UIDVALIDITY"])

    def server_messages(self, folder: str = "INBOX") -> dict[int, bytes]:
        """UID -> Message-ID header line. Courier answers the header list quoted
        (`BODY[HEADER.FIELDS ("MESSAGE-ID")]`): the one key of each answer is taken whatever
        its spelling."""
        with self.server.client(self) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            data = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
        result = {}
        for uid, items in data.items():
            [value] = [v for k, v in items.items() if k.startswith(b"BODY[HEADER.FIELDS")]
            result[uid] = value.strip()
        return result

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.server.client(self) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            return dict(client.get_flags(uids)) if uids else {}


def start_courier(root: Path) -> CourierServer:
    """Install (if needed) and start a server under `root`; RuntimeError saying why not."""
    install = install_courier()
    return CourierServer(install, root).start()


@pytest.fixture(scope="session")
def courier() -> Iterator[CourierServer]:
    """A session-wide Courier-IMAP (see the module docstring); skipped with the reason when it
    cannot be had here."""
    root = Path(tempfile.mkdtemp(prefix="rapport-courier-"))
    try:
        server = start_courier(root)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"courier-imap could not be had here: {exc}")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def courier_user(courier: CourierServer) -> CourierUser:
    """A fresh user with an empty INBOX on the session server."""
    return courier.add_user()
