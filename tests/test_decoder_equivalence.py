"""One decoder: every edge-case message of ../shared/corpus, read by the IMAP path (a real
Dovecot serving the exact bytes, fetched the way a sync fetches: headers, BODYSTRUCTURE and the
text parts only), by the IMAP fallback (the whole message as the server sends it: CRLF, no NUL)
and by the Maildir path (the file read whole), gives the same NewMessage."""

from __future__ import annotations

import dataclasses
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dovecot_server import DovecotUser

from rapport.mail.message.bounces import with_bounces
from rapport.mail.message.decode import decode_message
from rapport.mail.sync.fetch import build_messages, fetch_raw, read_bounces
from rapport.mail.sync.maildir import message_from_file, scan_folder
from rapport.store.mailstore.messages import NewMessage
from rapport.store.timeutil import to_utc_text

pytestmark = [pytest.mark.dovecot, pytest.mark.corpus]

# Fields that name where a message is kept, not what it says: a Maildir UID is a hash of the
# file name, an IMAP UID the server's counter.
WHERE_NOT_WHAT = {"uid"}
# A fixed mtime: both paths fall back to it for a missing Date (INTERNALDATE is the mtime here).
MTIME = 1_700_000_000


def _is_message_file(path: Path) -> bool:
    # Same selection as tests/test_parse.py, for the edge cases: messages, not expected outputs.
    if not path.is_file() or path.name.startswith(".") or path.name in ("SOURCE.md", "README.txt"):
        return False
    if path.suffix in (".json", ".xml", ".md", ".html") or "address-lists" in path.parts:
        return False
    return "header-vectors" not in path.parts


def _uid_to_file(maildir: Path) -> dict[int, str]:
    """Dovecot's UID for each file name, from its dovecot-uidlist."""
    result = {}
    for line in (maildir / "dovecot-uidlist").read_text().splitlines()[1:]:
        uid, _, rest = line.partition(" ")
        name = rest.rpartition(":")[2] if rest.startswith(("G", ":")) or " :" in rest else rest
        result[int(uid)] = name.split(":2,")[0]
    return result


def _differences(imap: NewMessage, maildir: NewMessage) -> dict[str, tuple[object, object]]:
    return {
        f.name: (getattr(imap, f.name), getattr(maildir, f.name))
        for f in dataclasses.fields(NewMessage)
        if f.name not in WHERE_NOT_WHAT and getattr(imap, f.name) != getattr(maildir, f.name)
    }


def test_imap_and_maildir_decode_every_edge_case_alike(
    corpus_dir: Path, imap_user: DovecotUser, tmp_path: Path
) -> None:
    files = sorted(p for p in (corpus_dir / "edge-cases").rglob("*") if _is_message_file(p))
    assert len(files) > 250
    with imap_user.server.client(imap_user) as client:
        client.select_folder("INBOX")  # Dovecot creates the Maildir
    served = imap_user.maildir / "cur"
    local = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (local / sub).mkdir(parents=True)
    owner = imap_user.server.mail_ids
    by_key: dict[str, Path] = {}
    for n, path in enumerate(files):
        # Half of them flagged, so flags go through both paths too.
        key, info = f"{n}.corpus", ("FS" if n % 2 else "")
        by_key[key] = path
        for target in (served / f"{key}:2,{info}", local / "cur" / f"{key}:2,{info}"):
            shutil.copyfile(path, target)
            os.utime(target, (MTIME, MTIME))
        if os.getuid() == 0:
            os.chown(served / f"{key}:2,{info}", *owner)

    skipped: list[tuple[int, str]] = []
    with imap_user.server.client(imap_user) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        assert len(uids) == len(files)
        # As the sync's engine reads a batch: headers, structure, text parts, then bounces whole.
        batch = fetch_raw(client, uids)
        from_imap = read_bounces(client, build_messages(
            batch, lambda uid, why: skipped.append((uid, why))), batch)
        # The IMAP fallback (BODYSTRUCTURE unreadable): the whole message as the server sends it.
        whole = client.fetch(uids, [b"BODY.PEEK[]", b"FLAGS"])
    assert skipped == []
    names = _uid_to_file(imap_user.maildir)
    from_maildir = {
        item.path.name.split(":2,")[0]: message_from_file(item)
        for item in scan_folder(local).values()
    }

    differing = {}
    for msg in from_imap:
        key = names[msg.uid]
        diff = _differences(msg, from_maildir[key])
        if diff:
            differing[str(by_key[key].relative_to(corpus_dir))] = diff
    for uid, data in whole.items():
        # As fetch.py's fallback and read_bounces treat it.
        msg = with_bounces(decode_message(
            data[b"BODY[]"], uid=uid, flags=data[b"FLAGS"],
            fallback_date_utc=to_utc_text(datetime.fromtimestamp(MTIME, UTC))), data[b"BODY[]"])
        diff = _differences(msg, from_maildir[names[uid]])
        if diff:
            differing[f"{by_key[names[uid]].relative_to(corpus_dir)} (whole)"] = diff
    if dump := os.environ.get("RAPPORT_DECODER_DIFF"):  # for a person chasing a difference
        Path(dump).write_text(repr(differing))
    assert len(from_imap) == len(files)
    # Not vacuous: bodies, senders and attachments came through (edge cases often lack a From).
    assert sum(bool(m.body_text) for m in from_imap) > 0.8 * len(files)
    assert sum("@" in m.from_addr for m in from_imap) > 0.65 * len(files)
    assert sum(bool(m.attachments) for m in from_imap) > 100
    assert sum(bool(m.bounces) for m in from_imap) >= 5
    assert differing == {}, f"{len(differing)} of {len(files)} differ: {sorted(differing)[:20]}"
