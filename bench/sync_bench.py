"""Provides the sync benchmark: `rapport sync` against mbsync on the same loopback Dovecot.

One run: generate N messages (30% plain, 30% plain+HTML alternative, 30% HTML only, 10% with
0.1-2 MB attachments) straight into the server's Maildir, then time (a) the initial sync of a fresh workspace / fresh mbsync Maildir,
(b) a no-change resync, (c) a resync after 100 new messages. Prints each tool's median, the
ratio and our peak RSS (os.wait4 of the child, and the sum over it and its decoding worker
sampled from /proc), then one more first sync in process, timed phase by phase
(bench/sync_phases.py). `--inline` also times Rapport decoding without its worker process in
the same rounds. Usage: python bench/sync_bench.py [--messages N] [--inline]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from dovecot_server import DovecotServer, DovecotUser  # noqa: E402
from sync_phases import phase_profile, print_phases  # noqa: E402

WORDS = ("quote renewal contract pricing meeting delivery invoice forecast pipeline budget "
         "proposal schedule discount support volume licence review agenda follow-up").split()


@dataclass
class Run:
    seconds: float
    max_rss_kb: int  # the largest single process (the kernel's high-water mark)
    tree_rss_kb: int = 0  # the sum over the tool and its children (a decoding worker), sampled


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _html(text: str, n: int) -> str:
    # Newsletter-like markup (styles, a table, links) so the HTML -> text conversion is measured.
    rows = "".join(f"<tr><td>{line}</td><td>{n % 97}.00 EUR</td></tr>"
                   for line in text.split("\r\n")[:8])
    paragraphs = "".join(f"<p style=\"margin:0 0 8px\">{line}</p>" for line in text.split("\r\n"))
    return ("<html><head><style>td{padding:4px} p{font-family:Arial}</style></head><body>"
            f"<h2>Update #{n}</h2>{paragraphs}<table>{rows}</table>"
            f"<p><a href=\"https://customer.example/{n}\">details</a></p></body></html>")


def make_message(n: int, rng: random.Random, blobs: list[bytes]) -> bytes:
    """One synthetic message: 30% plain, 30% multipart/alternative (plain + HTML), 30% HTML
    only (converted to text by Rapport), 10% with a 0.1-2 MB attachment."""
    head = (f"From: Contact {n % 300} <c{n % 300}@customer{n % 40}.example>\r\n"
            f"To: Me <me@rapport.example>\r\nSubject: {_words(rng, 5)} #{n}\r\n"
            f"Date: Mon, 2 Nov 2026 {n % 24:02d}:{n % 60:02d}:00 +0000\r\n"
            f"Message-ID: <bench-{n}-{rng.getrandbits(32)}@customer.example>\r\nMIME-Version: 1.0\r\n")
    text = "\r\n".join(_words(rng, 12) for _ in range(rng.randint(3, 40)))
    kind = n % 20
    if kind < 6:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n").encode()
    if kind < 12:
        return (head + 'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
                "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n"
                "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + _html(text, n)
                + "\r\n--alt--\r\n").encode()
    if kind < 18:
        return (head + "Content-Type: text/html; charset=utf-8\r\n\r\n" + _html(text, n)
                + "\r\n").encode()
    size = rng.randint(100_000, 2_000_000)
    blob = blobs[n % len(blobs)][: size * 4 // 3 // 76 * 78]
    return (head + 'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n'
            "--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n"
            "--mix\r\nContent-Type: application/pdf; name=\"report-" + str(n) + ".pdf\"\r\n"
            "Content-Disposition: attachment; filename=\"report-" + str(n) + ".pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + blob + b"\r\n--mix--\r\n"


def _blobs(rng: random.Random) -> list[bytes]:
    # A few random 2 MB attachments, base64 in 76-char CRLF lines; messages take slices of them.
    result = []
    for _ in range(8):
        raw = base64.encodebytes(rng.randbytes(2_000_000))
        result.append(raw.replace(b"\n", b"\r\n"))
    return result


def deliver(user: DovecotUser, start: int, count: int, rng: random.Random,
            blobs: list[bytes], sub: str = "cur") -> int:
    """Write messages straight into the Maildir (APPEND would dominate set-up time)."""
    folder = user.maildir / sub
    uid, gid = user.server.mail_ids
    total = 0
    for n in range(start, start + count):
        data = make_message(n, rng, blobs)
        total += len(data)
        path = folder / f"{n}.bench.rapport:2," if sub == "cur" else folder / f"{n}.bench.rapport"
        path.write_bytes(data)
        if os.getuid() == 0:
            os.chown(path, uid, gid)
    return total


# Peak RSS is inherited across fork+exec (the kernel keeps the pre-exec high-water mark), so a
# child forked straight from this big process would report this process's size. A tiny launcher
# forks the tool instead, times it and prints "seconds maxrss_kb tree_rss_kb" on stdout: the
# kernel's high-water mark is per process, so the RSS of the tool and its children (Rapport's
# decoding worker) is also summed from /proc every 20 ms (shared pages counted in each).
LAUNCHER = """
import os, sys, time
def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            kb = next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except (OSError, ValueError):
        return 0
    return kb + sum(rss(k) for k in kids)
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
tree = 0
while True:
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    tree = max(tree, rss(pid))
    time.sleep(0.02)
