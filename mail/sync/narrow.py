"""Provides `fetch_narrowed`: a batch fetched despite messages the server will not send.

A FETCH that fails (NO, or a server that ends the session over it, as Dovecot does with
`* BYE FETCH failed: Internal error` for an unreadable file) is split in halves until each
failing UID stands alone; those are skipped with the server's words and the rest are stored.
A UID the server leaves out of an answer is skipped the same way, as is Dovecot's empty stand-in
for a message expunged between our SEARCH and FETCH (which would otherwise be stored as a blank
message). Both kinds are marked for
retry: the next sync asks for them again (store.mailstore.syncstate.uids_to_retry).
"""

from __future__ import annotations

import imaplib
from collections.abc import Callable, Sequence

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError

from rapport.mail.sync.fetch import HEADER_KEY, RawBatch, fetch_raw
from rapport.mail.sync.response import FetchFailed
from rapport.store.mailstore.syncstate import StaleSyncState

LEFT_OUT = "the server left it out of its FETCH answer"
# Reconnect and re-select the folder after the server ended the session; returns the client.
Reconnect = Callable[[], IMAPClient]


def server_farewell(client: IMAPClient) -> str:
    """The server's words when it ended the session with BYE ("" when the network failed)."""
    imap = client._imap  # noqa: SLF001 - imapclient keeps no record of an untagged BYE
    said = imap.untagged_responses.get("BYE") or []
    last = said[-1] if said else b""
    return last.decode("utf-8", "replace").strip() if isinstance(last, bytes) else str(last)


def reselecting(reconnect: Reconnect, name: str, uidvalidity: int) -> Reconnect:
    """`reconnect`, then ENABLE and SELECT `name` again, checking its UIDVALIDITY."""
    from rapport.mail.sync.engine import enable_extensions  # engine imports this module lazily

    def again() -> IMAPClient:
        client = reconnect()
        enable_extensions(client)
        selected = client.select_folder(name, readonly=True)
        if int(selected[b"UIDVALIDITY"]) != uidvalidity:
            raise StaleSyncState("UIDVALIDITY changed while reconnecting; sync again")
        return client

    return again


def _expunged_meanwhile(meta: dict[bytes, object]) -> bool:
    """Dovecot's stand-in for a message expunged after our SEARCH ("OK [EXPUNGEISSUED]"):
    size 0 and NIL where any real message has a header block (even an empty one)."""
    return meta.get(b"RFC822.SIZE") == b"0" and HEADER_KEY in meta and meta[HEADER_KEY] is None


def _words(exc: BaseException) -> str:
    text = str(exc)
    for noise in ("FETCH refused: ", "[b'", "[b\"", "']", "\"]"):
        text = text.replace(noise, "")
    return " ".join(text.split())[:200]


class Narrower:
    """Fetches batches on `client`, isolating the UIDs the server refuses (see module doc)."""

    def __init__(self, client: IMAPClient, reconnect: Reconnect | None) -> None:
        self.client = client
        self.reconnect = reconnect

    def fetch(self, uids: Sequence[int]) -> tuple[RawBatch, list[tuple[int, str, bool]]]:
        """The batch's raw data and the (uid, server's words, retry=True) it could not get."""
        parts: list[RawBatch] = []
        refused: list[tuple[int, str, bool]] = []
        self._fetch(list(uids), parts, refused)
        raw = RawBatch(list(uids), {}, {}, {})
        for part in parts:
            raw.metas.update(part.metas)
            raw.plans.update(part.plans)
            raw.payloads.update(part.payloads)
            raw.whole.update(part.whole)
        for uid in [u for u, meta in raw.metas.items() if _expunged_meanwhile(meta)]:
            del raw.metas[uid]  # then skipped as left out: the next sync finds it gone
            raw.plans.pop(uid, None)
            raw.payloads.pop(uid, None)
        failed = {uid for uid, _r, _t in refused}
        refused += [(uid, LEFT_OUT, True) for uid in uids
                    if uid not in raw.metas and uid not in failed]
        return raw, refused

    def _fetch(self, uids: list[int], parts: list[RawBatch],
               refused: list[tuple[int, str, bool]]) -> None:
        try:
            parts.append(fetch_raw(self.client, uids))
            return
        except FetchFailed as exc:
            words = _words(exc)
        except (imaplib.IMAP4.abort, IMAPClientAbortError):
            words = server_farewell(self.client)
            if not words or self.reconnect is None:
                raise  # the network failed, not the message: the mailbox's sync ends here
            self.client = self.reconnect()
        if len(uids) == 1:
            refused.append((uids[0], f"the server failed to send it: {words}", True))
            return
        middle = len(uids) // 2
        self._fetch(uids[:middle], parts, refused)
        self._fetch(uids[middle:], parts, refused)


__all__ = ["LEFT_OUT", "Narrower", "reselecting", "server_farewell"]
