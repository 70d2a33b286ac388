"""End-to-end: `rapport --home` on a demo workspace in a real tmux pane, driven by keys, read back."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tui_workspace import build_template

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                          check=True).stdout


def _wait_for(session: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _pane(session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; pane was:\n{screen}")


def test_rapport_in_tmux(tmp_path: Path) -> None:
    home = build_template(tmp_path)
    rapport = Path(sys.executable).parent / "rapport"
    session = f"rapport-e2e-{tmp_path.name}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "36",
                    f"{rapport} --home {home}; echo RAPPORT-EXITED $?; sleep 30"], check=True)
    try:
        screen = _wait_for(session, "Inbox:")
        assert "Prospect" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "t"], check=True)
        _wait_for(session, "Today 20")
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        _wait_for(session, "Inbox:")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        assert "RAPPORT-EXITED 0" in _wait_for(session, "RAPPORT-EXITED")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
