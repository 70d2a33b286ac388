"""Provides the IMAP connection: TLS verified by default, login, folder roles, APPEND of drafts.

Every failure to reach or log in to a server becomes one MailError naming the mailbox and the
cause (unknown host, refused, timeout, TLS, wrong password), never a traceback.
"""

from __future__ import annotations

import imaplib
import socket
import ssl
from collections.abc import Iterable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from rapport.mail.config import MailboxConfig, resolve_oauth2_token, resolve_password
from rapport.mail.errors import ConnectionLost, CredentialsUnavailable, MailError
from rapport.store.errors import ConfigError

# Names tried, in order, when the server has no SPECIAL-USE flags (RFC 6154) for a role.
FALLBACK_NAMES = {
    "sent": ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent", "INBOX/Sent",
             "[Gmail]/Sent Mail"),
    "drafts": ("Drafts", "INBOX.Drafts", "INBOX/Drafts", "[Gmail]/Drafts"),
}
SPECIAL_USE = {"sent": b"\\Sent", "drafts": b"\\Drafts"}
# Synced by default too, never written to: a folder holding every message (Gmail's All Mail),
# so mail archived out of INBOX in any client stays in Rapport.
ALL_MAIL = {"all": b"\\All"}

# TCP keepalive: probe after 60 s of silence, every 15 s, give up after 4 unanswered probes. A
# connection whose network vanished without a FIN or RST (NAT timeout, Wi-Fi gone, server
# powered off) then fails within ~2 minutes, instead of at the next IDLE renewal (25 min).
KEEPALIVE = {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 15, "TCP_KEEPCNT": 4}


def ssl_context(ca_file: str = "", verify: bool = True) -> ssl.SSLContext:
    """The system trust store plus `ca_file` (a company CA is trusted as well, not instead),
    hostname checked; `verify=False` is opt-in."""
    # create_default_context(cafile=...) would load that file INSTEAD of the system store.
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe_network_error(exc: BaseException, cfg: MailboxConfig) -> str:
    """A short, human cause for a failure while reaching host:port."""
    where = f"{cfg.host}:{cfg.port}"
    if isinstance(exc, socket.gaierror):
        return f"unknown host {cfg.host!r}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or "certificate not trusted"
        return (f"TLS certificate of {where} not trusted ({reason}); "
                "set ca_file to the server's CA, or tls_verify = false")
    if isinstance(exc, ssl.SSLError):
        return f"TLS failure with {where}: {exc.reason or exc}"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out talking to {where}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(exc, OSError):
        return f"cannot reach {where}: {exc.strerror or exc}"
    return f"{where}: {exc}"


