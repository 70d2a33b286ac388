"""Every attachment of the corpus's MIME edge cases, synced from a Maildir and saved: each lands
inside the folder under a safe name, and the part saved is the one listed (same type)."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from sync_helpers import run_sync, write_config

from rapport.mail.attach.actions import save_attachment
from rapport.mail.attach.names import MAX_NAME_BYTES
from rapport.store.mailstore.messages import list_messages
from rapport.store.session import open_workspace

pytestmark = pytest.mark.corpus


def test_corpus_attachments_save_inside_the_folder_under_safe_names(
        corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    maildir = tmp_path / "Mail"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    count = 0
    for path in sorted((corpus_dir / "edge-cases").rglob("*")):
        if path.suffix in (".json", ".xml", ".md", ".txt") and "cpython" not in str(path):
            continue
        if not path.is_file() or path.stat().st_size > 4_000_000:
            continue
        raw = path.read_bytes()
        if b"name=" not in raw.lower() and b"attachment" not in raw.lower():
            continue
        count += 1
        (maildir / "cur" / f"{count}.M{count}.corpus:2,S").write_bytes(raw)
    home = tmp_path / "ws"
    write_config(home, [], maildirs=[{"name": "corpus", "path": str(maildir)}])
    assert run_sync(home, capsys)[0] == 0
    folder = tmp_path / "saved"
    folder.mkdir()
    opened = open_workspace(home)
    saved = 0
    try:
        for message in list_messages(opened.db, limit=100_000):
            for index in range(1, len(message.attachments) + 1):
                path = save_attachment(opened.db, opened.config, message, index, folder)
                assert path.parent == folder
                name = path.name
                assert not name.startswith(".") and ".." not in name and "/" not in name
                assert len(name.encode()) <= MAX_NAME_BYTES
                assert all(unicodedata.category(c) not in ("Cc", "Cf") for c in name)
                saved += 1
    finally:
        opened.close()
    assert count > 50 and saved > 100
    assert len(os.listdir(folder)) == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Mail", "saved", "ws"]