print(time.perf_counter() - start, usage.ru_maxrss, tree)
sys.exit(os.waitstatus_to_exitcode(status))
"""


# Like an installed package, cache bytecode (some shells export PYTHONDONTWRITEBYTECODE, which
# would make every run recompile Rapport's modules).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str], env: dict[str, str] | None = None) -> Run:
    done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *argv], capture_output=True,
                          env={**CHILD_ENV, **(env or {})})
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()[:500]
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {err}")
    seconds, rss, tree = done.stdout.split()
    return Run(float(seconds), int(rss), int(tree))


def rapport_config(home: Path, user: DovecotUser) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        "[me]\nemail = \"me@rapport.example\"\n\n[[mailbox]]\nname = \"bench\"\n"
        f"host = \"127.0.0.1\"\nport = {user.server.plain_port}\nsecurity = \"plain\"\n"
        f"username = \"{user.name}\"\npassword_command = [\"printf\", \"%s\\n\", \"{user.password}\"]\n"
        "folders = [\"INBOX\"]\n"
    )


def mbsync_config(path: Path, maildir: Path, user: DovecotUser) -> None:
    path.write_text(
        f"IMAPAccount bench\nHost 127.0.0.1\nPort {user.server.plain_port}\nUser {user.name}\n"
        f"Pass {user.password}\nSSLType None\nAuthMechs LOGIN\n\n"
        "IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {maildir}/\nInbox {maildir}/INBOX\nSubFolders Verbatim\n\n"
        "Channel bench\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\n"
        "SyncState *\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3, help="repetitions per measurement")
    parser.add_argument("--inline", action="store_true",
                        help="also time Rapport's first sync decoding inline (no worker "
                        "process), in the same rounds: the pipeline's gain in one run")
    parser.add_argument("--no-phases", action="store_true",
                        help="skip the in-process first sync timed phase by phase")
    args = parser.parse_args()
    mbsync = shutil.which("mbsync")
    if not mbsync:
        print("sync_bench: mbsync not installed (apt-get install -y isync); it is the peer "
              "this benchmark measures against", file=sys.stderr)
        return 2
    rapport = [sys.executable, "-m", "rapport.tui.cli.main"]
    root = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    server = DovecotServer(root).start()  # start() opens root to Dovecot's mail user
    work = Path(tempfile.mkdtemp(prefix="rapport-bench-work-"))
    try:
        user = server.add_user("bench")
        with server.client(user) as client:
            client.select_folder("INBOX")
        rng = random.Random(20261122)
        blobs = _blobs(rng)
        t0 = time.perf_counter()
        size = deliver(user, 0, args.messages, rng, blobs)
        print(f"generated {args.messages} messages, {size / 2**20:.0f} MiB "
              f"in {time.perf_counter() - t0:.1f} s")
        # Tool-neutral warm-up: Dovecot builds its index and the page cache holds the files.
        t0 = time.perf_counter()
        with server.client(user) as client:
            exists = client.select_folder("INBOX", readonly=True)[b"EXISTS"]
        for path in (user.maildir / "cur").iterdir():
            path.read_bytes()
        print(f"Dovecot indexed {exists} messages in {time.perf_counter() - t0:.1f} s")

        results: dict[str, dict[str, list[Run]]] = {"initial": {}, "nochange": {}, "new100": {}}
        homes, mbconfs = [], []
        for i in range(args.runs):
            home = work / f"rapport-{i}"
            rapport_config(home, user)
            maildir = work / f"mbsync-{i}"
            maildir.mkdir()
            conf = work / f"mbsyncrc-{i}"
            mbsync_config(conf, maildir, user)
            homes.append(home)
            mbconfs.append(conf)
            # Rotate who goes first so none always meets a colder server.
            tools = ["rapport", "mbsync"] + (["rapport-inline"] if args.inline else [])
            order = tools[i % len(tools):] + tools[:i % len(tools)]
            for tool in order:
                if tool == "mbsync":
                    run = timed([mbsync, "-q", "-c", str(conf), "bench"])
                elif tool == "rapport":
                    run = timed([*rapport, "sync", "--home", str(home), "-q"])
                else:
                    inline_home = work / f"rapport-inline-{i}"
                    rapport_config(inline_home, user)
                    run = timed([*rapport, "sync", "--home", str(inline_home), "-q"],
                                env={"RAPPORT_SYNC_PIPELINE_MIN": str(10**9)})
                results["initial"].setdefault(tool, []).append(run)
                print(f"initial {tool} run {i + 1}: {run.seconds:.2f} s, "
                      f"RSS {run.max_rss_kb / 1024:.0f} MB (with children "
                      f"{run.tree_rss_kb / 1024:.0f} MB)", flush=True)
        for i in range(max(args.runs, 5)):
            home, conf = homes[i % len(homes)], mbconfs[i % len(mbconfs)]
            results["nochange"].setdefault("rapport", []).append(
                timed([*rapport, "sync", "--home", str(home), "-q"]))
            results["nochange"].setdefault("mbsync", []).append(
                timed([mbsync, "-q", "-c", str(conf), "bench"]))
        results["nochange_inproc"] = {"rapport": [in_process_sync(homes[0]) for _ in range(5)]}
        next_n = args.messages
        for _ in range(args.runs):
            deliver(user, next_n, 100, rng, blobs, sub="new")
            next_n += 100
            # Every replica sees the same 100; only replica 0 of each tool is timed.
            results["new100"].setdefault("rapport", []).append(
                timed([*rapport, "sync", "--home", str(homes[0]), "-q"]))
            results["new100"].setdefault("mbsync", []).append(
                timed([mbsync, "-q", "-c", str(mbconfs[0]), "bench"]))
        report(results, args.messages)
        if not args.no_phases:
            home = work / "rapport-phases"
            rapport_config(home, user)
            subprocess.run([*rapport, "init", "--home", str(home)], capture_output=True,
                           env=CHILD_ENV, check=False)
            wall, phases = phase_profile(home)
            print_phases(wall, phases, args.messages)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def in_process_sync(home: Path) -> Run:
    """A no-change sync as the TUI's background worker pays it: no interpreter start-up."""
    from rapport.mail.sync.run import sync_all
    from rapport.store.session import open_workspace

    opened = open_workspace(home)
    try:
        start = time.perf_counter()
        summaries = sync_all(opened)
        seconds = time.perf_counter() - start
    finally:
        opened.close()
    if not all(s.ok for s in summaries):
        raise SystemExit(f"in-process sync failed: {summaries}")
    return Run(seconds, 0)