def enable_keepalive(sock: socket.socket) -> None:
    """SO_KEEPALIVE with the KEEPALIVE timings, each where the platform has it (macOS names
    TCP_KEEPIDLE TCP_KEEPALIVE; a platform without them keeps the system's timings)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, seconds in KEEPALIVE.items():
        option = getattr(socket, name, None)
        if option is None and name == "TCP_KEEPIDLE":
            option = getattr(socket, "TCP_KEEPALIVE", None)
        if option is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, option, seconds)
            except OSError:
                pass  # refused by this kernel: its default timing still applies


def _open(cfg: MailboxConfig) -> IMAPClient:
    # Loading the system trust store costs ~30 ms: only when TLS is used.
    context = ssl_context(cfg.ca_file, cfg.tls_verify) if cfg.security != "plain" else None
    client = IMAPClient(
        cfg.host,
        port=cfg.port,
        ssl=cfg.security == "tls",
        ssl_context=context if cfg.security == "tls" else None,
        timeout=cfg.timeout,
    )
    enable_keepalive(client.socket())  # STARTTLS wraps this same socket: the options stay
    if cfg.security == "starttls":
        if not client.has_capability("STARTTLS"):
            client.shutdown()
            raise MailError(f"{cfg.host}:{cfg.port} does not offer STARTTLS", mailbox=cfg.name)
        client.starttls(context)
    return client


def _login(client: IMAPClient, cfg: MailboxConfig, secret: str) -> None:
    if cfg.auth == "xoauth2":
        client.oauth2_login(cfg.username, secret)
    else:
        client.login(cfg.username, secret)


def _secret(cfg: MailboxConfig) -> str:
    """The password or access token; CredentialsUnavailable (one line) when it cannot be had."""
    try:
        return resolve_oauth2_token(cfg) if cfg.auth == "xoauth2" else resolve_password(cfg)
    except ConfigError as exc:
        # config.py's messages start "mailbox 'NAME' ..."; MailError adds that itself.
        cause = exc.message.removeprefix(f"mailbox {cfg.name!r}").lstrip(": ")
        raise CredentialsUnavailable(cause, mailbox=cfg.name) from exc


def _open_checked(cfg: MailboxConfig) -> IMAPClient:
    try:
        return _open(cfg)
    except MailError:
        raise
    except (OSError, imaplib.IMAP4.error, IMAPClientError) as exc:
        cause = exc.__cause__ or exc.__context__ if isinstance(exc, IMAPClientError) else exc
        if isinstance(exc, (imaplib.IMAP4.error, IMAPClientError)) and not isinstance(
            cause, OSError
        ):
            raise MailError(f"{cfg.host}:{cfg.port}: {exc}", mailbox=cfg.name) from exc
        raise MailError(describe_network_error(cause or exc, cfg), mailbox=cfg.name) from exc


def connect(cfg: MailboxConfig) -> IMAPClient:
    """A logged-in IMAPClient with UTC-unaltered times; MailError on failure.

    The secret is resolved first, so a failing password_command or keyring costs no connection
    and fails as CredentialsUnavailable, a MailError like any other.
    """
    secret = _secret(cfg)
    client = _open_checked(cfg)
    try:
        _login(client, cfg, secret)
    except LoginError as exc:
        client.shutdown()
        if cfg.auth != "xoauth2":
            raise MailError(
                f"login failed for {cfg.username!r} (wrong password?): {_server_text(exc)}",
                mailbox=cfg.name,
            ) from exc
        # The token may have expired between the command and the login: one fresh try.
        client = _open_checked(cfg)
        try:
            _login(client, cfg, _secret(cfg))
        except LoginError as again:
            client.shutdown()
            raise MailError(
                f"XOAUTH2 login refused for {cfg.username!r}: {_server_text(again)}",
                mailbox=cfg.name,
            ) from again
    except OSError as exc:
        raise MailError(describe_network_error(exc, cfg), mailbox=cfg.name) from exc
    except BaseException:
        client.shutdown()
        raise
    client.normalise_times = False
    return client


def _server_text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return " ".join(text.split())[:200]


def close(client: IMAPClient) -> None:
    """Log out politely; a dead connection is just dropped."""
    try:
        client.logout()
    except (OSError, imaplib.IMAP4.error, IMAPClientError):
        try:
            client.shutdown()
        except OSError:
            pass


def list_folder_names(client: IMAPClient) -> list[tuple[tuple[bytes, ...], str]]:
    """(flags, name) of every selectable folder."""
    result = []
    for flags, _sep, name in client.list_folders():
        if b"\\Noselect" in flags or b"\\NonExistent" in flags:
            continue
        result.append((tuple(flags), str(name)))
    return result


def find_special_folders(client: IMAPClient,
                         listed: list[tuple[tuple[bytes, ...], str]] | None = None) -> dict[str, str]:
    """{"sent": name, "drafts": name, "all": name} by SPECIAL-USE flags, else (sent, drafts) by
    common names; missing roles absent."""
    listed = list_folder_names(client) if listed is None else listed
    found: dict[str, str] = {}
    for role, flag in {**SPECIAL_USE, **ALL_MAIL}.items():
        for flags, name in listed:
            if flag in flags:
                found[role] = name
                break
    lowered = {name.casefold(): name for _flags, name in listed}
    for role, names in FALLBACK_NAMES.items():
        if role in found:
            continue
        for candidate in names:
            if candidate.casefold() in lowered:
                found[role] = lowered[candidate.casefold()]
                break
    return found


def append_message(cfg: MailboxConfig, folder_role_or_name: str, raw: bytes,
                   flags: Iterable[bytes] = ()) -> str:
    """APPEND `raw` to the folder with that role ("sent", "drafts") or that exact name; the
    folder's name (so the user can be told where to look)."""
    client = connect(cfg)
    try:
        folder = folder_role_or_name
        if folder_role_or_name.lower() in SPECIAL_USE:
            folder = find_special_folders(client).get(folder_role_or_name.lower(), "")
            if not folder:
                raise MailError(
                    f"no {folder_role_or_name} folder on the server (no SPECIAL-USE flag and "
                    "no folder with a usual name)", mailbox=cfg.name)
        try:
            client.append(folder, raw, flags=tuple(flags))
        except (imaplib.IMAP4.error, IMAPClientError) as exc:
            raise MailError(f"cannot append: {_server_text(exc)}", mailbox=cfg.name,
                            folder=folder) from exc
        except OSError as exc:
            raise ConnectionLost(describe_network_error(exc, cfg), mailbox=cfg.name) from exc
        return folder
    finally:
        close(client)


def append_draft(cfg: MailboxConfig, raw: bytes, flags: Iterable[bytes] = (b"\\Draft",)) -> None:
    """Save a draft into the server's Drafts folder (found by SPECIAL-USE)."""
    append_message(cfg, "drafts", raw, flags)
