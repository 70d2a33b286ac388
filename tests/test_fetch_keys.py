"""FETCH answers as different IMAP servers spell them, recorded or as their documentation shows
(issue 11): the header block and body sections are found however a server writes the item name
(quoting, case, spacing, partial origin), and an answer without a readable header block is a
skipped message with a reason, never an empty message stored.

The Courier and Dovecot answers were recorded from the servers the sync tests run
(tests/courier_server.py, tests/dovecot_server.py) through imaplib, in the shape it hands over.
"""

from __future__ import annotations

import pytest

from rapport.mail.message.mime import plan
from rapport.mail.sync.bodystructure import parse_bodystructure
from rapport.mail.sync.fetch import HEADER_KEY, RawBatch, build_messages
from rapport.mail.sync.response import fetch_items, item_key

HEADERS = (b"From: Alice <alice@acme.example>\r\nTo: me@rapport.example\r\nSubject: Message 1\r\n"
           b"Date: Mon, 2 Nov 2026 10:01:00 +0000\r\nMessage-ID: <msg-1@test.example>\r\n\r\n")
FIELDS = b"MESSAGE-ID IN-REPLY-TO REFERENCES DATE FROM TO CC REPLY-TO SUBJECT"
QUOTED_FIELDS = b" ".join(b'"' + f + b'"' for f in FIELDS.split())
STRUCTURE = b'("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 34 1 NIL NIL NIL)'

COURIER = [(b'1 (UID 1 FLAGS () INTERNALDATE "05-Dec-2026 08:41:11 +0000" RFC822.SIZE 252 '
            b"BODYSTRUCTURE " + STRUCTURE + b" BODY[HEADER.FIELDS (" + QUOTED_FIELDS + b")] {158}",
            HEADERS), b")"]
DOVECOT = [(b'1 (UID 1 FLAGS (\\Recent) INTERNALDATE "05-Dec-2026 08:41:11 +0000" RFC822.SIZE 252 '
            b"BODYSTRUCTURE " + STRUCTURE + b" BODY[HEADER.FIELDS (" + FIELDS + b")] {158}",
            HEADERS), b")"]
# Same answer, item name as other servers have been seen to write it.
SPELLINGS = {
    "cyrus (as asked)": b"BODY[HEADER.FIELDS (" + FIELDS + b")]",
    "lower case": b"body[header.fields (" + FIELDS.lower() + b")]",
    "no space before the list": b"BODY[HEADER.FIELDS(" + FIELDS + b")]",
    "extra spaces": b"BODY[HEADER.FIELDS  ( " + FIELDS.replace(b" ", b"  ") + b" )]",
    "mixed-case quoted": b"BODY[HEADER.FIELDS (" + QUOTED_FIELDS.title() + b")]",
}


def _answer(key: bytes) -> list:
    return [(b"1 (UID 1 FLAGS (\\Seen) RFC822.SIZE 252 BODYSTRUCTURE " + STRUCTURE + b" " + key
             + b" {158}", HEADERS), b")"]


def _built(data: list) -> tuple[list, list[tuple[int, str]]]:
    metas = fetch_items(data)
    skipped: list[tuple[int, str]] = []
    plans = {uid: plan(parse_bodystructure(meta[b"BODYSTRUCTURE"])) for uid, meta in metas.items()}
    batch = RawBatch(sorted(metas), metas, plans, {})
    return build_messages(batch, lambda uid, why: skipped.append((uid, why))), skipped


@pytest.mark.parametrize("data", [COURIER, DOVECOT], ids=["courier", "dovecot"])
def test_recorded_answers_give_the_same_headers(data: list) -> None:
    [message], skipped = _built(data)
    assert skipped == []
    assert (message.message_id, message.from_addr, message.subject, message.date_utc) == (
        "msg-1@test.example", "alice@acme.example", "Message 1", "2026-11-02T10:01:00Z")


@pytest.mark.parametrize("key", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_of_the_header_item_is_found(key: bytes) -> None:
    assert item_key(key) == HEADER_KEY
    [message], skipped = _built(_answer(key))
    assert skipped == [] and message.message_id == "msg-1@test.example" and message.seen


def test_body_sections_are_found_with_or_without_their_origin() -> None:
    # Courier and Dovecot answer BODY[1]<0>; some servers leave the <0> out of a partial answer.
    data = [(b"1 (UID 1 BODY[1]<0> {5}", b"hello"), (b" BODY[1.MIME] {28}",
            b"Content-Type: text/plain\r\n\r\n"), b")",
            (b"2 (UID 2 body[1] {5}", b"world"), b")"]
    items = fetch_items(data)
    assert items[1][item_key(b"BODY[1]<0>")] == b"hello"
    assert items[2][item_key(b"BODY[1]<0>")] == b"world"
    assert items[1][item_key(b"BODY[1.MIME]")] == b"Content-Type: text/plain\r\n\r\n"


def test_a_header_block_sent_as_a_quoted_string_is_read() -> None:
    # A server may send a short value as a quoted string instead of a literal: an empty block.
    data = [b"1 (UID 1 RFC822.SIZE 40 BODYSTRUCTURE " + STRUCTURE + b' BODY[HEADER.FIELDS ('
            + FIELDS + b')] "")']
    [message], skipped = _built(data)
    assert skipped == [] and message.uid == 1  # a message without those headers is still one


@pytest.mark.parametrize("tail", [b" BODY[HEADER.FIELDS (" + FIELDS + b")] NIL)", b")"],
                         ids=["NIL", "missing"])
def test_no_readable_header_block_is_a_skip_with_a_reason(tail: bytes) -> None:
    data = [b"7 (UID 7 RFC822.SIZE 40 BODYSTRUCTURE " + STRUCTURE + tail]
    messages, skipped = _built(data)
    assert messages == []
    [(uid, reason)] = skipped
    assert uid == 7 and "header" in reason


def test_gmail_message_id_is_kept_as_the_servers_own_id() -> None:
    # Gmail (X-GM-EXT-1) answers X-GM-MSGID as a bare number beside the usual items.
    data = [(b"1 (X-GM-MSGID 1278455344230334865 UID 1 FLAGS () RFC822.SIZE 252 BODYSTRUCTURE "
             + STRUCTURE + b" BODY[HEADER.FIELDS (" + FIELDS + b")] {158}", HEADERS), b")"]
    [message], _skipped = _built(data)
    assert message.server_id == "1278455344230334865"
