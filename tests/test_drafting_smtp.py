"""Sending through a real aiosmtpd server on 127.0.0.1: plain (localhost), STARTTLS + AUTH, refusals."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from smtp_fixture import SMTP_PASSWORD, SMTP_USER, SmtpServer, start_smtp

from rapport.mail.config import SmtpSettings, resolve_password, smtp_settings
from rapport.mail.draft.render import Draft
from rapport.mail.send.compose import build_email, new_draft
from rapport.mail.send.smtp import SendError, send_email
from rapport.store.config import Me
from rapport.store.errors import ConfigError

pytest_plugins = ["smtp_fixture"]

ME = Me(name="Zoë Müller", email="zoe@rapport.example", signature="Zoë")


def _email(to: str = "Alice <alice@acme.example>", cc: str = "bob@acme.example"):
    draft = new_draft(Draft("t", "new", "Prix d'été", to, cc, "Bonjour Alice,\nvoilà.\n"), ME)
    return build_email(draft, ME, message_id="sent-1@rapport.example")


def test_send_plain_to_localhost_is_received(smtp_server: SmtpServer) -> None:
    settings = smtp_settings({"smtp": {"host": "127.0.0.1", "port": smtp_server.port,
                                       "security": "plain"}})
    assert settings is not None
    send_email(settings, _email())
    [got] = smtp_server.received
    assert got.sender == "zoe@rapport.example"
    assert sorted(got.recipients) == ["alice@acme.example", "bob@acme.example"]
    assert got.message["Message-ID"] == "<sent-1@rapport.example>"
    assert str(got.message["Subject"]) == "Prix d'été"
    assert got.message.get_content().replace("\r\n", "\n").startswith("Bonjour Alice,\nvoilà.\n")


def test_refused_recipient_is_one_line_error(smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse.add("alice@acme.example")
    settings = SmtpSettings("127.0.0.1", smtp_server.port, "plain")
    with pytest.raises(SendError, match="refused every recipient: alice@acme.example"):
        send_email(settings, _email(cc=""))
    assert smtp_server.received == []


def test_unreachable_server_is_one_line_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SendError, match=f"^SMTP 127.0.0.1:{port}: .*refused"):
        send_email(SmtpSettings("127.0.0.1", port, "plain", timeout=3), _email())


def test_settings_refuse_plain_to_remote_and_bad_values() -> None:
    assert smtp_settings({}) is None
    with pytest.raises(ConfigError, match="only allowed to localhost"):
        smtp_settings({"smtp": {"host": "smtp.example.com", "security": "plain"}})
    with pytest.raises(ConfigError, match="security must be"):
        smtp_settings({"smtp": {"host": "x", "security": "ssl3"}})
    with pytest.raises(ConfigError, match="password_command must be a list"):
        smtp_settings({"smtp": {"host": "x", "password_command": "pass show x"}})
    assert smtp_settings({"smtp": {"host": "x", "security": "starttls"}}).port == 587
    assert smtp_settings({"smtp": {"host": "x"}}) == SmtpSettings("x", 465, "tls")


def test_smtp_secrets_resolve_like_a_mailbox_and_name_smtp() -> None:
    """The [smtp] table's password comes by the mailbox's path, and its errors say [smtp]."""
    with pytest.raises(ConfigError, match=r"^\[smtp\]: no password_command and keyring is off$"):
        resolve_password(SmtpSettings("x", 465, username="me"))
    failing = smtp_settings({"smtp": {"host": "x", "password_command": ["false"]}})
    with pytest.raises(ConfigError, match=r"^\[smtp\] password_command: false exited"):
        resolve_password(failing)
    assert resolve_password(SmtpSettings("x", 465, password_command=("echo", "s3cret"))) == "s3cret"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test CA")
    from dovecot_server import _make_ca

    ca, crt, key = _make_ca(tmp_path_factory.mktemp("smtp-ca"))
    server = start_smtp((crt, key))
    yield server, ca
    server.controller.stop()


def test_starttls_with_verified_ca_and_password_command(tls_server, tmp_path: Path) -> None:
    server, ca = tls_server
    before = len(server.received)
    raw = {"smtp": {"host": "localhost", "port": server.port, "security": "starttls",
                    "username": SMTP_USER, "ca_file": str(ca),
                    "password_command": ["printf", "%s\\n", SMTP_PASSWORD]}}
    send_email(smtp_settings(raw), _email())
    assert len(server.received) == before + 1
    # Without our CA the certificate does not verify: TLS is verified by default.
    unverified = dict(raw["smtp"], ca_file="")
    with pytest.raises(SendError, match="TLS failed|CERTIFICATE_VERIFY_FAILED|certificate"):
        send_email(smtp_settings({"smtp": unverified}), _email())
    failing = dict(raw["smtp"], password_command=["false"])
    with pytest.raises(ConfigError, match="false exited with status 1") as failed:
        send_email(smtp_settings({"smtp": failing}), _email())
    assert failed.value.exit_code == 1  # a failure at run time, not bad input (that is exit 2)
    assert len(server.received) == before + 1


def test_implicit_tls_with_verified_ca(tmp_path_factory: pytest.TempPathFactory) -> None:
    """security = "tls" (the default, port 465 style): TLS from the first byte, verified."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test CA")
    from dovecot_server import _make_ca

    ca, crt, key = _make_ca(tmp_path_factory.mktemp("smtps-ca"))
    server = start_smtp((crt, key), implicit_tls=True)
    try:
        table = {"host": "localhost", "port": server.port, "username": SMTP_USER,
                 "ca_file": str(ca), "password_command": ["printf", "%s\\n", SMTP_PASSWORD]}
        settings = smtp_settings({"smtp": table})
        assert settings is not None and settings.security == "tls"
        send_email(settings, _email())
        assert [r.message["Message-ID"] for r in server.received] == ["<sent-1@rapport.example>"]
        with pytest.raises(SendError, match="TLS failed|CERTIFICATE_VERIFY_FAILED|certificate"):
            send_email(smtp_settings({"smtp": dict(table, ca_file="")}), _email())
        plain = SmtpSettings("127.0.0.1", server.port, "plain", timeout=3)
        with pytest.raises(SendError):  # a plain client never talks to a TLS port in clear
            send_email(plain, _email())
        assert len(server.received) == 1
    finally:
        server.controller.stop()
