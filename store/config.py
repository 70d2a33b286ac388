"""Provides config.toml: reading it (one-line errors) and the default written into new workspaces.

The store reads `[me]`, `[pipeline]` and `stale_after_days`; `[[mailbox]]`, `[[maildir]]` and
`[smtp]` are kept raw in `Config.raw` for the mail layer to interpret.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapport.store.errors import ConfigError
from rapport.store.pipeline import DEFAULT_STAGES, Pipeline, Stage

DEFAULT_STALE_AFTER_DAYS = 30
DEFAULT_SYNC_INTERVAL_MINUTES = 5


@dataclass(frozen=True)
class Me:
    """The account manager. `addresses` are every address that is "me" (never matched)."""

    name: str = ""
    email: str = ""
    signature: str = ""
    addresses: tuple[str, ...] = ()

    @property
    def all_addresses(self) -> frozenset[str]:
        found = {a.strip().lower() for a in (self.email, *self.addresses) if a.strip()}
        return frozenset(found)


@dataclass(frozen=True)
class Config:
    me: Me = field(default_factory=Me)
    pipeline: Pipeline = field(default_factory=Pipeline)
    stale_after_days: int = DEFAULT_STALE_AFTER_DAYS
    sync_interval_minutes: int = DEFAULT_SYNC_INTERVAL_MINUTES
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def _stage_lines() -> str:
    rows = []
    for s in DEFAULT_STAGES:
        kind = f', kind = "{s.kind}"' if s.kind != "open" else ""
        rows.append(
            f'  {{ name = "{s.name}", probability = {s.probability:g}, '
            f"rotting_days = {s.rotting_days}{kind} }},"
        )
    return "\n".join(rows)


DEFAULT_CONFIG = f"""\
# Rapport workspace configuration. Reference: README.md, "Configuration".

# Accounts with no contact for this many days are listed as stale on the Today view.
stale_after_days = {DEFAULT_STALE_AFTER_DAYS}
# The TUI syncs mail in the background this often.
sync_interval_minutes = {DEFAULT_SYNC_INTERVAL_MINUTES}

[me]
name = ""
email = ""
# Other addresses that are you: never matched to an account.
addresses = []
signature = \"\"\"
\"\"\"

[pipeline]
# The work cycle, in order. probability: default win chance in percent (weighted value);
# rotting_days: a deal idle that long is flagged (0: never); kind: open | won | lost.
stages = [
{_stage_lines()}
]

# [[mailbox]]
# name = "work"
# host = "imap.example.com"
# port = 993
# security = "tls"                       # tls | starttls | plain (plain: localhost only)
# username = "me@example.com"
# password_command = ["pass", "show", "mail/work"]
# folders = ["INBOX", "Sent", "Drafts"]  # default: INBOX + SPECIAL-USE \\\\Sent and \\\\Drafts

# [[maildir]]
# name = "archive"
# path = "~/Mail/archive"
"""


def _parse_stage(item: Any, position: int) -> Stage:
    defaults = {s.name.casefold(): s for s in DEFAULT_STAGES}
    if isinstance(item, str):
        base = defaults.get(item.casefold())
        if base:
            return Stage(item, base.probability, base.rotting_days, base.kind)
        return Stage(item, 0, 0)
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise ConfigError(f"[pipeline] stage {position}: needs a name")
    name = item["name"]
    base = defaults.get(name.casefold(), Stage(name, 0, 0))
    kind = item.get("kind", base.kind)
    if kind not in ("open", "won", "lost"):
        raise ConfigError(f"[pipeline] stage {name!r}: kind must be open, won or lost")
    try:
        probability = float(item.get("probability", base.probability))
        rotting = int(item.get("rotting_days", base.rotting_days))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[pipeline] stage {name!r}: {exc}") from exc
    if not 0 <= probability <= 100:
        raise ConfigError(f"[pipeline] stage {name!r}: probability must be 0-100")
    return Stage(name, probability, max(rotting, 0), kind)


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    """Turn parsed TOML into a Config, refusing impossible values with one-line errors."""
    me_raw = data.get("me", {})
    if not isinstance(me_raw, dict):
        raise ConfigError("[me] must be a table")
    addresses = me_raw.get("addresses", [])
    if isinstance(addresses, str):
        addresses = [addresses]
    me = Me(
        name=str(me_raw.get("name", "")),
        email=str(me_raw.get("email", "")),
        signature=str(me_raw.get("signature", "")).strip("\n"),
        addresses=tuple(str(a) for a in addresses),
    )
    pipeline_raw = data.get("pipeline", {})
    if not isinstance(pipeline_raw, dict):
        raise ConfigError("[pipeline] must be a table")
    stages_raw = pipeline_raw.get("stages")
    if stages_raw is None:
        pipeline = Pipeline()
    else:
        if not isinstance(stages_raw, list) or not stages_raw:
            raise ConfigError("[pipeline] stages must be a non-empty list")
        stages = tuple(_parse_stage(item, i + 1) for i, item in enumerate(stages_raw))
        seen: set[str] = set()
        for stage in stages:
            if stage.name.casefold() in seen:
                raise ConfigError(f"[pipeline] stage {stage.name!r} is listed twice")
            seen.add(stage.name.casefold())
        pipeline = Pipeline(stages)
    stale = pipeline_raw.get("stale_after_days", data.get("stale_after_days"))
    interval = data.get("sync_interval_minutes", DEFAULT_SYNC_INTERVAL_MINUTES)
    try:
        stale_days = int(stale) if stale is not None else DEFAULT_STALE_AFTER_DAYS
        interval_minutes = int(interval)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"stale_after_days / sync_interval_minutes: {exc}") from exc
    return Config(
        me=me,
        pipeline=pipeline,
        stale_after_days=stale_days,
        sync_interval_minutes=interval_minutes,
        raw=data,
        path=path,
    )


def load_config(path: Path) -> Config:
    """Read config.toml; a missing file means the defaults."""
    if not path.exists():
        return parse_config({}, path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    return parse_config(data, path)
