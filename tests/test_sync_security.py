"""Connection security and failures against a real Dovecot: TLS, STARTTLS, CA, passwords, hosts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dovecot_server import DovecotUser, make_message
from sync_helpers import run_sync, stored, write_config

from rapport.mail.config import parse_mailbox, resolve_password
from rapport.mail.sync.imap import close, connect
from rapport.store.errors import ConfigError

pytestmark = pytest.mark.dovecot


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_with_the_servers_ca(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str], security: str
) -> None:
    server = imap_user.server
    port = server.tls_port if security == "tls" else server.plain_port
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(security=security, port=port,
                                                 ca_file=str(server.ca_file))])
    imap_user.append([make_message(1)])

    code, _out, err = run_sync(home, capsys)

    assert (code, err) == (0, "")
    assert len(stored(home)) == 1


def test_tls_refuses_a_certificate_it_cannot_verify(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(security="tls", port=imap_user.server.tls_port)])

    code, out, err = run_sync(home, capsys)

    assert code == 1
    assert len(err.splitlines()) == 1
    assert err.startswith(f"rapport: mailbox 'test': TLS certificate of 127.0.0.1:"
                          f"{imap_user.server.tls_port} not trusted")
    assert "Traceback" not in out + err


def test_wrong_password_fails_that_mailbox_only(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    bad = imap_user.mailbox_config("bad", password_command=["echo", "not-the-password"])
    write_config(home, [bad, imap_user.mailbox_config("good")])
    imap_user.append([make_message(1)])

    code, _out, err = run_sync(home, capsys)

    assert code == 1
    refused = (f"login failed for {imap_user.name!r} (wrong password?): "
               "[AUTHENTICATIONFAILED] Authentication failed.")
    # Said as it happened and, after the good mailbox's lines, again at the end.
    assert err.splitlines() == [f"rapport: mailbox 'bad': {refused}",
                                "rapport: sync incomplete, 1 failure:", f"rapport:   bad: {refused}"]
    assert len(stored(home)) == 1  # the other mailbox still synced


def test_a_failing_password_command_fails_that_mailbox_only(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config("bad", password_command=["false"]),
                        imap_user.mailbox_config("good")])
    imap_user.append([make_message(1)])

    code, _out, err = run_sync(home, capsys)

    assert code == 1
    assert err == ("rapport: mailbox 'bad': password_command: false exited with status 1\n"
                   "rapport: sync incomplete, 1 failure:\n"
                   "rapport:   bad: password_command: false exited with status 1\n")
    assert len(stored(home)) == 1  # the other mailbox still synced


def test_unknown_host_and_refused_port_are_one_line_each(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    write_config(home, [
        imap_user.mailbox_config("nohost", host="no-such-host.invalid", security="tls",
                                 timeout=5),
        imap_user.mailbox_config("closed", port=1, timeout=5),
    ])

    code, _out, err = run_sync(home, capsys)

    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("rapport: mailbox 'nohost': ")
    assert "unknown host 'no-such-host.invalid'" in lines[0] or "timed out" in lines[0]
    assert lines[1] == "rapport: mailbox 'closed': connection refused by 127.0.0.1:1"


def test_plain_imap_is_refused_to_a_remote_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    write_config(home, [{"name": "work", "host": "imap.example.com", "security": "plain",
                         "username": "me", "password_command": "pass show mail"}])

    code, _out, err = run_sync(home, capsys)

    assert code == 2  # a config error is bad input
    assert err == ("rapport: [[mailbox]] 'work': security = \"plain\" is only allowed to "
                   "127.0.0.1/localhost (host is 'imap.example.com'); use tls or starttls\n")


def test_password_command_runs_without_a_shell_and_reports_failures(tmp_path: Path) -> None:
    base = {"name": "w", "host": "127.0.0.1", "security": "plain", "username": "u"}
    # A string is split like a shell would, but `$HOME` and `;` reach the program verbatim.
    cfg = parse_mailbox({**base, "password_command": "printf '%s\\nsecond' '$HOME;x'"}, 1)
    assert resolve_password(cfg) == "$HOME;x"
    failing = parse_mailbox({**base, "password_command": ["sh", "-c", "echo nope >&2; exit 3"]}, 1)
    with pytest.raises(ConfigError, match=r"^mailbox 'w' password_command: sh exited with "
                                          r"status 3: nope$"):
        resolve_password(failing)
    missing = parse_mailbox({**base, "password_command": ["/nonexistent/pass"]}, 1)
    with pytest.raises(ConfigError, match="command not found: /nonexistent/pass"):
        resolve_password(missing)
    with pytest.raises(ConfigError, match="needs password_command or keyring = true"):
        parse_mailbox(base, 1)


def test_a_server_that_never_answers_times_out_in_one_line(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    # The kernel completes the TCP handshake from the backlog; nobody ever sends a greeting.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        home = tmp_path / "ws"
        write_config(home, [imap_user.mailbox_config("slow", port=port, timeout=1),
                            imap_user.mailbox_config("fine")])
        imap_user.append([make_message(1)])

        code, _out, err = run_sync(home, capsys)

    assert code == 1
    assert err == (f"rapport: mailbox 'slow': timed out talking to 127.0.0.1:{port}\n"
                   "rapport: sync incomplete, 1 failure:\n"
                   f"rapport:   slow: timed out talking to 127.0.0.1:{port}\n")
    assert len(stored(home)) == 1


def test_xoauth2_runs_the_token_command_again_when_the_token_is_refused(
    tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]
) -> None:
    # The fixture's Dovecot checks an XOAUTH2 token like a password. This token command hands
    # out an expired token first (as a cached one would be), then a fresh one.
    issued = tmp_path / "issued"
    script = (f'if [ -e "{issued}" ]; then echo {imap_user.password}; '
              f'else touch "{issued}"; echo expired-token; fi')
    home = tmp_path / "ws"
    table = imap_user.mailbox_config(auth="xoauth2", oauth2_token_command=["sh", "-c", script])
    del table["password_command"]
    write_config(home, [table])
    imap_user.append([make_message(1)])

    code, _out, err = run_sync(home, capsys)

    assert (code, err) == (0, "")
    assert len(stored(home)) == 1


@pytest.mark.parametrize("security", ["plain", "starttls", "tls"])
def test_the_connection_probes_a_silent_peer_with_tcp_keepalive(
    imap_user: DovecotUser, security: str
) -> None:
    # A network gone without a FIN or RST is otherwise only noticed when IDLE is renewed
    # (25 min): keepalive probes make the kernel fail the socket within ~2 minutes.
    server = imap_user.server
    port = server.tls_port if security == "tls" else server.plain_port
    cfg = parse_mailbox(imap_user.mailbox_config(security=security, port=port,
                                                 ca_file=str(server.ca_file)), 1)
    client = connect(cfg)
    try:
        sock = client.socket()
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        for name, seconds in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
            if hasattr(socket, name):
                assert sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name)) == seconds
        assert client.noop()  # still a working, logged-in connection
    finally:
        close(client)


def _rapport(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rapport.tui.cli.main", *args, "--home",
                           str(home)], env=env, capture_output=True, text=True, timeout=60)


def _keyring_table(user: DovecotUser, name: str) -> dict[str, object]:
    table = user.mailbox_config(name)
    del table["password_command"]
    table["keyring"] = True
    return table


def test_keyring_true_logs_in_with_the_password_the_user_stored(
    tmp_path: Path, imap_user: DovecotUser
) -> None:
    # A real backend: keyrings.alt's file keyring under this test's XDG_DATA_HOME, chosen the
    # way a user would, and filled with the command the README gives.
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
           "XDG_DATA_HOME": str(tmp_path / "xdg-data")}
    subprocess.run([sys.executable, "-m", "keyring", "set", "rapport", imap_user.name],
                   input=imap_user.password, env=env, check=True, capture_output=True, text=True)
    home = tmp_path / "ws"
    write_config(home, [_keyring_table(imap_user, "kr")])
    imap_user.append([make_message(1)])

    done = _rapport(home, env, "sync", "-q")

    assert (done.returncode, done.stderr) == (0, "")
    assert len(stored(home)) == 1
    assert (tmp_path / "xdg-data" / "python_keyring").is_dir()
    for path in home.rglob("*"):  # Rapport stored no copy of the password
        assert not path.is_file() or imap_user.password.encode() not in path.read_bytes()


def test_keyring_without_a_backend_or_an_entry_fails_that_mailbox_only(
    tmp_path: Path, imap_user: DovecotUser
) -> None:
    home = tmp_path / "ws"
    write_config(home, [_keyring_table(imap_user, "kr"), imap_user.mailbox_config("good")])
    imap_user.append([make_message(1)])
    no_backend = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    empty = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
             "XDG_DATA_HOME": str(tmp_path / "empty-xdg")}

    failed = _rapport(home, no_backend, "sync", "-q")
    missing = _rapport(home, empty, "sync", "-q")

    assert failed.returncode == 1
    assert len(failed.stderr.splitlines()) == 1
    assert failed.stderr.startswith("rapport: mailbox 'kr': keyring unavailable: No recommended "
                                    "backend was available.")
    assert missing.returncode == 1
    assert missing.stderr == (f"rapport: mailbox 'kr': no password in the keyring; run: keyring "
                              f"set rapport {imap_user.name}\n")
    assert len(stored(home)) == 1  # the other mailbox still synced


def test_ca_file_is_trusted_in_addition_to_the_system_store(imap_user: DovecotUser) -> None:
    from rapport.mail.sync.imap import ssl_context

    system = ssl_context().get_ca_certs()
    with_company_ca = ssl_context(str(imap_user.server.ca_file)).get_ca_certs()
    assert system  # the system store is loaded (ca-certificates)
    assert len(with_company_ca) == len(system) + 1
    assert any(dict(c[0] for c in cert["subject"]).get("commonName") == "Rapport Test CA"
               for cert in with_company_ca)


@pytest.mark.parametrize("value", ["-5", "0", "inf", "nan", "1e400", '"soon"'])
def test_a_mailbox_timeout_out_of_bounds_is_one_line(tmp_path, value: str) -> None:
    home = tmp_path / "ws"
    home.mkdir()
    (home / "config.toml").write_text(
        '[[mailbox]]\nname = "work"\nhost = "127.0.0.1"\nsecurity = "plain"\nusername = "u"\n'
        f'password_command = ["true"]\ntimeout = {value}\n')
    done = subprocess.run([sys.executable, "-m", "rapport.tui.cli.main", "--home", str(home), "sync"],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "timeout" in done.stderr and "Traceback" not in done.stderr