def report(results: dict[str, dict[str, list[Run]]], messages: int) -> None:
    print()
    print(f"{'measurement':<28}{'rapport (median)':>18}{'mbsync (median)':>18}{'ratio':>8}")
    labels = {"initial": f"initial sync, {messages} msgs", "nochange": "no-change resync",
              "new100": "resync after 100 new"}
    for key, label in labels.items():
        ours = statistics.median(r.seconds for r in results[key]["rapport"])
        theirs = statistics.median(r.seconds for r in results[key]["mbsync"])
        print(f"{label:<28}{ours:>16.3f} s{theirs:>16.3f} s{ours / theirs:>8.2f}")
        if key == "initial" and "rapport-inline" in results[key]:
            inline = statistics.median(r.seconds for r in results[key]["rapport-inline"])
            print(f"{'  same, decoding inline':<28}{inline:>16.3f} s{theirs:>16.3f} s"
                  f"{inline / theirs:>8.2f}")
    inproc = statistics.median(r.seconds for r in results["nochange_inproc"]["rapport"])
    print(f"{'no-change, in-process (TUI)':<28}{inproc:>16.3f} s{'':>18}")
    peak = max(r.max_rss_kb for runs in results.values() for r in runs["rapport"])
    tree = max(r.tree_rss_kb for runs in results.values() for r in runs["rapport"])
    mb_peak = max(r.max_rss_kb for key, runs in results.items() if "mbsync" in runs
                  for r in runs["mbsync"])
    print(f"peak RSS: rapport {peak / 1024:.0f} MB (largest process; with its decoding worker "
          f"{tree / 1024:.0f} MB, sampled), mbsync {mb_peak / 1024:.0f} MB")
    print("goals (issue 15): initial <= 0.5x mbsync at 3,000 messages, <= 0.35x at 20,000; "
          "no-change <= 0.15 s; peak RSS <= 100 MB")


if __name__ == "__main__":
    sys.exit(main())
