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

import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from rapport.mail.config import SmtpConfig, resolve_password
from rapport.store.errors import ConfigError, RapportError

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_PORTS = {"tls": 465, "starttls": 587, "plain": 25}


class SendError(RapportError):
    """The SMTP server refused or could not be reached; the message says which and why."""


class MessageRefused(SendError):
    """The server refused this one message (or every recipient of it); the session still works,
    so a run of many messages goes on with the next one."""


class PartlyRefused(SendError):
    """Delivered to some recipients and refused for others: the message went out, never resend."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "tls"
    username: str = ""
    password_command: tuple[str, ...] = ()
    keyring: bool = False
    ca_file: str = ""
    timeout: float = 30.0


def smtp_settings(raw_config: dict[str, Any]) -> SmtpSettings | None:
    """`[smtp]` of config.toml (Config.raw), or None when there is none."""
    table = raw_config.get("smtp")
    if table is None:
        return None
    if not isinstance(table, dict) or not isinstance(table.get("host"), str) or not table["host"]:
        raise ConfigError("[smtp] needs a host")
    security = table.get("security", "tls")
    if security not in DEFAULT_PORTS:
        raise ConfigError("[smtp] security must be tls, starttls or plain")
    if security == "plain" and table["host"] not in LOCAL_HOSTS:
        raise ConfigError("[smtp] security = \"plain\" is only allowed to localhost")
    command = table.get("password_command", ())
    if isinstance(command, str):
        raise ConfigError("[smtp] password_command must be a list like [\"pass\", \"show\", \"smtp\"]")
    try:
        port = int(table.get("port", DEFAULT_PORTS[security]))
    except (TypeError, ValueError) as exc:
        raise ConfigError("[smtp] port must be a number") from exc
    return SmtpSettings(
        host=table["host"],
        port=port,
        security=security,
        username=str(table.get("username", "")),
        password_command=tuple(str(part) for part in command),
        keyring=bool(table.get("keyring", False)),
        ca_file=str(table.get("ca_file", "")),
        timeout=float(table.get("timeout", 30)),
    )


def resolve_smtp_password(settings: SmtpSettings) -> str:
    """The password from password_command (first line) or the keyring, as for a mailbox."""
    # One resolution path for IMAP and SMTP secrets: mail/config.py's resolve_password.
    return resolve_password(SmtpConfig(
        host=settings.host, port=settings.port, security=settings.security,
        username=settings.username, password_command=settings.password_command,
        keyring=settings.keyring, ca_file=settings.ca_file, name="smtp"))


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    if settings.ca_file and not Path(settings.ca_file).expanduser().is_file():
        raise ConfigError(f"[smtp] ca_file {settings.ca_file} does not exist")
    cafile = str(Path(settings.ca_file).expanduser()) if settings.ca_file else ""
    from rapport.mail.imap import ssl_context  # the same trust rule as IMAP: system store + CA

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
                self._client.login(self.settings.username, resolve_smtp_password(self.settings))
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
        """Send `msg` to its To/Cc (smtplib reads the envelope from the headers)."""
        self._send(lambda client: client.send_message(msg))

    def send_raw(self, sender: str, recipients: tuple[str, ...], raw: bytes) -> None:
        """Send composed bytes as they are (compose.Composed): no EmailMessage needed."""
        self._send(lambda client: client.sendmail(sender, list(recipients), raw))

    def _send(self, deliver: Callable[[smtplib.SMTP], dict]) -> None:
        assert self._client is not None, "use SmtpSender as a context manager"
        try:
            refused = deliver(self._client)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MessageRefused(
                f"SMTP refused every recipient: {', '.join(exc.recipients)}") from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise MessageRefused(f"SMTP {self.settings.host}: {_describe(exc)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP {self.settings.host}: {_describe(exc)}") from exc
        if refused:
            raise PartlyRefused(f"SMTP refused recipient(s): {', '.join(sorted(refused))}")

    def _close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            self._client = None

    def __exit__(self, *exc_info: object) -> None:
        self._close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {' '.join(text.split())}"
    return " ".join(str(exc).split()) or type(exc).__name__


def send_email(settings: SmtpSettings, msg: EmailMessage) -> None:
    """Send one message in its own session."""
    with SmtpSender(settings) as sender:
        sender.send(msg)
