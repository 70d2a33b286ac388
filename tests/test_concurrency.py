"""Tests that separate processes write and read one workspace at once (TUI + `rapport sync`)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from rapport.store.session import open_workspace

WRITER = textwrap.dedent(
    """
    import sys
    from rapport.store.book import accounts, activities
    from rapport.store.session import open_workspace

    opened = open_workspace(sys.argv[1])
    for i in range(150):
        account = accounts.create_account(opened.db, f"Writer {i}", domains=[f"w{i}.example.com"])
        activities.add_activity(opened.db, account.id, "note", body=f"note {i}")
    opened.close()
    print("writer done")
    """
)

READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from rapport.store.session import open_workspace

    home, stop = sys.argv[1], Path(sys.argv[2])
    seen = []
    while True:
        finished = stop.exists()
        opened = open_workspace(home)
        seen.append(opened.db.execute("SELECT count(*) FROM accounts").fetchone()[0])
        opened.close()
        if finished:
            break
        time.sleep(0.01)
    print(json.dumps(seen))
    """
)


def test_writers_and_reader_at_once(home: Path, tmp_path: Path) -> None:
    open_workspace(home).close()
    rows = "\n".join(f"Import {i},i{i}.example.org,standard" for i in range(100))
    csv = tmp_path / "accounts.csv"
    csv.write_text(f"name,domain,tier\n{rows}\n")
    stop = tmp_path / "stop"

    def spawn(*argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    reader = spawn("-c", READER, str(home), str(stop))
    writer = spawn("-c", WRITER, str(home))
    importers = [
        spawn("-m", "rapport.tui.cli.main", "--home", str(home), "import", "accounts", str(csv))
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in [writer, *importers]]
    stop.touch()
    reader_out, reader_err = reader.communicate(timeout=60)

    for _out, err, code in results:
        assert code == 0, err
        assert "locked" not in err
    assert reader.returncode == 0, reader_err
    seen = json.loads(reader_out)
    assert seen == sorted(seen), "a reader never sees the book shrink"
    assert seen[-1] == 250
    opened = open_workspace(home)
    counts = [opened.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("accounts", "activities", "account_domains")]
    opened.close()
    # The two imports of the same file: one created, the other updated (never duplicated).
    assert counts == [250, 150, 250]


COUNT_ACCOUNTS = textwrap.dedent(
    """
    import sys
    from rapport.store.session import open_workspace

    opened = open_workspace(sys.argv[1])
    print(opened.db.execute("SELECT count(*) FROM accounts").fetchone()[0])
    opened.close()
    """
)


def test_a_second_connection_in_one_process_keeps_the_first_ones_locks(home: Path) -> None:
    """The TUI opens a second connection for its sync worker; another process must still see it.

    Closing any descriptor of rapport.db drops this process's POSIX locks on it; if opening the
    second connection did that, the next process to close would think it was the last user,
    checkpoint and delete the WAL, and the first connection's later writes would go to an
    unlinked file that nobody else ever reads.
    """
    from rapport.store.book import accounts

    ui = open_workspace(home)
    accounts.create_account(ui.db, "Before", domains=["before.example"])
    worker = open_workspace(home)  # what the sync worker does while the UI's connection is open
    try:
        for _ in range(2):  # another `rapport status`, opening and closing the workspace
            subprocess.run([sys.executable, "-c", COUNT_ACCOUNTS, str(home)], check=True,
                           capture_output=True)
        accounts.create_account(ui.db, "After", domains=["after.example"])
        seen = subprocess.run([sys.executable, "-c", COUNT_ACCOUNTS, str(home)], check=True,
                              capture_output=True, text=True).stdout.strip()
        assert seen == "2"
    finally:
        worker.close()
        ui.close()


FIRST_OPEN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from rapport.store.session import open_workspace

    home, go = sys.argv[1], Path(sys.argv[2])
    while not go.exists():  # every process is started and imported: now open all at once
        time.sleep(0.001)
    opened = open_workspace(home)
    print(opened.db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0])
    opened.close()
    """
)


def test_first_opens_at_once_migrate_once(tmp_path: Path) -> None:
    """Four processes opening a new workspace together: each migration runs exactly once.

    sqlite-utils picks the pending migrations before any lock is held, so without the setup
    lock two processes both ran m001 ("table accounts already exists").
    """
    from rapport.store.migrations import migrations

    expected = str(len(migrations._migrations))
    for round_number in range(4):
        home, go = tmp_path / f"ws{round_number}", tmp_path / f"go{round_number}"
        children = [subprocess.Popen([sys.executable, "-c", FIRST_OPEN, str(home), str(go)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _ in range(4)]
        go.touch()
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            assert out.strip() == expected
