"""Bounce marks and unsubscribe requests in the store, through save_batch as a sync writes them."""

from __future__ import annotations

import pytest

from rapport.store.book import accounts, contacts
from rapport.store.errors import NotFoundError
from rapport.store.mailstore import announcements, bounces, messages, why
from rapport.store.mailstore.bounces import BounceNotice, UnsubscribeRules
from rapport.store.session import OpenWorkspace

ME = "me@rapport.example"
MINE = frozenset({ME})
_uids = iter(range(1, 10_000))


@pytest.fixture
def book(ws: OpenWorkspace) -> OpenWorkspace:
    acme = accounts.create_account(ws.db, "Acme", domains=["acme.example"])
    contacts.create_contact(ws.db, account_id=acme.id, name="Anna Berg",
                            emails=["anna@acme.example", "anna.home@mail.example"])
    contacts.create_contact(ws.db, account_id=acme.id, name="Carl Dahl",
                            emails=["carl@acme.example"])
    return ws


def _save(ws: OpenWorkspace, *msgs: messages.NewMessage,
          rules: UnsubscribeRules | None = None) -> None:
    folder = messages.get_or_create_folder(ws.db, "work", "INBOX", "inbox")
    messages.save_batch(ws.db, folder.id, list(msgs), last_uid=max(m.uid for m in msgs),
                        uidvalidity=1, highestmodseq=None, my_addresses=MINE,
                        skipped=(), unsubscribe=rules)


def _bounce(n: int, day: str, address: str, permanent: bool, status: str) -> messages.NewMessage:
    return messages.NewMessage(
        uid=next(_uids), message_id=f"dsn-{n}@mx.example", date_utc=f"{day}T10:00:00Z",
        from_name="Mail Delivery System", from_addr="mailer-daemon@mx.example",
        to=(("", ME),), subject="Undelivered Mail Returned to Sender",
        bounces=(BounceNotice(address, permanent, status, "unknown user"),))


def _mail(n: int, day: str, sender: str, subject: str = "Hello", body: str = "Hi there",
          in_reply_to: str = "", to: str = ME) -> messages.NewMessage:
    return messages.NewMessage(
        uid=next(_uids), message_id=f"mail-{n}@example", date_utc=f"{day}T12:00:00Z",
        from_addr=sender, to=(("", to),), subject=subject, body_text=body,
        in_reply_to=in_reply_to)


def _contact(ws: OpenWorkspace, email: str) -> contacts.Contact:
    found = contacts.find_contact_by_email(ws.db, email)
    assert found is not None
    return found


def test_a_permanent_bounce_marks_the_address_and_joins_the_account(book: OpenWorkspace) -> None:
    _save(book, _bounce(1, "2026-11-02", "anna@acme.example", True, "5.1.1"))
    anna = _contact(book, "anna@acme.example")
    assert anna.bounced_utc == "2026-11-02T10:00:00Z"
    assert anna.bounce_reason == "5.1.1 unknown user"
    # Linked to Acme by the bounce rule, not left unassigned; and on the timeline.
    [stored] = messages.list_messages(book.db)
    reasons = why.explain(book.db, stored.id)
    assert [(r.account, r.rule, r.detail) for r in reasons if r.linked] == [
        ("Acme", "bounce", "anna@acme.example")]
    kinds = [r[0] for r in book.db.execute("SELECT kind FROM activities")]
    assert kinds == ["bounce"]
    # Seen again (a refetch, another folder): not counted or noted twice.
    _save(book, _bounce(1, "2026-11-02", "anna@acme.example", True, "5.1.1"))
    assert book.db.execute("SELECT count(*) FROM bounces").fetchone()[0] == 1
    assert book.db.execute("SELECT count(*) FROM activities").fetchone()[0] == 1


def test_temporary_bounces_mark_at_the_third_within_30_days(book: OpenWorkspace) -> None:
    _save(book, _bounce(1, "2026-09-01", "carl@acme.example", False, "4.2.2"))  # too old
    _save(book, _bounce(2, "2026-10-20", "carl@acme.example", False, "4.2.2"))
    _save(book, _bounce(3, "2026-11-01", "carl@acme.example", False, "4.4.1"))
    assert _contact(book, "carl@acme.example").bounced_utc is None
    _save(book, _bounce(4, "2026-11-10", "carl@acme.example", False, "4.4.1"))
    carl = _contact(book, "carl@acme.example")
    assert carl.bounced_utc == "2026-11-10T10:00:00Z"
    assert carl.bounce_reason.startswith("3 temporary failures in 30 days")


def test_mail_from_the_address_after_the_mark_clears_it(book: OpenWorkspace) -> None:
    _save(book, _bounce(1, "2026-11-02", "anna@acme.example", True, "5.1.1"))
    _save(book, _mail(1, "2026-10-30", "anna@acme.example"))  # older: says nothing
    assert _contact(book, "anna@acme.example").bounced_utc is not None
    _save(book, _mail(2, "2026-11-05", "anna@acme.example"))
    assert _contact(book, "anna@acme.example").bounced_utc is None


