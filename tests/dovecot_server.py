"""Provides a real Dovecot IMAP server on 127.0.0.1 for the sync tests and the benchmark.

One server per session (its own config, TLS CA, passwd-file and Maildir under a tmp dir); each
test gets a fresh user so tests never see each other's mail. `DovecotServer.start()` is plain
Python so bench/sync_bench.py can use the same server outside pytest.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
OPENSSL = shutil.which("openssl")
PASSWORD = "secret-pw"
_user_numbers = itertools.count(1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, signed by it."""
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run = lambda *a: subprocess.run(  # noqa: E731
        [OPENSSL, *a], check=True, capture_output=True
    )
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
        str(ca_crt), "-days", "2", "-subj", "/CN=Rapport Test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=localhost")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return ca_crt, crt, key


@dataclass
class DovecotServer:
    """A running Dovecot: ports, CA file and helpers to create users and reach their Maildir."""

    root: Path
    condstore: bool = True
    qresync: bool = True
    idle: bool = True
    special_use: bool = True
    plain_port: int = 0
    tls_port: int = 0
    ca_file: Path = field(default_factory=Path)
    process: subprocess.Popen[bytes] | None = None

    @property
    def mail_ids(self) -> tuple[int, int]:
        """Dovecot refuses to access mail as root: then it uses its own packaged user."""
        if os.getuid() == 0:
            user = pwd.getpwnam("dovecot")
            return user.pw_uid, user.pw_gid
        return os.getuid(), os.getgid()

    @property
    def passwd_path(self) -> Path:
        return self.root / "passwd"

    def maildir(self, user: str) -> Path:
        return self.root / "home" / user / "Maildir"

    def config_text(self) -> str:
        me = pwd.getpwuid(os.getuid())
        uid, gid = self.mail_ids
        # As root Dovecot runs its login/internal processes as its packaged users; as anyone
        # else everything runs as that user.
        login_user = "dovenull" if me.pw_uid == 0 else me.pw_name
        internal_user = "dovecot" if me.pw_uid == 0 else me.pw_name
        ca, crt, key = self.ca_file, self.root / "server.crt", self.root / "server.key"
        # Without CONDSTORE/QRESYNC (or IDLE) in the capability list a client must fall back
        # to scans (or polling).
        capability = ""
        if not self.condstore or not self.qresync or not self.idle:
            names = ["IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "SORT",
                     "THREAD=REFERENCES", "MULTIAPPEND", "UNSELECT", "CHILDREN", "NAMESPACE",
                     "UIDPLUS", "LIST-EXTENDED", "I18NLEVEL=1", "ESEARCH", "SEARCHRES", "WITHIN",
                     "CONTEXT=SEARCH", "LIST-STATUS", "BINARY", "MOVE", "SPECIAL-USE", "LITERAL+"]
            names += ["CONDSTORE"] if self.condstore else []
            names += ["QRESYNC"] if self.condstore and self.qresync else []
            names = [n for n in names if self.idle or n != "IDLE"]
            capability = f"imap_capability = {' '.join(names)}\n"
        del ca
        # Without SPECIAL-USE flags (an older server) a client must find Sent and Drafts by name.
        special = """
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox "Sent Items" {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
  }""" if self.special_use else ""
        return f"""\
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = rapport-test-{self.root.name}
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{crt}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
# Failed logins are answered at once (plus `nodelay` in the passwd-file and no anvil penalty
# below): the wrong-password tests need not wait 2, 4, 8... seconds each.
auth_failure_delay = 0
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:{self.root}/home/%u/Maildir
mail_fsync = never
# "* OK Still here" every second in IDLE (2 minutes by default): a test can wait for two of
# them and know the client has read a keep-alive without a sleep.
imap_idle_notify_interval = 1 secs
maildir_very_dirty_syncs = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd_path}/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /{special}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  user = {me.pw_name}
}}
service auth-worker {{
  user = {me.pw_name}
}}
service imap-login {{
  chroot =
}}
service pop3-login {{
  chroot =
}}
service submission-login {{
  chroot =
}}
{capability}"""

    def start(self) -> DovecotServer:
        if DOVECOT is None or OPENSSL is None:
            raise RuntimeError("dovecot or openssl is not installed")
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            # Mail processes run as the dovecot user: they must reach and own home/.
            self.root.chmod(0o711)
            os.chown(self.root / "home", *self.mail_ids)
        self.ca_file, _, _ = _make_ca(self.root)
        # One file per user: Dovecot reloads a changed passwd-file only when its mtime moves,
        # which may not happen for two users added within the same second.
        self.passwd_path.mkdir(exist_ok=True)
        self.plain_port, self.tls_port = _free_port(), _free_port()
        conf = self.root / "dovecot.conf"
        conf.write_text(self.config_text())
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                log = (self.root / "dovecot.log").read_text(errors="replace") if (
                    self.root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot exited: {err.strip()} {log[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.plain_port), timeout=0.5) as s:
                    if s.recv(200).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dovecot did not start listening within 15 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def add_user(self, name: str | None = None, password: str = PASSWORD) -> DovecotUser:
        name = name or f"user{next(_user_numbers)}"
        (self.passwd_path / name).write_text(f"{name}:{{PLAIN}}{password}::::::nodelay=y\n")
        return DovecotUser(self, name, password)

    def client(self, user: DovecotUser):  # noqa: ANN201 - IMAPClient, imported lazily
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.plain_port, ssl=False, timeout=30)
        client.login(user.name, user.password)
        return client


