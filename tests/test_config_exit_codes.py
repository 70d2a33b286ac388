"""Every configuration error follows one rule: bad input, so one line and exit status 2, whichever
section is wrong and whichever command reads it (issue 17 left `[announce]` at 2, the rest at 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MAILBOX = '[[mailbox]]\nname = "work"\nhost = "127.0.0.1"\nusername = "u"\npassword_command = ["true"]\n'

CASES = [
    ("status", "[me]\nname = 'x'\n\n[pipeline\n", "invalid TOML"),
    ("status", "[me]\naddresses = 5\n", "[me] addresses"),
    ("status", "[pipeline]\nstages = []\n", "[pipeline] stages"),
    ("status", "[money]\nbase = 'XYZ'\n", "[money]"),
    ("status", "colour = 'red'\n", "unknown key 'colour'"),
    ("sync", '[[mailbox]]\nname = "work"\n', "needs a host"),
    ("sync", MAILBOX + "timeout = -5\n", "timeout"),
    ("sync", MAILBOX + '[announce]\nunsubscribe_url = "http://example.com/stop"\n', "[announce] unsubscribe_url"),
    ("announce", '[announce]\nunsubscribe_url = "http://example.com/stop"\n', "[announce] unsubscribe_url"),
]


@pytest.mark.parametrize(("command", "toml", "needle"), CASES,
                         ids=[f"{c}-{n.split()[0]}" for c, _t, n in CASES])
def test_a_config_error_is_one_line_and_exit_2(home: Path, command: str, toml: str,
                                               needle: str) -> None:
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(toml)
    argv = {"status": ["status"], "sync": ["sync", "-q"],
            "announce": ["announce", "promotion", "--segment", "all", "--dry-run"]}[command]
    done = subprocess.run([sys.executable, "-m", "rapport.tui.cli.main", "--home", str(home), *argv],
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("rapport: ") and done.stderr.count("\n") == 1, done.stderr
    assert needle in done.stderr
    assert done.returncode == 2, done.stderr
