"""Maildir ingest: both subfolder layouts, flags, incremental reruns, write-back, real Enron mail."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from rapport.mail.sync.events import FolderDone
from rapport.mail.sync.maildir import sync_maildir
from rapport.store.book import accounts
from rapport.store.db import open_database
from rapport.store.mailstore import messages as store
from rapport.store.migrations import migrations, schema_version
from rapport.store.session import OpenWorkspace

ME = frozenset({"me@vendor.example"})


def make_folder(directory: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    return directory


def drop(
    directory: Path, key: str, sender: str, *, info: str | None = None, subject: str = ""
) -> Path:
    raw = (
        f"From: {sender}\nTo: me@vendor.example\nSubject: {subject or key}\n"
        f"Message-ID: <{key}@test>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\nbody of {key}\n"
    )
    path = (
        directory
        / ("new" if info is None else "cur")
        / (key if info is None else f"{key}:2,{info}")
    )
    path.write_text(raw)
    return path


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    root = make_folder(tmp_path / "Mail")
    drop(root, "in1", "bob@acme.example")
    drop(root, "in2", "ann@acme.example", info="SF")
    drop(make_folder(root / ".Sent"), "out1", "me@vendor.example", info="S")
    drop(make_folder(root / ".Archive.2020"), "old1", "x@y.example", info="RS")
    drop(make_folder(root / "Drafts"), "d1", "me@vendor.example", info="DS")
    drop(make_folder(root / "Projects" / "Big"), "p1", "z@y.example")
    return root


def sync(ws: OpenWorkspace, root: Path, events: list | None = None):
    return sync_maildir(
        ws.db,
        mailbox="local",
        path=root,
        my_addresses=ME,
        report=events.append if events is not None else None,
    )


def flags_of(ws: OpenWorkspace, ref: str) -> tuple[bool, bool, bool, bool]:
    m = store.find_message(ws.db, ref)
    return (m.seen, m.answered, m.flagged, m.draft)


def test_layouts_roles_and_flags(ws: OpenWorkspace, maildir: Path) -> None:
    accounts.create_account(ws.db, "Acme", domains=("acme.example",))
    summary = sync(ws, maildir)
    assert summary.ok and summary.added == 6
    folders = {(f.name, f.role) for f in store.list_folders(ws.db, "local")}
    assert folders == {
        ("INBOX", "inbox"),
        ("Sent", "sent"),
        ("Archive/2020", ""),
        ("Drafts", "drafts"),
        ("Projects/Big", ""),
    }
    assert flags_of(ws, "in1@test") == (False, False, False, False)
    assert flags_of(ws, "in2@test") == (True, False, True, False)
    assert flags_of(ws, "old1@test") == (True, True, False, False)
    assert flags_of(ws, "d1@test") == (True, False, False, True)
    assert store.find_message(ws.db, "out1@test").direction == "out"
    assert [a[1] for a in store.find_message(ws.db, "in1@test").accounts] == ["Acme"]


def test_rerun_is_incremental(ws: OpenWorkspace, maildir: Path) -> None:
    sync(ws, maildir)
    ids_before = {m: store.find_message(ws.db, m).id for m in ("in1@test", "in2@test")}
    events: list = []
    again = sync(ws, maildir, events)
    assert again.added == 0
    assert all(e.unchanged for e in events if isinstance(e, FolderDone))

    # A client reads in1 (new/ -> cur/ with S), un-flags in2, deletes p1, and new mail arrives.
    os.rename(maildir / "new" / "in1", maildir / "cur" / "in1:2,S")
    os.rename(maildir / "cur" / "in2:2,SF", maildir / "cur" / "in2:2,S")
    (maildir / "Projects" / "Big" / "new" / "p1").unlink()
    drop(maildir, "in3", "carl@acme.example")
    summary = sync(ws, maildir)
    assert (
        summary.added,
        sum(f.flags_changed for f in summary.folders),
        sum(f.removed for f in summary.folders),
    ) == (1, 2, 1)
    assert flags_of(ws, "in1@test") == (True, False, False, False)
    assert flags_of(ws, "in2@test") == (True, False, False, False)
    assert {m: store.find_message(ws.db, m).id for m in ids_before} == ids_before
    assert ws.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 6


def test_flags_set_in_rapport_are_written_back(ws: OpenWorkspace, maildir: Path) -> None:
    sync(ws, maildir)
    store.set_flags(ws.db, store.find_message(ws.db, "in1@test").id, seen=True, answered=True)
    sync(ws, maildir)
    assert sorted(p.name for p in (maildir / "cur").iterdir()) == ["in1:2,RS", "in2:2,SF"]
    assert store.dirty_flags(ws.db, store.find_message(ws.db, "in1@test").folder_id) == {}
    assert flags_of(ws, "in1@test") == (True, True, False, False)


def test_deleted_folder_and_missing_root(ws: OpenWorkspace, maildir: Path, tmp_path: Path) -> None:
    sync(ws, maildir)
    shutil.rmtree(maildir / ".Archive.2020")
    sync(ws, maildir)
    assert "Archive/2020" not in {f.name for f in store.list_folders(ws.db, "local")}
    missing = sync(ws, tmp_path / "nowhere")
    assert not missing.ok and "is not a directory" in missing.error


@pytest.mark.corpus
def test_real_enron_folder_ingests_and_matches(
    ws: OpenWorkspace, corpus_dir: Path, tmp_path: Path
) -> None:
    source = corpus_dir / "enron" / "maildir" / "allen-p" / "inbox"
    files = sorted(p for p in source.iterdir() if p.is_file())[:150]
    root = make_folder(tmp_path / "enron")
    for i, path in enumerate(files):
        shutil.copyfile(path, root / "cur" / f"{i:05d}.enron:2,S")
    accounts.create_account(ws.db, "Enron", domains=("enron.com",))
    summary = sync(ws, root)
    assert summary.ok and summary.added == len(files)
    linked = ws.db.execute("SELECT count(DISTINCT message_id) FROM message_accounts").fetchone()[0]
    assert linked > 0.8 * len(files)
    sample = store.find_message(ws.db, "1")
    assert sample.subject is not None and sample.date_utc.startswith(
        ("1999", "2000", "2001", "2002")
    )


def test_unchanged_folders_are_skipped_by_directory_stamp(ws: OpenWorkspace, maildir: Path) -> None:
    hour_ago = time.time() - 3600
    for sub in ("cur", "new"):
        os.utime(maildir / sub, (hour_ago, hour_ago))
    sync(ws, maildir)
    inbox = [f for f in store.list_folders(ws.db, "local") if f.name == "INBOX"][0]
    stamps = [(maildir / sub).stat().st_mtime_ns for sub in ("cur", "new")]
    assert inbox.maildir_mtime_ns == max(stamps) and inbox.highestmodseq is None

    # A file slipped in while the directory stamp stays old is not even listed: proof of the skip.
    drop(maildir, "sneaky", "bob@acme.example")
    os.utime(maildir / "new", (hour_ago, hour_ago))
    assert sync(ws, maildir).added == 0
    # Any real change moves the stamp, and the folder is listed again.
    drop(maildir, "in9", "bob@acme.example")
    assert sync(ws, maildir).added == 2


def test_upgrade_moves_maildir_stamps_out_of_the_imap_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m009_maildir_mtimes")
    # As a release before m009 left them: a Maildir folder (no UIDVALIDITY) with its directory
    # stamp in highestmodseq, an IMAP folder with a real HIGHESTMODSEQ, one never synced.
    old.execute("INSERT INTO folders (mailbox, name, highestmodseq) VALUES "
                "('local', 'INBOX', 1733390000123456789)")
    old.execute("INSERT INTO folders (mailbox, name, uidvalidity, highestmodseq) VALUES "
                "('work', 'INBOX', 7, 4242)")
    old.execute("INSERT INTO folders (mailbox, name) VALUES ('work', 'Sent')")
    old.conn.commit()
    old.close()

    db = open_database(path)
    try:
        assert schema_version(db) >= 9
        folders = {(f.mailbox, f.name): f for f in store.list_folders(db)}
    finally:
        db.close()
    local, work, sent = folders["local", "INBOX"], folders["work", "INBOX"], folders["work", "Sent"]
    assert (local.maildir_mtime_ns, local.highestmodseq) == (1733390000123456789, None)
    assert (work.maildir_mtime_ns, work.highestmodseq) == (None, 4242)
    assert (sent.maildir_mtime_ns, sent.highestmodseq) == (None, None)
