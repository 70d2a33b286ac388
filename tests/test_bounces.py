"""Bounces read from real mail: the corpus's DSNs and non-standard bounces, and DSNs that a real
Postfix on 127.0.0.1 produced in this test run (tests/postfix_server.py)."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest
from postfix_server import DEAD_DOMAIN, DOWN_DOMAIN, MANAGER, PostfixServer, postfix  # noqa: F401

from rapport.mail.message.bounces import looks_like_bounce, read_bounce
from rapport.store.mailstore.bounces import BounceNotice

BOUNCES = Path("edge-cases/flanker/messages/bounce")


def _announcement(to: str, n: int) -> bytes:
    return (f"From: Manager <{MANAGER}>\r\nTo: {to}\r\nSubject: Spring promotion\r\n"
            f"Message-ID: <announce-{n}@rapport.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nTen percent off this spring.\r\n"
            ).encode()


@pytest.mark.corpus
@pytest.mark.parametrize(("name", "address", "permanent", "status"), [
    # RFC 3464 DSNs: the recipient's own Status decides, not the Action ("failed" with 4.x.x
    # is still temporary).
    ("mailbox-full.eml", "user@aol.com", True, "5.2.2"),
    ("office365.eml", "noname@example.com", True, "5.1.10"),
    ("zed.eml", "asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com", True, "5.1.1"),
    ("delayed.eml", "foo@example.com", False, "4.0.0"),
    ("delayed-broken.eml", "demo@example.com", False, "4.2.2"),
    ("no-mx.eml", "user@example.com", False, "4.4.4"),
    # Gmail's non-standard bounces (no delivery-status part): flufl.bounce's heuristics.
    ("gmail-invalid-address.eml", "awfawfawfawfawfaw@someserverhere.com", True, "5.1.0"),
    ("gmail-no-dns.eml", "user@example.comm", True, ""),
])
def test_corpus_bounces_name_the_failed_recipient(
        corpus_dir: Path, name: str, address: str, permanent: bool, status: str) -> None:
    [failed] = read_bounce((corpus_dir / BOUNCES / name).read_bytes())
    assert (failed.address, failed.permanent, failed.status) == (address, permanent, status)
    assert failed.diagnostic  # the server's words, or at least the bounce's subject


@pytest.mark.corpus
def test_corpus_dsn_keeps_the_servers_diagnostic(corpus_dir: Path) -> None:
    [failed] = read_bounce((corpus_dir / BOUNCES / "mailbox-full.eml").read_bytes())
    assert failed.diagnostic == "552 5.2.2 E4.12 user MAILBOX FULL"


@pytest.mark.corpus
@pytest.mark.parametrize("name", [
    "edge-cases/flanker/messages/disposition-notification.eml",   # a read receipt (MDN)
    "edge-cases/flanker/messages/complaints/aol.eml",             # ARF spam complaints
    "edge-cases/flanker/messages/complaints/yahoo.eml",
    "edge-cases/flanker/messages/multipart.eml",
    "reply-parsing/talon/reply-quotations-share-block.eml",
])
def test_corpus_non_bounces_name_nobody(corpus_dir: Path, name: str) -> None:
    path = corpus_dir / name
    if not path.exists():
        pytest.skip(f"{name} is not in this corpus")
    assert read_bounce(path.read_bytes()) == []


def test_looks_like_bounce_is_only_a_prefilter() -> None:
    assert looks_like_bounce("MAILER-DAEMON@mx.example", ["text/plain"])
    assert looks_like_bounce("anyone@example.com", ["text/plain", "message/delivery-status"])
    assert not looks_like_bounce("anna@partner.test", ["multipart/mixed", "image/png"])


@pytest.mark.slow
def test_postfix_unknown_user_dsn_is_permanent(postfix: PostfixServer) -> None:  # noqa: F811
    raw = postfix.bounce_for(_announcement(f"anna@{DEAD_DOMAIN}", 1), f"anna@{DEAD_DOMAIN}")
    msg = message_from_bytes(raw)
    # What Postfix really sent: an RFC 3464 report, to the envelope sender.
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert looks_like_bounce(str(msg["From"]).split("<")[-1].rstrip(">"), [msg.get_content_type()])
    assert read_bounce(raw) == [
        BounceNotice(f"anna@{DEAD_DOMAIN}", True, "5.1.1", 'unknown user: "anna"')]


@pytest.mark.slow
def test_postfix_delay_dsn_is_temporary(postfix: PostfixServer) -> None:  # noqa: F811
    raw = postfix.bounce_for(_announcement(f"bob@{DOWN_DOMAIN}", 2), f"bob@{DOWN_DOMAIN}")
    [failed] = read_bounce(raw)
    assert (failed.address, failed.permanent, failed.status) == (f"bob@{DOWN_DOMAIN}", False, "4.4.1")
    assert "Connection refused" in failed.diagnostic


@pytest.mark.corpus
def test_corpus_bounces_in_a_maildir_mark_their_contacts(
        corpus_dir: Path, ws, tmp_path: Path) -> None:  # noqa: ANN001
    """The Maildir ingest reads bounces too: the corpus's DSNs and Gmail bounce, synced from
    files, mark the contacts they name (permanent ones at once; the 4.x.x one not yet)."""
    from rapport.mail.sync.maildir import sync_maildir
    from rapport.store.book.accounts import create_account
    from rapport.store.book.contacts import create_contact, find_contact_by_email

    account = create_account(ws.db, "Bounce Partners")
    names = {"mailbox-full.eml": "user@aol.com", "office365.eml": "noname@example.com",
             "gmail-invalid-address.eml": "awfawfawfawfawfaw@someserverhere.com",
             "delayed.eml": "foo@example.com"}
    for address in names.values():
        create_contact(ws.db, account_id=account.id, name=address, emails=[address])
    root = tmp_path / "maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for n, name in enumerate(names):
        (root / "cur" / f"{n}.bounce:2,S").write_bytes((corpus_dir / BOUNCES / name).read_bytes())
    summary = sync_maildir(ws.db, mailbox="bounces", path=root, my_addresses=frozenset())
    assert summary.ok, summary
    marked = {address: find_contact_by_email(ws.db, address).bounced_utc is not None  # type: ignore[union-attr]
              for address in names.values()}
    assert marked == {"user@aol.com": True, "noname@example.com": True,
                      "awfawfawfawfawfaw@someserverhere.com": True, "foo@example.com": False}
    assert ws.db.execute("SELECT count(*) FROM bounces").fetchone()[0] == 4
