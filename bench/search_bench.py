"""Provides the search benchmark: Rapport's Maildir ingest + FTS5 search against notmuch.

One run over the same Enron sample (../shared/corpus/enron, ~14k messages), linked into a fresh
Maildir in a temp dir: time (a) the initial index (Rapport: `sync_maildir` into a new workspace,
which parses, stores, matches and indexes; notmuch: `notmuch new`), (b) a no-change re-index,
(c) each query, as a command (`rapport search --json --limit 50` vs `notmuch search --limit=50`,
process start included for both) and Rapport's in-process call. Medians of --repeat runs.
Usage: python bench/search_bench.py [--corpus DIR] [--repeat N] [--limit-files N]
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

REPO = Path(__file__).resolve().parent.parent
QUERIES = (
    "gas",
    "california power",
    "meeting tomorrow",
    "from:phillip",
    "price*",
    "natural gas storage contract",
)


def build_maildir(source: Path, target: Path, limit: int | None) -> int:
    """Hard-link (else copy) every Enron file into a verbatim-layout Maildir; returns the count."""
    count = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        folder = target / path.parent.relative_to(source)
        cur = folder / "cur"
        if not cur.exists():
            for sub in ("cur", "new", "tmp"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
        dest = cur / f"{count:06d}.enron:2,S"
        try:
            os.link(path, dest)
        except OSError:
            shutil.copyfile(path, dest)
        count += 1
        if limit and count >= limit:
            break
    return count


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_of(action: Callable[[], object], repeat: int) -> float:
    return statistics.median(timed(action) for _ in range(repeat))


def run_quiet(argv: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit-files", type=int, default=None, help="only the first N files")
    args = parser.parse_args()
    source = args.corpus / "enron" / "maildir"
    if not source.is_dir():
        print(f"search_bench: no Enron sample at {source}", file=sys.stderr)
        return 2
    notmuch = shutil.which("notmuch")
    if notmuch is None:
        print("search_bench: notmuch not installed (apt-get install -y notmuch); it is the peer "
              "this benchmark measures against", file=sys.stderr)
        return 2

    from rapport.mail.sync.maildir import sync_maildir
    from rapport.store.session import open_workspace
    from rapport.store.views.search import search_messages

    with tempfile.TemporaryDirectory(prefix="rapport-search-bench-") as tmp_text:
        tmp = Path(tmp_text)
        maildir = tmp / "Maildir"
        files = build_maildir(source, maildir, args.limit_files)
        print(f"corpus: {files} Enron messages in {maildir}")

        # --- Rapport: ingest (parse + store + match + FTS5 index) ---
        opened = open_workspace(tmp / "ws")
        mine = frozenset()
        ours_index = timed(
            lambda: sync_maildir(opened.db, mailbox="enron", path=maildir, my_addresses=mine)
        )
        ours_reindex = median_of(
            lambda: sync_maildir(opened.db, mailbox="enron", path=maildir, my_addresses=mine),
            args.repeat,
        )
        stored = opened.db.execute("SELECT count(*) FROM messages").fetchone()[0]

        # --- notmuch: its own database beside the Maildir, its own config ---
        config = tmp / "notmuch-config"
        config.write_text(
            f"[database]\npath={maildir}\n[user]\nname=Bench\nprimary_email=bench@example.org\n"
            "[new]\ntags=inbox;\nignore=\n[search]\nexclude_tags=\n[maildir]\nsynchronize_flags=false\n"
        )
        env = dict(os.environ, NOTMUCH_CONFIG=str(config))
        theirs_index = timed(lambda: run_quiet([notmuch, "new", "--quiet"], env))
        theirs_reindex = median_of(lambda: run_quiet([notmuch, "new", "--quiet"], env), args.repeat)
        counted = subprocess.run(
            [notmuch, "count", "*"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

        print(f"indexed: rapport {stored} messages, notmuch {counted} messages")
        print(f"{'step':<34}{'rapport':>12}{'notmuch':>12}{'ratio':>9}")

        def row(label: str, ours: float, theirs: float) -> None:
            ratio = ours / theirs if theirs else float("nan")
            print(f"{label:<34}{ours * 1000:>10.1f}ms{theirs * 1000:>10.1f}ms{ratio:>8.2f}x")

        row("initial index", ours_index, theirs_index)
        row("no-change re-index (median)", ours_reindex, theirs_reindex)
        rapport_cli = [sys.executable, "-m", "rapport.tui.cli.main", "--home", str(tmp / "ws")]
        for query in QUERIES:
            hits = len(search_messages(opened.db, query, limit=50))
            in_process = median_of(
                lambda q=query: search_messages(opened.db, q, limit=50), args.repeat
            )
            ours = median_of(
                lambda q=query: run_quiet([*rapport_cli, "search", q, "--json", "--limit", "50"]),
                args.repeat,
            )
            theirs = median_of(
                lambda q=query: run_quiet(
                    [notmuch, "search", "--limit=50", "--output=messages", q], env
                ),
                args.repeat,
            )
            row(f"search {query!r} (cmd, {hits} hits)", ours, theirs)
            print(f"{'':<4}rapport in-process: {in_process * 1000:.2f}ms")
        opened.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
