"""Every message of ../shared/corpus served by Dovecot and synced: stored, or skipped with a reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dovecot_server import DovecotUser

from rapport.mail.config import parse_mailbox
from rapport.mail.sync.events import Event, FolderFailed, MailboxFailed, MessageSkipped
from rapport.mail.sync.mailbox import sync_mailbox
from rapport.store.session import OpenWorkspace

pytestmark = [pytest.mark.dovecot, pytest.mark.corpus, pytest.mark.slow]


def _is_message_file(path: Path) -> bool:
    # Same selection as tests/test_parse.py: messages, not expected outputs or address lists.
    if not path.is_file() or path.name.startswith(".") or path.name in ("SOURCE.md", "README.txt"):
        return False
    if path.suffix in (".json", ".xml", ".md", ".html") or "address-lists" in path.parts:
        return False
    if "header-vectors" in path.parts or "github-email_reply_parser" in path.parts:
        return False
    if "signature" in path.parts or path.name.endswith(("_reply_text", "_body", "_sender")):
        return False
    return True


def test_every_corpus_message_is_stored_or_reported(
    corpus_dir: Path, imap_user: DovecotUser, ws: OpenWorkspace
) -> None:
    files = sorted(p for p in corpus_dir.rglob("*") if _is_message_file(p))
    assert len(files) > 14_000
    with imap_user.server.client(imap_user) as client:
        client.select_folder("INBOX")  # Dovecot creates the Maildir
    # Straight into Maildir/cur (APPEND of 14k messages would dominate the test's time);
    # Dovecot indexes them at the next SELECT.
    cur = imap_user.maildir / "cur"
    uid, gid = imap_user.server.mail_ids
    for n, path in enumerate(files):
        target = cur / f"{n}.corpus.rapport:2,"
        target.write_bytes(path.read_bytes())
        if os.getuid() == 0:
            os.chown(target, uid, gid)
    events: list[Event] = []
    cfg = parse_mailbox(imap_user.mailbox_config(folders=["INBOX"]), 1)

    summary = sync_mailbox(ws.db, cfg, my_addresses=frozenset(), report=events.append)

    failures = [e for e in events if isinstance(e, (MailboxFailed, FolderFailed))]
    assert failures == [] and summary.ok, summary
    skipped = [e for e in events if isinstance(e, MessageSkipped)]
    assert all(e.reason for e in skipped)
    # Stored as copies: the corpus holds some messages twice (same Message-ID, Date, From and
    # Subject), and those are one message with two copies.
    stored = ws.db.execute("SELECT count(*) FROM message_copies").fetchone()[0]
    messages = ws.db.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert 0.99 * stored < messages <= stored
    with imap_user.server.client(imap_user) as client:
        on_server = client.select_folder("INBOX", readonly=True)[b"EXISTS"]
    assert on_server == len(files)
    assert stored + len(skipped) == len(files)
    # Not vacuous: bodies and senders came through for nearly every message.
    with_body, with_sender = ws.db.execute(
        "SELECT sum(body_text != ''), sum(from_addr LIKE '%@%') FROM messages"
    ).fetchone()
    assert with_body > 0.97 * messages and with_sender > 0.97 * messages
