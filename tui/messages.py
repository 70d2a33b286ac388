"""Provides the Textual messages the TUI's workers and screens exchange (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class SyncState(Message):
    """Background sync changed state ('syncing', 'idle', 'failed: ...'); `changed` when mail arrived."""

    text: str
    changed: bool = False


@dataclass
class OpenAccount(Message):
    """Open the account screen for this account."""

    account_id: int
