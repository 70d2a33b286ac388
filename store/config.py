"""Provides config.toml: reading it (one-line errors) and the default written into new workspaces.

The store reads `[me]`, `[pipeline]`, `[money]` and `stale_after_days`; `[[mailbox]]`,
`[[maildir]]`, `[smtp]` and `[announce]` are kept raw in `Config.raw` for the mail layer to
interpret.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rapport.store.book.stages import DEFAULT_LOST_REASONS, DEFAULT_STAGES, Pipeline, Stage
from rapport.store.errors import ConfigError
from rapport.store.money.rates import MoneySettings, parse_money

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
    money: MoneySettings = field(default_factory=MoneySettings)
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
# Why a deal is lost (asked when one is marked lost; the report counts them).
lost_reasons = [{", ".join(f'"{r}"' for r in DEFAULT_LOST_REASONS)}]

# [money]
# base = "EUR"                          # totals are in this currency (default: the book's most used)
# rates = {{ USD = 0.92, JPY = 0.0061 }}  # one unit's value in base; `rapport rates set USD 0.92`

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


# Every key the loader knows, per table: a typo (`stale_after_day`) is refused, not ignored.
# [[mailbox]], [[maildir]] and [smtp] are the mail layer's to check (with refuse_unknown_keys).
TOP_LEVEL_KEYS = ("stale_after_days", "sync_interval_minutes", "me", "pipeline", "money",
                  "mailbox", "maildir", "smtp", "announce", "attachments_dir", "open_command",
                  "attachment_limit_mb")
ME_KEYS = ("name", "email", "addresses", "signature")
PIPELINE_KEYS = ("stages", "stale_after_days", "lost_reasons")
STAGE_KEYS = ("name", "probability", "rotting_days", "kind")

# Upper bounds keep date arithmetic (today - N days) and timer seconds far from overflow.
MAX_DAYS = 36_500
MAX_SYNC_INTERVAL_MINUTES = 10_080


def _whole_number(value: Any, what: str, *, minimum: int, maximum: int) -> int:
    """`value` as an int in minimum..maximum; ConfigError naming `what` otherwise (inf, 1.5, "x")."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    if number is None:
        raise ConfigError(f"{what} must be a whole number, not {value!r}")
    if not minimum <= number <= maximum:
        raise ConfigError(f"{what} must be between {minimum} and {maximum}, not {number}")
    return number


def refuse_unknown_keys(table: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    """ConfigError naming the first key of `table` not in `known` (`where`: "in [me]")."""
    unknown = [key for key in table if key not in known]
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} {where}; known keys: {', '.join(known)}")


def _stage_name(value: Any, position: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"[pipeline] stage {position}: needs a name")
    name = " ".join(value.split())
    if any(not char.isprintable() for char in name):
        raise ConfigError(f"[pipeline] stage {position}: name {value!r} has control characters")
    return name


def _parse_stage(item: Any, position: int) -> Stage:
    defaults = {s.name.casefold(): s for s in DEFAULT_STAGES}
    if isinstance(item, str):
        name = _stage_name(item, position)
        base = defaults.get(name.casefold())
        if base:
            return Stage(name, base.probability, base.rotting_days, base.kind)
        return Stage(name, 0, 0)
    if not isinstance(item, dict):
        raise ConfigError(f"[pipeline] stage {position}: needs a name")
    name = _stage_name(item.get("name"), position)
    refuse_unknown_keys(item, STAGE_KEYS, f"in [pipeline] stage {name!r}")
    base = defaults.get(name.casefold(), Stage(name, 0, 0))
    kind = item.get("kind", base.kind)
    if kind not in ("open", "won", "lost"):
        raise ConfigError(f"[pipeline] stage {name!r}: kind must be open, won or lost")
    probability = item.get("probability", base.probability)
    if isinstance(probability, bool) or not isinstance(probability, int | float):
        raise ConfigError(f"[pipeline] stage {name!r}: probability must be a number (percent)")
    if not 0 <= probability <= 100:  # also refuses nan and inf
        raise ConfigError(f"[pipeline] stage {name!r}: probability must be 0-100, not {probability}")
    rotting = _whole_number(item.get("rotting_days", base.rotting_days),
                            f"[pipeline] stage {name!r}: rotting_days", minimum=0, maximum=MAX_DAYS)
    return Stage(name, float(probability), rotting, kind)


def _text(table: dict[str, Any], key: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"[me] {key} must be a string, not {value!r}")
    return value


def _addresses(me_raw: dict[str, Any]) -> tuple[str, ...]:
    addresses = me_raw.get("addresses", [])
    if isinstance(addresses, str):
        addresses = [addresses]
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise ConfigError(f"[me] addresses must be a list of addresses, not {addresses!r}")
    return tuple(addresses)


def _lost_reasons(value: Any) -> tuple[str, ...]:
    """`[pipeline] lost_reasons`: the reasons a deal can be lost for (the defaults if absent)."""
    if value is None:
        return DEFAULT_LOST_REASONS
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError("[pipeline] lost_reasons must be a non-empty list of words")
    reasons = tuple(dict.fromkeys(" ".join(v.split()) for v in value if v.strip()))
    if not reasons or any(len(r) > 40 or not r.isprintable() for r in reasons):
        raise ConfigError("[pipeline] lost_reasons: each reason is a short printable text")
    return reasons


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    """Turn parsed TOML into a Config, refusing impossible values with one-line errors."""
    refuse_unknown_keys(data, TOP_LEVEL_KEYS, "at the top level")
    me_raw = data.get("me", {})
    if not isinstance(me_raw, dict):
        raise ConfigError("[me] must be a table")
    refuse_unknown_keys(me_raw, ME_KEYS, "in [me]")
    me = Me(
        name=_text(me_raw, "name"),
        email=_text(me_raw, "email"),
        signature=_text(me_raw, "signature").strip("\n"),
        addresses=_addresses(me_raw),
    )
    pipeline_raw = data.get("pipeline", {})
    if not isinstance(pipeline_raw, dict):
        raise ConfigError("[pipeline] must be a table")
    refuse_unknown_keys(pipeline_raw, PIPELINE_KEYS, "in [pipeline]")
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
    pipeline = replace(pipeline, lost_reasons=_lost_reasons(pipeline_raw.get("lost_reasons")))
    stale = pipeline_raw.get("stale_after_days", data.get("stale_after_days"))
    stale_days = DEFAULT_STALE_AFTER_DAYS if stale is None else _whole_number(
        stale, "stale_after_days", minimum=0, maximum=MAX_DAYS)
    interval_minutes = _whole_number(
        data.get("sync_interval_minutes", DEFAULT_SYNC_INTERVAL_MINUTES), "sync_interval_minutes",
        minimum=1, maximum=MAX_SYNC_INTERVAL_MINUTES)
    return Config(
        me=me,
        pipeline=pipeline,
        stale_after_days=stale_days,
        sync_interval_minutes=interval_minutes,
        money=parse_money(data.get("money")),
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
    try:
        return parse_config(data, path)
    except ConfigError as exc:  # name the file, as a TOML error does
        raise ConfigError(f"{path}: {exc.message}") from exc