@dataclass
class DovecotUser:
    """One IMAP user on the server, with helpers to change its mail behind Rapport's back."""

    server: DovecotServer
    name: str
    password: str

    @property
    def maildir(self) -> Path:
        return self.server.maildir(self.name)

    def mailbox_config(self, mailbox: str = "test", **extra: object) -> dict[str, object]:
        """A raw `[[mailbox]]` table for this user over plain IMAP on loopback."""
        table: dict[str, object] = {
            "name": mailbox,
            "host": "127.0.0.1",
            "port": self.server.plain_port,
            "security": "plain",
            "username": self.name,
            "password_command": ["printf", "%s\\n", self.password],
        }
        table.update(extra)
        return table

    def append(self, messages: Iterable[bytes], folder: str = "INBOX",
               flags: Iterable[bytes] = ()) -> list[int]:
        """APPEND each message; returns the new UIDs (UIDPLUS)."""
        uids: list[int] = []
        with self.server.client(self) as client:
            for raw in messages:
                resp = client.append(folder, raw, flags=tuple(flags))
                uids.append(_appenduid(resp))
        return uids

    def deliver(self, messages: Iterable[bytes]) -> None:
        """Write messages straight into the INBOX Maildir (as a delivery agent would): thousands
        in a second, where APPEND takes a round trip each. Dovecot assigns UIDs at next SELECT."""
        with self.server.client(self) as client:
            client.select_folder("INBOX")  # makes Dovecot create the Maildir
        new = self.maildir / "new"
        for n, raw in enumerate(messages):
            path = new / f"{time.time_ns()}.{n}.rapport-test"
            path.write_bytes(raw)
            if os.getuid() == 0:
                os.chown(path, *self.server.mail_ids)

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

    def server_messages(self, folder: str = "INBOX") -> dict[int, bytes]:
        """UID -> Message-ID header line as the server holds them, for comparisons."""
        with self.server.client(self) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            data = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
        return {uid: d[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].strip() for uid, d in data.items()}

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.server.client(self) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            return dict(client.get_flags(uids)) if uids else {}

    def message_file(self, uid: int, folder: str = "INBOX") -> Path:
        """The Maildir file Dovecot holds message `uid` of `folder` in (from dovecot-uidlist)."""
        base = self.maildir if folder == "INBOX" else self.maildir / ("." + folder.replace("/", "."))
        for line in (base / "dovecot-uidlist").read_text().splitlines()[1:]:
            number, _, rest = line.partition(" ")
            if number == str(uid):
                key = rest.rsplit(":", 1)[-1] if rest.startswith(":") else rest.split(" :", 1)[-1]
                for sub in ("cur", "new"):
                    for path in (base / sub).glob(f"{key.split(':')[0]}*"):
                        return path
        raise LookupError(f"no file for UID {uid} in {base}")

    def make_unreadable(self, uid: int, folder: str = "INBOX") -> Path:
        """chmod 000 the message's file: Dovecot (its own user, even when tests run as root)
        then fails any FETCH of its content, as with a damaged disk or a bad restore."""
        path = self.message_file(uid, folder)
        path.chmod(0)
        return path

    def make_readable(self, uid: int, folder: str = "INBOX") -> None:
        self.message_file(uid, folder).chmod(0o600)

    def bump_uidvalidity(self, folder: str = "INBOX") -> None:
        """Make Dovecot assign a new UIDVALIDITY (and new UIDs) to the folder's messages."""
        base = self.maildir if folder == "INBOX" else self.maildir / ("." + folder.replace("/", "."))
        # Dovecot keeps UIDs in dovecot-uidlist and its indexes; without them it renumbers.
        for name in list(base.iterdir()):
            if name.name.startswith("dovecot") and name.is_file():
                name.unlink()
        time.sleep(1.1)  # UIDVALIDITY is a timestamp: make sure the new one differs.


