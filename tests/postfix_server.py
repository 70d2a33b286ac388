"""Provides a real Postfix on 127.0.0.1 that produces real bounces (RFC 3464 DSNs).

A private instance (its own config, queue and logs under a tmp dir; Debian's `postfix` package,
which `make test` installs as root) listens on one loopback port. Mail to an unknown local user
of `partner.test` is accepted and then bounced by local(8) with 5.1.1; mail to `down.test` is
deferred (4.4.1) and Postfix sends a "delayed mail" DSN. Bounces go to the sender's Maildir under
`rapport.test`, where the test picks them up. Nothing leaves the machine: every other
destination goes to the error transport, and DNS is off.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTFIX = shutil.which("postfix") or (
    "/usr/sbin/postfix" if Path("/usr/sbin/postfix").exists() else None)
MASTER = Path("/usr/lib/postfix/sbin/master")
MANAGER = "manager@rapport.test"
LIVE = "carl@ok.test"              # delivered: a partner whose address works
DEAD_DOMAIN = "partner.test"       # local(8): unknown users bounce at once (5.1.1)
DOWN_DOMAIN = "down.test"          # smtp(8) to a closed loopback port: deferred, a delay DSN follows

# No chroot anywhere: a chroot would need copies of /etc files inside the tmp queue.
_MASTER_CF = """\
smtp-in   inet  n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
smtp      unix  - - n - - smtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostfixServer:
    """A running private Postfix: its SMTP port and the Maildir its bounces land in."""

    root: Path
    port: int = 0
    closed_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def bounce_maildir(self) -> Path:
        """The Maildir of MANAGER, the envelope sender of every test message."""
        return self.root / "vmail" / "manager" / "new"

    @property
    def log_path(self) -> Path:
        return self.root / "postfix.log"

    def main_cf(self) -> str:
        nobody = pwd.getpwnam("nobody")
        return f"""\
compatibility_level = 3.6
queue_directory = {self.root}/queue
data_directory = {self.root}/data
maillog_file = {self.log_path}
maillog_file_prefixes = {self.root}
myhostname = mx.rapport.test
mydomain = rapport.test
myorigin = rapport.test
mydestination = {DEAD_DOMAIN}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Accept any local part: the unknown user is found by local(8), which bounces (not a 550).
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = rapport.test, ok.test
virtual_mailbox_base = {self.root}/vmail
virtual_mailbox_maps = inline:{{ {MANAGER}=manager/, {LIVE}=carl/ }}
virtual_uid_maps = static:{nobody.pw_uid}
virtual_gid_maps = static:{nobody.pw_gid}
# A loopback port nobody listens on: delivery is deferred (4.4.1), as for a host that is down.
transport_maps = inline:{{ {DOWN_DOMAIN}=smtp:[127.0.0.1]:{self.closed_port} }}
# Never out: anything not for the domains above fails here, and DNS is not asked.
default_transport = error:this test server delivers nothing off the machine
relay_transport = error:this test server delivers nothing off the machine
smtp_dns_support_level = disabled
# Quick retries and an early delay warning, so a 4.x.x DSN comes within seconds.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 1s
maximal_queue_lifetime = 1h
smtputf8_enable = no
biff = no
"""

    def start(self) -> PostfixServer:
        if POSTFIX is None or not MASTER.exists():
            raise RuntimeError("postfix is not installed")
        self.root.chmod(0o755)  # postfix checks its queue's parents are root-owned, not writable
        self.config_dir.mkdir()
        for sub in ("queue", "data"):
            (self.root / sub).mkdir()
        nobody = pwd.getpwnam("nobody")
        (self.root / "vmail").mkdir()
        os.chown(self.root / "vmail", nobody.pw_uid, nobody.pw_gid)
        os.chown(self.root / "data", pwd.getpwnam("postfix").pw_uid, -1)
        self.port, self.closed_port = _free_port(), _free_port()
        (self.config_dir / "main.cf").write_text(self.main_cf())
        (self.config_dir / "master.cf").write_text(
            _MASTER_CF.replace("smtp-in   inet", f"127.0.0.1:{self.port} inet"))
        # `postfix check` creates the queue's directories with the right owners.
        check = subprocess.run([POSTFIX, "-c", str(self.config_dir), "check"],
                               capture_output=True, timeout=60)
        if check.returncode != 0:
            raise RuntimeError(f"postfix check failed: {self.log()[-2000:]}")
        self.process = subprocess.Popen(
            [str(MASTER), "-d", "-c", str(self.config_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"postfix master exited: {err.strip()} {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(200).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postfix did not listen within 20 s: {self.log()[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def send(self, raw: bytes, recipient: str, sender: str = MANAGER) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.sendmail(sender, [recipient], raw)

    def delivered_to_live(self) -> list[bytes]:
        """The messages LIVE received so far (its Maildir's new/), oldest first."""
        new = self.root / "vmail" / "carl" / "new"
        paths = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime_ns) if new.exists() else []
        return [p.read_bytes() for p in paths]

    def wait_for_live(self, count: int, timeout: float = 60) -> list[bytes]:
        """LIVE's messages once it holds at least `count` (delivery follows the 250 shortly)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.delivered_to_live()
            if len(found) >= count:
                return found
            time.sleep(0.2)
        raise AssertionError(f"{LIVE} got fewer than {count} messages: {self.log()[-3000:]}")

    def bounce_for(self, raw: bytes, recipient: str, timeout: float = 60) -> bytes:
        """Send `raw` to `recipient` and return the DSN Postfix mails back to MANAGER."""
        self.send(raw, recipient)
        return self.wait_for_bounce(recipient, timeout)

    def wait_for_bounce(self, recipient: str, timeout: float = 60) -> bytes:
        """The DSN naming `recipient` that Postfix mailed back to MANAGER (taken out of its
        Maildir, so each call waits for a new one)."""
        deadline = time.monotonic() + timeout
        needle = recipient.encode()
        while time.monotonic() < deadline:
            if self.bounce_maildir.exists():
                for path in sorted(self.bounce_maildir.iterdir()):
                    data = path.read_bytes()
                    if needle in data and b"report-type=delivery-status" in data:
                        path.unlink()  # taken: a later test for the same address waits anew
                        return data
            time.sleep(0.2)
        raise AssertionError(f"no bounce for {recipient} within {timeout} s: {self.log()[-3000:]}")


@pytest.fixture(scope="session")
def postfix() -> Iterator[PostfixServer]:
    """A session-wide private Postfix on 127.0.0.1 that bounces and defers for real."""
    if POSTFIX is None or not MASTER.exists():
        pytest.skip("postfix is not installed (apt install postfix; `make test` does it as root)")
    if os.getuid() != 0:
        pytest.skip("a private Postfix instance needs root (its daemons switch to the postfix user)")
    # Not under pytest's tmp tree: its 0700 parents would lock out the postfix user.
    root = Path(tempfile.mkdtemp(prefix="rapport-postfix-"))
    server = PostfixServer(root)
    try:
        server.start()
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"postfix could not start here: {exc}")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
