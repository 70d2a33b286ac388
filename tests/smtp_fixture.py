"""Provides a real SMTP server (aiosmtpd) on 127.0.0.1 for the sending tests, with optional STARTTLS+AUTH."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER, SMTP_PASSWORD = "sam", "smtp-secret"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    # The connection breaks at RCPT TO (nothing sent) or after the message was taken but
    # before the 250 (it went out; the client cannot know), for these addresses, once each.
    hang_up_at_rcpt: set[str] = field(default_factory=set)
    hang_up_after_data: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if address.lower() in self.refuse:
            return "550 no such user here"
        if address.lower() in self.hang_up_at_rcpt:
            self.hang_up_at_rcpt.discard(address.lower())
            server.transport.abort()
            return "250 OK"  # never reaches the client
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        hang_up = {a.lower() for a in envelope.rcpt_tos} & self.hang_up_after_data
        if hang_up:
            self.hang_up_after_data -= hang_up
            server.transport.abort()
        return "250 Message accepted"


def _authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN201
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok)


@dataclass
class SmtpServer:
    controller: Controller
    handler: _Handler
    port: int

    @property
    def received(self) -> list[Received]:
        return self.handler.received


def start_smtp(tls_files: tuple[Path, Path] | None = None, *,
               implicit_tls: bool = False) -> SmtpServer:
    """Plain; with `tls_files` (certificate, key) STARTTLS required before AUTH, or with
    `implicit_tls` TLS from the first byte (SMTPS, port 465 style)."""
    handler = _Handler()
    kwargs: dict[str, object] = {}
    if tls_files is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
        if implicit_tls:
            # aiosmtpd only counts STARTTLS as TLS for auth_require_tls: the whole session is.
            kwargs = dict(ssl_context=context, authenticator=_authenticator,
                          auth_require_tls=False)
        else:
            kwargs = dict(tls_context=context, require_starttls=True,
                          authenticator=_authenticator, auth_require_tls=True)
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return SmtpServer(controller, handler, port)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1 that keeps what it receives."""
    server = start_smtp()
    yield server
    server.controller.stop()
