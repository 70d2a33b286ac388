"""Provides a demo workspace (built through the real Maildir ingest path) for the TUI tests."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

TODAY = date(2026, 11, 18)


def build_template(root: Path) -> Path:
    """Build the demo once (accounts, deals, Maildir written then synced by sync_maildir)."""
    from rapport.tui.demo.build import build_demo

    home = root / "demo"
    build_demo(home, accounts=30, contacts=90, deals=40, messages=400, today=TODAY).close()
    return home


def copy_home(template: Path, dest: Path) -> Path:
    """A private copy, so a test's changes never leak into another test."""
    home = dest / "home"
    shutil.copytree(template, home)
    # The demo config names its Maildir by absolute path; point it at the copy.
    config = home / "config.toml"
    config.write_text(config.read_text().replace(str(template), str(home)))
    return home
