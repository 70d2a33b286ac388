"""Provides `attachment_settings`: the attachment keys of config.toml.

- `attachments_dir`: where saved attachments go (default: the XDG download folder, else
  ~/Downloads).
- `open_command`: what `o` runs on a saved attachment, the file's path appended (e.g.
  `["xdg-open"]`); unset, `o` says so and saving is the way (over SSH there is no desktop).
- `attachment_limit_mb`: the most a message may carry in attachments (default 20; providers
  commonly refuse 25 MB once encoded), checked before anything is written or sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rapport.mail.config import _command
from rapport.store.config import Config
from rapport.store.errors import ConfigError

DEFAULT_LIMIT_MB = 20
MAX_LIMIT_MB = 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class AttachmentSettings:
    directory: Path
    open_command: tuple[str, ...] = ()
    limit_bytes: int = DEFAULT_LIMIT_MB * MB


def default_download_dir() -> Path:
    """The XDG download folder (platformdirs reads user-dirs.dirs), else ~/Downloads."""
    try:
        from platformdirs import user_downloads_dir

        found = Path(user_downloads_dir())
        if found.is_dir():
            return found
    except Exception:  # noqa: BLE001 - an odd desktop setup must not stop a save
        pass
    return Path.home() / "Downloads"


def _limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"attachment_limit_mb must be a number of megabytes, not {value!r}")
    if not 0 < value <= MAX_LIMIT_MB:
        raise ConfigError(f"attachment_limit_mb must be between 0 and {MAX_LIMIT_MB}, not {value}")
    return int(value * MB)


def attachment_settings(config: Config) -> AttachmentSettings:
    raw = config.raw
    folder = raw.get("attachments_dir")
    if folder is not None and (not isinstance(folder, str) or not folder.strip()):
        raise ConfigError(f"attachments_dir must be a folder path, not {folder!r}")
    directory = Path(folder).expanduser() if folder else default_download_dir()
    return AttachmentSettings(
        directory=directory,
        open_command=_command(raw.get("open_command"), "config.toml", "open_command"),
        limit_bytes=_limit(raw.get("attachment_limit_mb", DEFAULT_LIMIT_MB)),
    )
