"""Provides the corrections to matching: manual assignments, address overrides, thread pins.

Each is stored by a key that survives a refetch (Message-ID, address, thread) and re-links only
the messages it touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rapport.store.errors import InputError, NotFoundError
from rapport.store.mailstore.matching import relink_messages
from rapport.store.timeutil import utc_now_text

if TYPE_CHECKING:
    from sqlite_utils import Database


def _ids_with_address(db: Database, address: str) -> list[int]:
    return [
        r[0]
        for r in db.execute("SELECT message_id FROM message_addresses WHERE address = ?", [address])
    ]


def _ids_with_message_id(db: Database, message_id_text: str) -> list[int]:
    return [
        r[0] for r in db.execute("SELECT id FROM messages WHERE message_id = ?", [message_id_text])
    ]


def _require_account(db: Database, account_id: int) -> str:
    row = db.execute("SELECT name FROM accounts WHERE id = ?", [account_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no account with id {account_id}")
    return str(row[0])


def message_id_text(db: Database, message_id: int) -> tuple[str, str]:
    row = db.execute(
        "SELECT message_id, thread_id FROM messages WHERE id = ?", [message_id]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no message with id {message_id}")
    return row[0], row[1]


def set_override(db: Database, address: str, account_id: int, mode: str | None) -> None:
    """Always / never link `address` to the account (None clears); re-links its messages."""
    from rapport.store.book.contacts import normalize_email

    address = normalize_email(address)  # foo@bar (no domain dot) is refused, as for a contact
    if mode not in ("always", "never", None):
        raise InputError(f"override mode must be 'always', 'never' or none, not {mode!r}")
    _require_account(db, account_id)
    with db.atomic():
        if mode is None:
            db.execute(
                "DELETE FROM address_overrides WHERE address = ? AND account_id = ?",
                [address, account_id],
            )
        else:
            db.execute(
                "INSERT INTO address_overrides (address, account_id, mode) VALUES (?, ?, ?) "
                "ON CONFLICT (address, account_id) DO UPDATE SET mode = excluded.mode",
                [address, account_id, mode],
            )
        relink_messages(db, _ids_with_address(db, address))


def _set_assignment(db: Database, message_id: int, account_id: int, mode: str) -> None:
    mid, _ = message_id_text(db, message_id)
    _require_account(db, account_id)
    with db.atomic():
        db.execute(
            "INSERT INTO message_assignments (message_id, account_id, mode, created_utc) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (message_id, account_id) "
            "DO UPDATE SET mode = excluded.mode, created_utc = excluded.created_utc",
            [mid, account_id, mode, utc_now_text()],
        )
        relink_messages(db, _ids_with_message_id(db, mid))


def assign_message(db: Database, message_id: int, account_id: int) -> None:
    """Link the message (every copy with its Message-ID) to the account, whatever the rules say."""
    _set_assignment(db, message_id, account_id, "assign")


def unassign_message(db: Database, message_id: int, account_id: int) -> None:
    """Never link the message (every copy with its Message-ID) to the account."""
    _set_assignment(db, message_id, account_id, "unassign")


def clear_assignment(db: Database, message_id: int, account_id: int) -> None:
    """Forget a manual assign/unassign: the rules decide again."""
    mid, _ = message_id_text(db, message_id)
    with db.atomic():
        db.execute(
            "DELETE FROM message_assignments WHERE message_id = ? AND account_id = ?",
            [mid, account_id],
        )
        relink_messages(db, _ids_with_message_id(db, mid))


def _thread_ids(db: Database, thread_id: str) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM messages WHERE thread_id = ?", [thread_id])]


def pin_thread(db: Database, thread_id: str, deal_id: int, *, pipeline: Any = None) -> None:
    """Pin a thread to a deal: its messages, and later replies, link to the deal's account.

    With the workspace `pipeline`, only open deals (not won or lost) can take a pin.
    """
    row = db.execute("SELECT stage, title FROM deals WHERE id = ?", [deal_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no deal with id {deal_id}")
    stage = pipeline.get(row[0]) if pipeline is not None else None
    if stage is not None and stage.kind != "open":
        raise InputError(
            f"deal {deal_id} ({row[1]}) is {stage.kind} (stage {row[0]!r}); pin to an open deal"
        )
    with db.atomic():
        db.execute(
            "INSERT INTO thread_pins (thread_id, deal_id, created_utc) VALUES (?, ?, ?) "
            "ON CONFLICT (thread_id) DO UPDATE SET deal_id = excluded.deal_id, "
            "created_utc = excluded.created_utc",
            [thread_id, deal_id, utc_now_text()],
        )
        relink_messages(db, _thread_ids(db, thread_id))


def unpin_thread(db: Database, thread_id: str) -> None:
    with db.atomic():
        db.execute("DELETE FROM thread_pins WHERE thread_id = ?", [thread_id])
        relink_messages(db, _thread_ids(db, thread_id))


def deal_for_message(db: Database, message_id: int) -> int | None:
    """The deal the message's thread is pinned to, if any."""
    row = db.execute(
        "SELECT p.deal_id FROM messages m JOIN thread_pins p ON p.thread_id = m.thread_id "
        "WHERE m.id = ?",
        [message_id],
    ).fetchone()
    return row[0] if row else None