def _appenduid(resp: bytes) -> int:
    # b"[APPENDUID 1700000000 5] Append completed."
    text = resp.decode(errors="replace") if isinstance(resp, bytes) else str(resp)
    if "APPENDUID" in text:
        return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
    return 0


def make_message(n: int, *, subject: str | None = None, sender: str = "alice@acme.example",
                 to: str = "me@rapport.example", body: str | None = None,
                 message_id: str | None = None) -> bytes:
    """A small well-formed RFC 822 message, numbered so tests can recognise it."""
    subject = subject or f"Message {n}"
    body = body or f"Hello, this is message number {n}.\r\n"
    message_id = message_id or f"msg-{n}-{os.getpid()}@test.example"
    return (
        f"From: Alice <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 2 Nov 2026 10:{n % 60:02d}:00 +0000\r\nMessage-ID: <{message_id}>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


def _start(tmp_factory: pytest.TempPathFactory, name: str, condstore: bool,
           idle: bool = True, special_use: bool = True,
           qresync: bool = True) -> Iterator[DovecotServer]:
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (apt install dovecot-imapd; `make test` does it as root)")
    if OPENSSL is None:
        pytest.skip("openssl is not installed: the Dovecot fixture needs it for its test CA")
    # Not under pytest's tmp tree: as root its 0700 parents would lock out Dovecot's mail user.
    root = Path(tempfile.mkdtemp(prefix=f"rapport-{name}-"))
    server = DovecotServer(root, condstore=condstore, idle=idle, special_use=special_use,
                           qresync=qresync)
    try:
        server.start()
    except RuntimeError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"dovecot could not start here: {exc}")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """A session-wide Dovecot with CONDSTORE and QRESYNC, plain + STARTTLS and TLS ports."""
    yield from _start(tmp_path_factory, "dovecot", condstore=True)


@pytest.fixture(scope="session")
def dovecot_no_condstore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """The same server without CONDSTORE/QRESYNC in its capabilities."""
    yield from _start(tmp_path_factory, "dovecot-plain", condstore=False)


@pytest.fixture(scope="session", name="dovecot_condstore_only")
def dovecot_condstore_only_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DovecotServer]:
    """The same server offering CONDSTORE but not QRESYNC (no VANISHED: expunges are found by
    the count check)."""
    yield from _start(tmp_path_factory, "dovecot-condstore", condstore=True, qresync=False)


@pytest.fixture(scope="session", name="dovecot_no_idle")
def dovecot_no_idle_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """The same server (CONDSTORE and QRESYNC on) without IDLE: `--watch` must poll."""
    yield from _start(tmp_path_factory, "dovecot-noidle", condstore=True, idle=False)


@pytest.fixture(scope="session", name="dovecot_no_special_use")
def dovecot_no_special_use_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DovecotServer]:
    """The same server with no folder flagged \\Sent or \\Drafts (and none made for users)."""
    yield from _start(tmp_path_factory, "dovecot-nospecialuse", condstore=True, special_use=False)


@pytest.fixture
def imap_user(dovecot: DovecotServer) -> DovecotUser:
    """A fresh user (empty INBOX, Sent Items, Drafts) on the session server."""
    return dovecot.add_user()
