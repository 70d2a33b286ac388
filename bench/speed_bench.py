"""Provides the speed benchmark of issue 15's launch and CLI figures, each beside its peer in one run.

- TUI launch in tmux at 80x24: from `tmux new-session` running `rapport --home DIR` until the newest
  inbox subject is on the pane, beside a bare Textual app (one Static) until its text is on the pane,
  and neomutt (warm: its header cache filled by a first run) over the same 100k messages as a Maildir,
  when neomutt is installed;
- `rapport status --json` and `rapport search X` on the same workspace, beside a bare interpreter
  that imports sqlite3 and json (the floor any Python CLI pays).

Every figure is the median of --repeat runs (3), after one warm-up run each. Bytecode caching is on for
the runs (PYTHONDONTWRITEBYTECODE is dropped): an installed Rapport runs from its .pyc files, as
Textual does from site-packages. The workspace is tui_bench's (100k messages, 10k
accounts, 10k deals), built once and cached in bench/out/.
Usage: python bench/speed_bench.py [--repeat N] [--no-neomutt]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tui_bench import MESSAGES, OUT, build  # noqa: E402 (bench/ is not a package)

SOCKET = f"rapport-speed-bench-{id(object())}"
NEWEST = f"Subject number {MESSAGES}"
BARE_APP = """
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("bare-ready")

Bare().run()
"""
# The bare CLI floor: the interpreter, and the two modules a read-only command cannot do without.
BARE_CLI = [sys.executable, "-c", "import sqlite3, json"]
# RFC 2822 dates, one second apart within a day in Rapport's order (date, then id): neomutt sorts
# by them, and left ties (a day's messages share 09:00) in an order of its own.
NEOMUTT_MAILDIR = OUT.parent / "tui_100k_maildir_v3"


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], check=True, capture_output=True, text=True).stdout


def tmux_launch(command: str, marker: str, limit: float = 60.0) -> float:
    """Seconds from starting `command` in a fresh 80x24 tmux window until `marker` is on its pane."""
    session = f"s{time.monotonic_ns()}"
    started = time.perf_counter()
    _tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        while True:
            pane = _tmux("capture-pane", "-p", "-t", session)
            if marker in pane:
                return time.perf_counter() - started
            if time.perf_counter() - started > limit:
                raise SystemExit(f"speed_bench: {command!r} never showed {marker!r}; the pane:\n{pane}")
            time.sleep(0.005)
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", session], capture_output=True)


def timed_run(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def median(measure: Callable[[], float], repeat: int) -> float:
    return statistics.median(measure() for _ in range(repeat))


def neomutt_maildir() -> Path:
    """The bench's 100k messages as a Maildir (written once, cached beside the workspace)."""
    if (NEOMUTT_MAILDIR / "cur").is_dir():
        return NEOMUTT_MAILDIR
    import sqlite3
    from datetime import datetime, timedelta
    from email.utils import format_datetime

    tmp = NEOMUTT_MAILDIR.with_name(NEOMUTT_MAILDIR.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("cur", "new", "tmp"):
        (tmp / sub).mkdir(parents=True)
    db = sqlite3.connect(OUT / "rapport.db")
    previous, tie = "", 0
    for uid, date_utc, name, addr, subject, body in db.execute(
            "SELECT id, date_utc, from_name, from_addr, subject, body_text FROM messages"
            " ORDER BY date_utc, id"):
        tie = tie + 1 if date_utc == previous else 0
        previous = date_utc
        date = datetime.fromisoformat(date_utc.replace("Z", "+00:00")) + timedelta(seconds=tie)
        (tmp / "cur" / f"{uid}.bench:2,S").write_text(
            f"From: {name} <{addr}>\nTo: me@example.org\nSubject: {subject}\n"
            f"Date: {format_datetime(date)}\n"
            f"Message-ID: <m{uid}@bench>\n\n{body}")
    db.close()
    tmp.rename(NEOMUTT_MAILDIR)
    return NEOMUTT_MAILDIR


def neomutt_figure(repeat: int) -> float | None:
    """neomutt, warm (header cache filled), showing the newest of the 100k messages; None if absent."""
    neomutt = shutil.which("neomutt")
    if neomutt is None:
        return None
    maildir = neomutt_maildir()
    with tempfile.TemporaryDirectory(prefix="rapport-speed-neomutt-") as tmp:
        rc = Path(tmp) / "neomuttrc"
        rc.write_text(f'set folder="{maildir}"\nset spoolfile="{maildir}"\nset header_cache="{tmp}/hcache"\n'
                      "set sort=reverse-date\nset mbox_type=Maildir\nset check_new=no\n")
        command = f"{neomutt} -n -F {rc}"
        tmux_launch(command, NEWEST, limit=300)  # fills the header cache: the warm runs follow
        return median(lambda: tmux_launch(command, NEWEST), repeat)


def row(label: str, ours: float, peer: float | None, peer_name: str) -> None:
    if peer is None:
        print(f"{label:<34}{ours * 1000:>9.0f} ms  {peer_name}: not installed")
        return
    print(f"{label:<34}{ours * 1000:>9.0f} ms  {peer_name} {peer * 1000:.0f} ms  ratio {ours / peer:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-neomutt", action="store_true", help="skip neomutt even when installed")
    parser.add_argument("--query", default="number 500", help="the `rapport search` query")
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # inherited by every command below, tmux's too
    if shutil.which("tmux") is None:
        print("speed_bench: tmux is needed (apt-get install -y tmux)", file=sys.stderr)
        return 2
    if not (OUT / "config.toml").exists():
        print(f"building the bench workspace in {OUT} ...", file=sys.stderr)
        build(OUT)
    rapport = [sys.executable, "-m", "rapport.tui.cli.main", "--home", str(OUT)]
    _tmux("new-session", "-d", "-s", "keep", "-x", "80", "-y", "24")  # the tmux server stays warm
    try:
        tui_command = " ".join(rapport)
        bare_command = f"{sys.executable} -c '{BARE_APP}'"
        tmux_launch(tui_command, NEWEST)  # warms the page cache and the .pyc files: runs below are warm
        tmux_launch(bare_command, "bare-ready")
        tui = median(lambda: tmux_launch(tui_command, NEWEST), args.repeat)
        bare_tui = median(lambda: tmux_launch(bare_command, "bare-ready"), args.repeat)
        neomutt = None if args.no_neomutt else neomutt_figure(args.repeat)
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
    for warm_up in (BARE_CLI, [*rapport, "status", "--json"], [*rapport, "search", args.query]):
        timed_run(warm_up)
    bare_cli = median(lambda: timed_run(BARE_CLI), args.repeat)
    status = median(lambda: timed_run([*rapport, "status", "--json"]), args.repeat)
    search = median(lambda: timed_run([*rapport, "search", args.query]), args.repeat)

    print(f"workspace: {OUT} (100k messages, 10k accounts, 10k deals); medians of {args.repeat}")
    row("TUI launch to first inbox rows", tui, bare_tui, "bare Textual app")
    if not args.no_neomutt:
        row("  the same, beside neomutt warm", tui, neomutt, "neomutt")
    row("rapport status --json", status, bare_cli, "python -c 'import sqlite3, json'")
    row(f"rapport search {args.query!r}", search, bare_cli, "python -c 'import sqlite3, json'")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
