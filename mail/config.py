"""Provides the `[[mailbox]]`, `[[maildir]]` and `[smtp]` tables of config.toml, and secrets.

Rapport never stores a password: it runs `password_command` (no shell, first line of stdout),
or asks the system keyring (service "rapport", user = the mailbox's username:
`keyring set rapport USERNAME`), or for `auth = "xoauth2"` runs
`oauth2_token_command` at every connection so the token is always fresh.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapport.store.config import Config, refuse_unknown_keys
from rapport.store.errors import ConfigError

SECURITIES = ("tls", "starttls", "plain")
AUTHS = ("login", "xoauth2")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORTS = {"tls": 993, "starttls": 143, "plain": 143}
KEYRING_SERVICE = "rapport"
COMMAND_TIMEOUT = 60
MAILBOX_KEYS = ("name", "host", "port", "security", "username", "password_command", "keyring",
                "auth", "oauth2_token_command", "ca_file", "tls_verify", "folders", "timeout")
MAILDIR_KEYS = ("name", "path")
SMTP_PORTS = {"tls": 465, "starttls": 587, "plain": 25}
SMTP_KEYS = ("host", "port", "security", "username", "password_command", "keyring", "ca_file",
             "timeout")


@dataclass(frozen=True)
class MailboxConfig:
    """One IMAP account. `folders` empty means INBOX plus SPECIAL-USE Sent and Drafts."""

    name: str
    host: str
    username: str
    port: int = 993
    security: str = "tls"
    password_command: tuple[str, ...] = ()
    keyring: bool = False
    auth: str = "login"
    oauth2_token_command: tuple[str, ...] = ()
    ca_file: str = ""
    tls_verify: bool = True
    folders: tuple[str, ...] = ()
    timeout: float = 30.0


@dataclass(frozen=True)
class MaildirConfig:
    """A local Maildir root ingested like a mailbox (its own cur/new is INBOX)."""

    name: str
    path: Path


@dataclass(frozen=True)
class SmtpSettings:
    """The `[smtp]` server: where drafts and announcements are sent; secrets resolve like a
    mailbox's. `port` has no default here: smtp_settings picks it from `security`."""

    host: str
    port: int
    security: str = "tls"
    username: str = ""
    password_command: tuple[str, ...] = ()
    keyring: bool = False
    ca_file: str = ""
    timeout: float = 30.0


