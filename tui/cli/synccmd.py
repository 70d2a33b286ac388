"""Provides `rapport sync` (placeholder until the mail issue lands)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    """Add this group's subcommands to `subparsers` and its export kinds to `exporters`."""
