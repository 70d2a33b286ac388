"""Tests the account book on a real SQLite file: accounts, contacts, deals and activities."""

from __future__ import annotations

from datetime import date

import pytest

from rapport.store.book import accounts, activities, contacts, deals
from rapport.store.book.stages import Pipeline
from rapport.store.errors import InputError, NotFoundError
from rapport.store.mailstore import messages
from rapport.store.session import OpenWorkspace

PIPE = Pipeline()


def test_account_create_find_update_and_domains(ws: OpenWorkspace) -> None:
    db = ws.db
    acme = accounts.create_account(
        db, " ACME  Chemicals ", domains=["@Acme.com", "acme-chem.de"], tier="KEY",
        tags="chemicals, export,Chemicals",
    )
    assert (acme.name, acme.tier, acme.tags, acme.domains) == (
        "ACME Chemicals", "key", ("chemicals", "export"), ("acme.com", "acme-chem.de"),
    )
    assert accounts.find_account(db, "acme chemicals") == acme
    assert accounts.find_account(db, "ACME-chem.de") == acme
    assert accounts.find_account(db, "ann@acme.com") == acme
    assert accounts.find_account(db, "nobody.org") is None
    with pytest.raises(InputError, match="already exists"):
        accounts.create_account(db, "acme chemicals")
    other = accounts.create_account(db, "Borealis Logistics")
    with pytest.raises(InputError, match="already belongs to account 'ACME Chemicals'"):
        accounts.add_domain(db, other.id, "acme.com")
    with pytest.raises(InputError, match="not a domain"):
        accounts.add_domain(db, other.id, "not a domain")
    accounts.add_domain(db, other.id, "borealis.eu")
    accounts.remove_domain(db, acme.id, "acme-chem.de")
    with pytest.raises(NotFoundError):
        accounts.remove_domain(db, acme.id, "acme-chem.de")
    updated = accounts.update_account(db, other.id, tier="key", owner="Sam", notes="n")
    assert (updated.tier, updated.owner, updated.notes, updated.domains) == (
        "key", "Sam", "n", ("borealis.eu",),
    )
    with pytest.raises(InputError, match="tier"):
        accounts.update_account(db, other.id, tier="gold")
    assert [a.name for a in accounts.list_accounts(db)] == ["ACME Chemicals", "Borealis Logistics"]
    assert [a.name for a in accounts.search_accounts(db, "bor")] == ["Borealis Logistics"]
    assert [a.name for a in accounts.search_accounts(db, "acmchm")] == ["ACME Chemicals"]
    with pytest.raises(NotFoundError):
        accounts.get_account(db, 999)


def test_contacts_are_keyed_by_address(ws: OpenWorkspace) -> None:
    db = ws.db
    acme = accounts.create_account(db, "ACME", domains=["acme.com"])
    ann = contacts.create_contact(
        db, account_id=acme.id, name="Ann Lee", emails=["Ann@ACME.com", "ann.lee@acme.com"],
        role="Buyer",
    )
    assert ann.emails == ("ann@acme.com", "ann.lee@acme.com")
    assert contacts.find_contact_by_email(db, "ANN@acme.com") == ann
    with pytest.raises(InputError, match="already belongs to another contact"):
        contacts.create_contact(db, account_id=None, name="Imposter", emails=["ann@acme.com"])
    with pytest.raises(InputError, match="not an email"):
        contacts.create_contact(db, account_id=None, name="X", emails=["nope"])
    moved = contacts.update_contact(
        db, ann.id, emails=["ann.lee@acme.com"], opted_out=True, account_id=None
    )
    assert (moved.emails, moved.opted_out, moved.account_id) == (("ann.lee@acme.com",), True, None)
    assert contacts.find_contact_by_email(db, "ann@acme.com") is None
    assert contacts.list_contacts(db, acme.id) == []
    assert [c.name for c in contacts.list_contacts(db)] == ["Ann Lee"]


def test_deals_move_rot_and_weigh(ws: OpenWorkspace) -> None:
    db = ws.db
    acme = accounts.create_account(db, "ACME")
    deal = deals.create_deal(
        db, acme.id, "Solvents 2027", "proposal PRESENTED", pipeline=PIPE, value=10_000,
        next_action_due=date(2026, 1, 5),
    )
    assert (deal.stage, deal.account_name, deal.next_action_due) == (
        "Proposal presented", "ACME", date(2026, 1, 5),
    )
    assert deals.weighted_value(deal, PIPE) == 5_000
    with pytest.raises(InputError, match="unknown stage"):
        deals.create_deal(db, acme.id, "x", "Dreaming", pipeline=PIPE)
    with pytest.raises(InputError, match="probability"):
        deals.update_deal(db, deal.id, probability=140)
    deal = deals.update_deal(db, deal.id, probability=25, expected_close=date(2027, 3, 1))
    assert deals.effective_probability(deal, PIPE) == 25
    assert deals.update_deal(db, deal.id, probability=None).probability is None
    moved = deals.move_deal(db, deal.id, "Closing", pipeline=PIPE, note="signed soon")
    assert moved.stage == "Closing"
    timeline = activities.list_activities(db, acme.id)
    assert [(a.kind, a.from_stage, a.to_stage, a.body) for a in timeline] == [
        ("stage_change", "Proposal presented", "Closing", "signed soon")
    ]
    # Closing rots after 7 idle days.
    last = date.fromisoformat(moved.last_activity_utc[:10])
    assert not deals.is_rotting(moved, PIPE, last.replace(day=last.day))
    assert deals.is_rotting(moved, PIPE, date.fromordinal(last.toordinal() + 8))
    nxt = deals.set_next_action(db, deal.id, "send contract", date(2027, 1, 2))
    assert (nxt.next_action, nxt.next_action_due) == ("send contract", date(2027, 1, 2))
    assert [d.id for d in deals.list_deals(db, stage="closing")] == [deal.id]