def _command(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {key}: {exc}") from exc
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = list(value)
    else:
        raise ConfigError(f"{where}: {key} must be a string or a list of strings")
    if not parts:
        raise ConfigError(f"{where}: {key} is empty")
    return tuple(parts)


def _security(table: dict[str, Any], where: str, host: str) -> str:
    security = str(table.get("security", "tls")).lower()
    if security not in SECURITIES:
        raise ConfigError(f"{where}: security must be tls, starttls or plain, not {security!r}")
    if security == "plain" and host.lower() not in LOCAL_HOSTS:
        raise ConfigError(
            f"{where}: security = \"plain\" is only allowed to 127.0.0.1/localhost "
            f"(host is {host!r}); use tls or starttls"
        )
    return security


def _port(table: dict[str, Any], where: str, default: int) -> int:
    try:
        port = int(table.get("port", default))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: port must be a number") from exc
    if not 0 < port < 65536:
        raise ConfigError(f"{where}: port {port} is out of range")
    return port


def parse_mailbox(table: Any, position: int) -> MailboxConfig:
    """One `[[mailbox]]` table, refused with a one-line ConfigError when incomplete or unsafe."""
    if not isinstance(table, dict):
        raise ConfigError(f"[[mailbox]] {position}: must be a table")
    name = str(table.get("name") or "").strip()
    where = f"[[mailbox]] {name!r}" if name else f"[[mailbox]] {position}"
    if not name:
        raise ConfigError(f"{where}: needs a name")
    refuse_unknown_keys(table, MAILBOX_KEYS, f"in {where}")
    host = str(table.get("host") or "").strip()
    username = str(table.get("username") or "").strip()
    if not host:
        raise ConfigError(f"{where}: needs a host")
    if not username:
        raise ConfigError(f"{where}: needs a username")
    security = _security(table, where, host)
    auth = str(table.get("auth", "login")).lower()
    if auth not in AUTHS:
        raise ConfigError(f"{where}: auth must be login or xoauth2, not {auth!r}")
    password_command = _command(table.get("password_command"), where, "password_command")
    token_command = _command(table.get("oauth2_token_command"), where, "oauth2_token_command")
    use_keyring = bool(table.get("keyring", False))
    if auth == "xoauth2" and not token_command:
        raise ConfigError(f"{where}: auth = \"xoauth2\" needs oauth2_token_command")
    if auth == "login" and not password_command and not use_keyring:
        raise ConfigError(
            f"{where}: needs password_command or keyring = true (Rapport never stores a password)"
        )
    folders = table.get("folders", [])
    if isinstance(folders, str):
        folders = [folders]
    if not isinstance(folders, list) or not all(isinstance(f, str) and f for f in folders):
        raise ConfigError(f"{where}: folders must be a list of folder names")
    ca_file = str(table.get("ca_file") or "")
    if ca_file:
        ca_path = Path(ca_file).expanduser()
        if not ca_path.is_file():
            raise ConfigError(f"{where}: ca_file {ca_file} does not exist")
        ca_file = str(ca_path)
    timeout = parse_timeout(table, where)
    return MailboxConfig(
        name=name,
        host=host,
        username=username,
        port=_port(table, where, DEFAULT_PORTS[security]),
        security=security,
        password_command=password_command,
        keyring=use_keyring,
        auth=auth,
        oauth2_token_command=token_command,
        ca_file=ca_file,
        tls_verify=bool(table.get("tls_verify", True)),
        folders=tuple(folders),
        timeout=timeout,
    )


def mailbox_configs(config: Config) -> list[MailboxConfig]:
    """Every `[[mailbox]]` of the workspace config, in file order; names must be unique."""
    raw = config.raw.get("mailbox", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError("[[mailbox]] must be an array of tables")
    boxes = [parse_mailbox(table, i + 1) for i, table in enumerate(raw)]
    seen: set[str] = set()
    for box in boxes:
        if box.name.casefold() in seen:
            raise ConfigError(f"[[mailbox]] {box.name!r} is listed twice")
        seen.add(box.name.casefold())
    maildir_configs(config)  # a [[maildir]] named as a mailbox is refused there
    return boxes


def maildir_configs(config: Config) -> list[MaildirConfig]:
    """Every `[[maildir]]` (name defaults to the folder's name)."""
    raw = config.raw.get("maildir", [])
    if isinstance(raw, dict):
        raw = [raw]
    result = []
    for i, table in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(table, dict) or not table.get("path"):
            raise ConfigError(f"[[maildir]] {i + 1}: needs a path")
        refuse_unknown_keys(table, MAILDIR_KEYS, f"in [[maildir]] {i + 1}")
        path = Path(str(table["path"])).expanduser()
        result.append(MaildirConfig(name=str(table.get("name") or path.name), path=path))
    _check_source_names(config, result)
    return result


def smtp_settings(raw_config: dict[str, Any]) -> SmtpSettings | None:
    """`[smtp]` of config.toml (Config.raw), or None when there is none."""
    table = raw_config.get("smtp")
    if table is None:
        return None
    if not isinstance(table, dict) or not isinstance(table.get("host"), str) or not table["host"]:
        raise ConfigError("[smtp] needs a host")
    refuse_unknown_keys(table, SMTP_KEYS, "in [smtp]")
    security = table.get("security", "tls")
    if security not in SMTP_PORTS:
        raise ConfigError("[smtp] security must be tls, starttls or plain")
    if security == "plain" and table["host"] not in LOCAL_HOSTS:
        raise ConfigError("[smtp] security = \"plain\" is only allowed to localhost")
    command = table.get("password_command", ())
    if isinstance(command, str):
        raise ConfigError("[smtp] password_command must be a list like [\"pass\", \"show\", \"smtp\"]")
    try:
        port = int(table.get("port", SMTP_PORTS[security]))
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
        timeout=parse_timeout(table, "[smtp]"),
    )


def _check_source_names(config: Config, maildirs: list[MaildirConfig]) -> None:
    """Source names are unique across [[mailbox]] and [[maildir]] (case-insensitive): the
    store keys folders by source name, so two sources of one name would delete each other's
    mail at every sync. The error names both entries."""
    raw = config.raw.get("mailbox", [])
    tables = [raw] if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    owners: dict[str, str] = {}
    for table in tables:
        if isinstance(table, dict) and table.get("name"):
            name = str(table["name"])
            owners.setdefault(name.casefold(), f"[[mailbox]] {name!r} ({table.get('host', '')})")
    for source in maildirs:
        this = f"[[maildir]] {source.name!r} ({source.path})"
        first = owners.get(source.name.casefold())
        if first is not None:
            raise ConfigError(f"{this} has the same name as {first}: source names must be "
                              "unique; give one of them another name = \"...\"")
        owners[source.name.casefold()] = this


def parse_timeout(table: dict[str, Any], where: str) -> float:
    """`timeout` of a [[mailbox]] or [smtp] table: seconds from 1 to 3600 (default 30)."""
    try:
        timeout = float(table.get("timeout", 30))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{where}: timeout must be a number of seconds") from exc
    if not 1 <= timeout <= 3600:  # also refuses nan and inf
        raise ConfigError(f"{where}: timeout must be from 1 to 3600 seconds, not {table['timeout']}")
    return timeout


class SecretUnavailable(ConfigError):
    """The password or token config.toml points to could not be had when asked for (the command
    failed, the keyring is locked or empty): not bad input but a failure at run time, so exit 1,
    as the sync reports the same failure (CredentialsUnavailable)."""

    exit_code = 1


def run_secret_command(argv: tuple[str, ...], what: str) -> str:
    """Run argv without a shell and return the first line of stdout; SecretUnavailable otherwise."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError as exc:
        raise SecretUnavailable(f"{what}: command not found: {argv[0]}") from exc
    except PermissionError as exc:
        raise SecretUnavailable(f"{what}: cannot run {argv[0]}: permission denied") from exc
    except subprocess.TimeoutExpired as exc:
        raise SecretUnavailable(f"{what}: {argv[0]} did not finish within {COMMAND_TIMEOUT} s") from exc
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        detail = f": {err[-1][:200]}" if err else ""
        raise SecretUnavailable(f"{what}: {argv[0]} exited with status {done.returncode}{detail}")
    lines = done.stdout.decode(errors="replace").splitlines()
    if not lines or not lines[0]:
        raise SecretUnavailable(f"{what}: {argv[0]} printed nothing")
    return lines[0]


def resolve_password(cfg: MailboxConfig | SmtpSettings) -> str:
    """The password from password_command, else from the keyring (service "rapport", username)."""
    where = f"mailbox {cfg.name!r}" if isinstance(cfg, MailboxConfig) else "[smtp]"
    if cfg.password_command:
        return run_secret_command(cfg.password_command, f"{where} password_command")
    if cfg.keyring:
        # Imported here: loading keyring discovers its backends, which only these mailboxes need.
        import keyring
        from keyring.errors import KeyringError

        try:
            secret = keyring.get_password(KEYRING_SERVICE, cfg.username)
        except KeyringError as exc:
            raise SecretUnavailable(f"{where}: keyring unavailable: {exc}") from exc
        if not secret:
            raise SecretUnavailable(
                f"{where}: no password in the keyring; "
                f"run: keyring set {KEYRING_SERVICE} {cfg.username}"
            )
        return secret
    raise ConfigError(f"{where}: no password_command and keyring is off")


def resolve_oauth2_token(cfg: MailboxConfig) -> str:
    """A fresh access token: the command is run at every connection, so expiry never bites."""
    return run_secret_command(cfg.oauth2_token_command, f"mailbox {cfg.name!r} oauth2_token_command")
