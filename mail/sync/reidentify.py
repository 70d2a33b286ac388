"""Provides `find_again`: after a folder's UIDVALIDITY changed, its messages are found again by
identity (store/mailstore/copies.py) from a headers-only FETCH, instead of being dropped and
downloaded again, so stored messages keep their ids (`search --json` ids go on working).

Some servers hand out a new UIDVALIDITY on every read-only open of a folder never opened
read-write (Courier, on a folder filled by a delivery agent or made by maildirmake): the engine
re-identifies each time, and on the second change in a row opens the folder read-write once,
after which such a server keeps its UIDs.
"""

from __future__ import annotations

from collections.abc import Sequence

from imapclient import IMAPClient
from sqlite_utils import Database

from rapport.mail.message.headers import parse_header_block
from rapport.mail.sync.fetch import HEADER_FIELDS, HEADER_KEY, internaldate_utc
from rapport.mail.sync.response import raw_uid_fetch, uid_ranges
from rapport.store.mailstore import messages as store
from rapport.store.mailstore.copies import Flags, message_identity, messages_by_identity

# The same header fields as the full fetch: the identity (and a made-up Message-ID, for mail
# without one) is computed from the very same header block.
IDENTITY_ITEMS = (f"(UID FLAGS INTERNALDATE RFC822.SIZE"
                  f" BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})])")
# UIDs per FETCH: headers only, a few hundred bytes each.
CHUNK = 2000


def _flags(value: object) -> Flags:
    names = {f.lower() for f in value} if isinstance(value, list) else set()
    return (b"\\seen" in names, b"\\answered" in names, b"\\flagged" in names, b"\\draft" in names)


def find_again(client: IMAPClient, db: Database, mailbox: str, uids: Sequence[int],
               ) -> tuple[dict[int, tuple[int, Flags]], list[int]]:
    """({new UID: (stored message id, server flags)}, [UIDs of messages not stored yet])."""
    gmail = client.has_capability("X-GM-EXT-1")
    items = IDENTITY_ITEMS[:-1] + " X-GM-MSGID)" if gmail else IDENTITY_ITEMS
    identities: dict[int, tuple[str, Flags]] = {}
    ordered = sorted(uids)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start:start + CHUNK]
        for uid, meta in raw_uid_fetch(client, uid_ranges(chunk), items).items():
            block = meta.get(HEADER_KEY)
            if not isinstance(block, bytes):
                continue  # fetched in full below, where an unreadable one is skipped
            headers = parse_header_block(
                block, fallback_date_utc=internaldate_utc(meta.get(b"INTERNALDATE")))
            server_id = meta.get(b"X-GM-MSGID")
            size = meta.get(b"RFC822.SIZE")
            identity = message_identity(
                headers.message_id, headers.date_utc, headers.from_addr, headers.subject,
                server_id.decode() if isinstance(server_id, bytes) and server_id.isdigit()
                else "", mailbox, int(size) if isinstance(size, bytes) and size.isdigit() else 0)
            identities[uid] = (identity, _flags(meta.get(b"FLAGS")))
    stored = messages_by_identity(db, (identity for identity, _f in identities.values()))
    matches = {uid: (stored[identity], flags) for uid, (identity, flags) in identities.items()
               if identity in stored}
    return matches, [uid for uid in ordered if uid not in matches]


def reidentify(client: IMAPClient, db: Database, state: store.FolderState, uidvalidity: int,
               uidnext: int) -> tuple[set[int], int]:
    """The folder's UIDVALIDITY changed: find the stored messages again by identity at their
    new UIDs (headers only) and record them so; the rest is left for the engine to fetch as
    new (the folder's last_uid is set below the first of them). Returns (UIDs found again,
    copies gone)."""
    uids = [u for u in client.search(["ALL"]) if not uidnext or u < uidnext]
    matches, unmatched = find_again(client, db, state.mailbox, uids)
    held = len(store.local_uids(db, state.id))
    last = (min(unmatched) - 1) if unmatched else max(uids, default=0)
    store.reidentify_folder(db, state.id, uidvalidity=uidvalidity, matches=matches,
                            last_uid=last)
    return set(matches), max(0, held - len(matches))