def test_activities_objections_and_deal_activity(ws: OpenWorkspace) -> None:
    db = ws.db
    acme = accounts.create_account(db, "ACME")
    deal = deals.create_deal(db, acme.id, "Deal", "Prospect", pipeline=PIPE)
    objection = activities.add_activity(
        db, acme.id, "objection", body="too expensive", deal_id=deal.id,
        date_utc="2099-01-01T10:00:00Z",
    )
    assert objection.resolved is False
    assert deals.get_deal(db, deal.id).last_activity_utc == "2099-01-01T10:00:00Z"
    resolved = activities.resolve_objection(db, objection.id)
    assert resolved.resolved is True and resolved.resolved_utc
    note = activities.add_activity(db, acme.id, "note", body="hi", date_utc="2020-01-01T00:00:00Z")
    assert note.resolved is None
    with pytest.raises(InputError, match="not an objection"):
        activities.resolve_objection(db, note.id)
    with pytest.raises(InputError, match="unknown activity kind"):
        activities.add_activity(db, acme.id, "party")
    assert [a.kind for a in activities.list_activities(db, acme.id)] == ["objection", "note"]
    assert [a.kind for a in activities.list_activities(db, acme.id, kinds=["note"])] == ["note"]


def test_book_changes_relink_existing_mail(ws: OpenWorkspace) -> None:
    db = ws.db
    folder = messages.get_or_create_folder(db, "work", "INBOX", "inbox")
    mail = [
        messages.NewMessage(uid=1, message_id="a@x", from_addr="ann@acme.com",
                            date_utc="2026-01-05T10:00:00Z", subject="hello"),
        messages.NewMessage(uid=2, message_id="b@x", from_addr="bo@gmail.com",
                            date_utc="2026-01-06T10:00:00Z", subject="private"),
    ]
    messages.save_batch(db, folder.id, mail, last_uid=2, uidvalidity=1, highestmodseq=None,
                        my_addresses=frozenset({"me@mine.com"}))

    def links() -> set[tuple[str, str]]:
        return set(db.execute(
            "SELECT m.message_id, a.name FROM message_accounts l JOIN messages m ON m.id ="
            " l.message_id JOIN accounts a ON a.id = l.account_id").fetchall())

    acme = accounts.create_account(db, "ACME")
    assert links() == set()
    accounts.add_domain(db, acme.id, "acme.com")
    assert links() == {("a@x", "ACME")}
    bo = contacts.create_contact(db, account_id=None, name="Bo", emails=["bo@gmail.com"])
    contacts.update_contact(db, bo.id, account_id=acme.id)
    assert links() == {("a@x", "ACME"), ("b@x", "ACME")}
    accounts.remove_domain(db, acme.id, "acme.com")
    assert links() == {("b@x", "ACME")}


def test_book_text_is_stripped_of_terminal_escapes(ws: OpenWorkspace) -> None:
    """Names typed or pasted (from a hostile mail) never carry escapes to the next terminal."""
    db = ws.db
    acme = accounts.create_account(
        db, "Evil\x1b]0;pwned\x07 GmbH", domains=["Evil\x1b[0m.com"], owner="Sam\x9b2J",
        tags="a\x1b[31m, b\x00", notes="first\r\nsecond\tcol\x1b]2;x\x07\x07")
    assert (acme.name, acme.domains, acme.owner, acme.tags) == (
        "Evil GmbH", ("evil.com",), "Sam", ("a", "b"))
    assert acme.notes == "first\nsecond\tcol"
    acme = accounts.update_account(db, acme.id, name="Evil\u202e GmbH 2", owner="Kim\x1b[1m",
                                   notes="x\x1b[2Jy")
    assert (acme.name, acme.owner, acme.notes) == ("Evil GmbH 2", "Kim", "xy")
    ann = contacts.create_contact(db, account_id=acme.id, name="Ann\x1b]0;t\x07 Lee",
                                  emails=["ann@evil.com"], role="CFO\x07", phone="+49\x1b[5m 1")
    assert (ann.name, ann.role, ann.phone) == ("Ann Lee", "CFO", "+49 1")
    ann = contacts.update_contact(db, ann.id, name="Ann\tB", role="\x1b[8mBuyer")
    assert (ann.name, ann.role) == ("Ann B", "Buyer")
    deal = deals.create_deal(db, acme.id, "Big\x1b[41m deal", "Closing", pipeline=PIPE,
                             next_action="Call\x1b]0;x\x07 back")
    assert (deal.title, deal.next_action) == ("Big deal", "Call back")
    deal = deals.update_deal(db, deal.id, title="Bigger\x9b1m deal")
    deal = deals.set_next_action(db, deal.id, "Send\x07 offer", None)
    assert (deal.title, deal.next_action) == ("Bigger deal", "Send offer")
    note = activities.add_activity(db, acme.id, "note", subject="Sub\x1b[1mject",
                                   body="line 1\n\tline 2\x1b]0;pwned\x07\x08")
    assert (note.subject, note.body) == ("Subject", "line 1\n\tline 2")
