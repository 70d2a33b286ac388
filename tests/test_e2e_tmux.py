"""End-to-end: `rapport demo --home DIR` in a real tmux pane, driven by keys, the pane read back after each."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

# A private tmux server: sessions of other tests or users on the machine never collide with ours.
TMUX = ["tmux", "-L", f"rapport-e2e-{os.getpid()}"]


def _pane(session: str) -> str:
    return subprocess.run([*TMUX, "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                          check=True).stdout


def _wait_for(session: str, *texts: str, gone: str = "", timeout: float = 30.0) -> str:
    """The pane once it shows every one of `texts` (and no longer `gone`); fails with the pane."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _pane(session)
        if all(text in screen for text in texts) and not (gone and gone in screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{texts!r} (without {gone!r}) never appeared; pane was:\n{screen}")


def _keys(session: str, *keys: str) -> None:
    subprocess.run([*TMUX, "send-keys", "-t", session, *keys], check=True)


def test_rapport_demo_in_tmux(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    rapport = Path(sys.executable).parent / "rapport"
    session = f"rapport-e2e-{tmp_path.name}"
    # COLUMNS/LINES may be inherited from the test run (pytest's terminal): the pane's own size must win.
    subprocess.run([*TMUX, "new-session", "-d", "-s", session, "-x", "120", "-y", "36",
                    f"env -u COLUMNS -u LINES {rapport} demo --home {home}; echo RAPPORT-EXITED $?; sleep 30"],
                   check=True)
    try:
        # The demo is built, then the TUI opens on it and syncs its Maildir in the background.
        _wait_for(session, "Inbox:", "Prospect", "Pipeline", "synced", timeout=60)
        _keys(session, "Tab")
        _wait_for(session, "Unassigned", "Read/unread")  # the footer now shows the inbox's keys
        _keys(session, "j", "Enter")
        screen = _wait_for(session, "Headers", "Back")  # the reader
        assert "Inbox:" not in screen
        _keys(session, "Escape")
        _wait_for(session, "Inbox:", "Unassigned")
        _keys(session, "t")
        screen = _wait_for(session, "Today 20", "unanswered")
        assert "due ·" in screen or " due" in screen
        _keys(session, "Escape")
        _wait_for(session, "Inbox:", gone="Today 20")
        _keys(session, "?")
        _wait_for(session, "Read/unread", "Move to account")  # the help panel lists the inbox's keys
        _keys(session, "?", "q")
        assert "RAPPORT-EXITED 0" in _wait_for(session, "RAPPORT-EXITED")
    finally:
        subprocess.run([*TMUX, "kill-server"], check=False)
