"""Provides sending through the `[smtp]` server of config.toml with smtplib (TLS verified by default).

```toml
[smtp]
host = "smtp.example.com"
port = 465
security = "tls"            # tls | starttls | plain (plain: localhost only)
username = "me@example.com"
password_command = ["pass", "show", "mail/smtp"]
# ca_file = "/path/to/ca.pem"
```
The password is never stored: it comes from `password_command` (run without a shell) or the
system keyring (`keyring = true`), resolved only when a login is needed.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import NoReturn

from rapport.mail.config import SmtpSettings, resolve_password
from rapport.store.errors import ConfigError, RapportError


class SendError(RapportError):
    """The SMTP server refused or could not be reached; the message says which and why."""


class MessageRefused(SendError):
    """The server refused this one message (or every recipient of it); the session still works,
    so a run of many messages goes on with the next one."""


class PartlyRefused(SendError):
    """Delivered to some recipients and refused for others: the message went out, never resend."""


class MaybeSent(SendError):
    """The connection broke while the message itself was being transferred or confirmed: it
    may have gone out, so it must not be sent again without asking."""


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    if settings.ca_file and not Path(settings.ca_file).expanduser().is_file():
        raise ConfigError(f"[smtp] ca_file {settings.ca_file} does not exist")
    cafile = str(Path(settings.ca_file).expanduser()) if settings.ca_file else ""
    from rapport.mail.sync.imap import ssl_context  # the same trust rule as IMAP: system store + CA

    return ssl_context(cafile)


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                context=_tls_context(settings))
    client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    if settings.security == "starttls":
        client.starttls(context=_tls_context(settings))
        client.ehlo()
    return client


class SmtpSender:
    """One SMTP session for many messages (announcements); use as a context manager."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        where = f"{self.settings.host}:{self.settings.port}"
        try:
            self._client = _connect(self.settings)
            if self.settings.username:
                self._client.login(self.settings.username, resolve_password(self.settings))
        except RapportError:
            self._close()
            raise
        except smtplib.SMTPAuthenticationError as exc:
            self._close()
            raise SendError(f"SMTP {where}: login refused for {self.settings.username}") from exc
        except ssl.SSLError as exc:
            self._close()
            raise SendError(f"SMTP {where}: TLS failed: {exc.reason or exc}") from exc
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            self._close()
            raise SendError(f"SMTP {where}: {_describe(exc)}") from exc
        return self

    def send(self, msg: EmailMessage) -> None:
        """Send `msg` from its From to its To/Cc, through send_raw (one path, one set of errors)."""
        sender = getaddresses([str(msg["From"] or "")])[0][1]
        recipients = tuple(addr for _, addr in getaddresses(
            [str(value) for name in ("To", "Cc") for value in msg.get_all(name, [])]) if addr)
        self.send_raw(sender, recipients, msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))

    def send_raw(self, sender: str, recipients: tuple[str, ...], raw: bytes) -> None:
        """Send composed bytes as they are (compose.Composed), step by step as smtplib's
        sendmail does, so a failure says whether the message can have gone out: before DATA
        it cannot (SendError, MessageRefused), during the transfer it may (MaybeSent)."""
        assert self._client is not None, "use SmtpSender as a context manager"
        client, host = self._client, self.settings.host
        try:
            refused = self._envelope(client, sender, recipients, len(raw))
            code, reply = client.docmd("DATA")
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP {host}: {_describe(exc)}") from exc
        if code != 354:
            self._refused(client, code, reply)
        try:
            code, reply = _transfer(client, raw)
        except (smtplib.SMTPException, OSError) as exc:
            raise MaybeSent(f"SMTP {host}: {_describe(exc)} while sending the message") from exc
        if code != 250:
            self._refused(client, code, reply)
        if refused:
            raise PartlyRefused(f"SMTP refused recipient(s): {', '.join(sorted(refused))}")

    def _envelope(self, client: smtplib.SMTP, sender: str, recipients: tuple[str, ...],
                  size: int) -> list[str]:
        """MAIL FROM and RCPT TO; the recipients refused (MessageRefused when all are)."""
        client.ehlo_or_helo_if_needed()
        options = [f"size={size}"] if client.does_esmtp and client.has_extn("size") else []
        code, reply = client.mail(sender, options)
        if code != 250:
            self._refused(client, code, reply)
        refused = []
        for recipient in recipients:
            code, reply = client.rcpt(recipient)
            if code == 421:
                self._refused(client, code, reply)
            if code not in (250, 251):
                refused.append(recipient)
        if len(refused) == len(recipients):
            client.rset()
            raise MessageRefused(f"SMTP refused every recipient: {', '.join(refused)}")
        return refused

    def _refused(self, client: smtplib.SMTP, code: int, reply: bytes) -> NoReturn:
        """The server said no to this message: MessageRefused, the session goes on; 421 means
        it is closing the session: SendError."""
        text = f"SMTP {self.settings.host}: {_describe(smtplib.SMTPResponseException(code, reply))}"
        if code == 421:
            client.close()
            raise SendError(text)
        try:
            client.rset()
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(text) from exc
        raise MessageRefused(text)

    def _close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            self._client = None

    def __exit__(self, *exc_info: object) -> None:
        self._close()


def _transfer(client: smtplib.SMTP, raw: bytes) -> tuple[int, bytes]:
    """The message after DATA's 354, dot-stuffed and ended with CRLF.CRLF, as smtplib's data()."""
    body = _LEADING_DOT.sub(b"..", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    client.send(body + b".\r\n")
    return client.getreply()


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {' '.join(text.split())}"
    return " ".join(str(exc).split()) or type(exc).__name__


def send_email(settings: SmtpSettings, msg: EmailMessage) -> None:
    """Send one message in its own session."""
    with SmtpSender(settings) as sender:
        sender.send(msg)