def test_a_secondary_address_bouncing_leaves_the_contact_reachable(book: OpenWorkspace) -> None:
    _save(book, _bounce(1, "2026-11-02", "anna.home@mail.example", True, "5.1.1"))
    assert _contact(book, "anna@acme.example").bounced_utc is None
    # Editing the contact's addresses keeps the marks of the addresses it keeps.
    anna = _contact(book, "anna@acme.example")
    contacts.update_contact(book.db, anna.id, emails=["anna.home@mail.example", anna.email])
    assert _contact(book, "anna@acme.example").bounced_utc == "2026-11-02T10:00:00Z"


def test_clear_bounce_by_hand(book: OpenWorkspace) -> None:
    _save(book, _bounce(1, "2026-11-02", "anna@acme.example", True, "5.1.1"))
    assert bounces.clear_bounce(book.db, " Anna@Acme.example ") is True
    assert _contact(book, "anna@acme.example").bounced_utc is None
    assert bounces.clear_bounce(book.db, "anna@acme.example") is False
    with pytest.raises(NotFoundError):
        bounces.clear_bounce(book.db, "nobody@acme.example")


def _announced(ws: OpenWorkspace, email: str, message_id: str) -> None:
    ann = announcements.get_or_create_announcement(ws.db, "promotion", "Spring")
    contact = _contact(ws, email)
    announcements.mark_started(ws.db, ann.id, contact.id, email, "send", message_id)


RULES = UnsubscribeRules(address=ME)


@pytest.mark.parametrize(("subject", "body", "request_"), [
    ("Re: Spring for Acme", "Unsubscribe\n\nOn Monday you wrote:", True),
    ("Re: Spring for Acme", "\n  please unsubscribe me.  \n", True),
    ("STOP", "", True),
    ("Re: Spring for Acme", "Stop by our booth next week, we'd love to talk.", False),
    ("Re: Spring for Acme", "Sounds good, send me the offer", False),
])
def test_a_reply_to_an_announcement_with_an_unsubscribe_word_opts_out(
        book: OpenWorkspace, subject: str, body: str, request_: bool) -> None:
    _announced(book, "carl@acme.example", "announce-1@rapport.example")
    _save(book, _mail(1, "2026-11-05", "carl@acme.example", subject, body,
                      in_reply_to="announce-1@rapport.example"), rules=RULES)
    assert _contact(book, "carl@acme.example").opted_out is request_
    pending = bounces.pending_optouts(book.db)
    assert [(p.address, p.account_name) for p in pending] == (
        [("carl@acme.example", "Acme")] if request_ else [])


def test_an_unsubscribe_word_in_other_mail_is_no_request(book: OpenWorkspace) -> None:
    _save(book, _mail(1, "2026-11-05", "carl@acme.example", "stop", "stop"), rules=None)
    _save(book, _mail(2, "2026-11-05", "carl@acme.example", "Re: other", "Stop",
                      to="sales@rapport.example"), rules=RULES)
    # To our own address (the default one), only the subject our mailto: link sets counts.
    _save(book, _mail(3, "2026-11-05", "carl@acme.example", "Re: other", "Stop"), rules=RULES)
    assert not _contact(book, "carl@acme.example").opted_out
    _save(book, _mail(4, "2026-11-06", "carl@acme.example", "unsubscribe", ""), rules=RULES)
    assert _contact(book, "carl@acme.example").opted_out


def test_mail_to_the_unsubscribe_address_opts_out_and_waits_until_acknowledged(
        book: OpenWorkspace) -> None:
    rules = UnsubscribeRules(address="unsubscribe@rapport.example", address_needs_word=False)
    _save(book, _mail(1, "2026-11-05", "carl@acme.example", "please", "take me off",
                      to="unsubscribe@rapport.example"),
          _mail(2, "2026-11-05", "stranger@else.example", "unsubscribe", "",
                to="unsubscribe@rapport.example"), rules=rules)
    assert _contact(book, "carl@acme.example").opted_out
    pending = bounces.pending_optouts(book.db)
    # The stranger is not in the book: listed for review, with no contact or account.
    assert [(p.address, p.contact_id is None, p.account_id) for p in pending] == [
        ("carl@acme.example", False, _contact(book, "carl@acme.example").account_id),
        ("stranger@else.example", True, None)]
    timeline = book.db.execute("SELECT kind, subject, message_id FROM activities").fetchall()
    assert timeline == [("opt_out", "Opted out: carl@acme.example", "mail-1@example")]
    bounces.acknowledge_optout(book.db, pending[0].id)
    assert [p.address for p in bounces.pending_optouts(book.db)] == ["stranger@else.example"]
    with pytest.raises(NotFoundError):
        bounces.acknowledge_optout(book.db, 999)
