"""Provides the store's exceptions: each carries a one-line message fit for stderr."""

from __future__ import annotations


class RapportError(Exception):
    """Base of every error Rapport reports to the user as one line (never a traceback)."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(RapportError):
    """config.toml is unreadable, not TOML, or names something impossible: the user's input,
    so exit 2 like any bad input, whichever section is wrong (README, Command reference)."""

    exit_code = 2


class WorkspaceError(RapportError):
    """The workspace folder or database cannot be opened or created."""


class NotAWorkspace(WorkspaceError):
    """A command that reads a workspace was pointed at a folder that is not one (bad input)."""

    exit_code = 2


class NotFoundError(RapportError):
    """A named account, contact, deal or message does not exist (bad input: exit 2)."""

    exit_code = 2


class InputError(RapportError):
    """A value typed or imported by the user is invalid (bad date, unknown stage...)."""

    exit_code = 2
