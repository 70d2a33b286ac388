"""Tests the book's decisions, archiving, undo journal and form records in the store (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from rapport.store.book import accounts, activities, archive, contacts, deals, decisions, records
from rapport.store.book.undo import UndoJournal
from rapport.store.config import parse_config
from rapport.store.errors import ConfigError, InputError
from rapport.store.mailstore.announcements import Segment, select_audience
from rapport.store.session import OpenWorkspace, open_workspace

TODAY = date(2026, 11, 18)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[OpenWorkspace]:
    opened = open_workspace(str(tmp_path / "home"))
    yield opened
    opened.close()


def _book(ws: OpenWorkspace) -> tuple[accounts.Account, deals.Deal]:
    account = accounts.create_account(ws.db, "Acme", domains=["acme.example"], tier="key")
    deal = deals.create_deal(ws.db, account.id, "Resin", "Closing", pipeline=ws.config.pipeline, value=40000)
    return account, deal


def test_won_lost_reopen_are_decisions(ws: OpenWorkspace) -> None:
    pipeline = ws.config.pipeline
    _account, deal = _book(ws)
    won = decisions.win_deal(ws.db, deal.id, pipeline=pipeline, value=38000)
    assert (won.stage, won.value, won.open_stage) == ("Won / support", 38000, "Closing")
    with pytest.raises(InputError, match="already won"):
        decisions.lose_deal(ws.db, deal.id, "price", pipeline=pipeline)
    back = decisions.reopen_deal(ws.db, deal.id, pipeline=pipeline)
    assert (back.stage, back.open_stage) == ("Closing", None)
    with pytest.raises(InputError, match="unknown lost reason 'dunno'.*price, timing"):
        decisions.lose_deal(ws.db, deal.id, "dunno", pipeline=pipeline)
    lost = decisions.lose_deal(ws.db, deal.id, "No Budget", pipeline=pipeline, note="frozen until Q3")
    assert (lost.stage, lost.lost_reason, lost.lost_note) == ("Lost", "no budget", "frozen until Q3")
    with pytest.raises(InputError, match="already lost"):
        decisions.move_open_deal(ws.db, deal.id, "Prospect", pipeline=pipeline)
    with pytest.raises(InputError, match="open already"):
        decisions.reopen_deal(ws.db, decisions.reopen_deal(ws.db, deal.id, pipeline=pipeline).id, pipeline=pipeline)
    with pytest.raises(InputError, match="lost stage"):
        decisions.move_open_deal(ws.db, deal.id, "Lost", pipeline=pipeline)
    subjects = [a.subject for a in activities.list_activities(ws.db, deal.account_id, kinds=["stage_change"])]
    assert subjects == ["Reopened in Closing", "Lost: no budget", "Reopened in Closing", "Won at 38,000 EUR"]


def test_arrows_stay_among_open_stages(ws: OpenWorkspace) -> None:
    pipeline = ws.config.pipeline
    assert pipeline.open_neighbour("Closing", 1) is None  # never into Won / support
    assert pipeline.open_neighbour("Prospect", -1) is None
    assert pipeline.open_neighbour("Objections", 1).name == "Closing"
    assert pipeline.open_neighbour("Lost", -1) is None  # `<` on a lost deal: nothing
    assert pipeline.open_neighbour("Referral", -1) is None


def test_lost_reasons_config(tmp_path: Path) -> None:
    config = parse_config({"pipeline": {"lost_reasons": ["price", " too  late ", "price"]}})
    assert config.pipeline.lost_reasons == ("price", "too late")
    assert parse_config({}).pipeline.lost_reasons == (
        "price", "timing", "competitor", "no budget", "no decision", "other")
    with pytest.raises(ConfigError, match="lost_reasons"):
        parse_config({"pipeline": {"lost_reasons": "price"}})


def test_archive_hides_and_keeps_history(ws: OpenWorkspace) -> None:
    account, deal = _book(ws)
    ann = contacts.create_contact(ws.db, account_id=account.id, name="Ann", emails=["ann@acme.example"])
    activities.add_activity(ws.db, account.id, "note", body="kept")
    assert archive.archive(ws.db, "contact", archive.resolve_ref(ws.db, "contact", "ANN@acme.example"))
    assert not archive.archive(ws.db, "contact", ann.id)  # twice: nothing changes
    assert contacts.list_contacts(ws.db, account.id) == []
    assert select_audience(ws.db, Segment()).eligible == ()
    assert archive.archived_contact_addresses(ws.db) == {"ann@acme.example"}
    archive.archive(ws.db, "deal", deal.id)
    assert deals.list_deals(ws.db) == [] and len(deals.list_deals(ws.db, archived=True)) == 1
    archive.archive(ws.db, "account", archive.resolve_ref(ws.db, "account", "acme"))
    assert accounts.list_accounts(ws.db) == [] and accounts.search_accounts(ws.db, "acme") == []
    assert [a.body for a in activities.list_activities(ws.db, account.id)] == ["kept"]
    with pytest.raises(InputError, match="named by its id"):
        archive.resolve_ref(ws.db, "deal", "Resin")


def test_undo_journal_steps_back_one_change_at_a_time(ws: OpenWorkspace) -> None:
    pipeline = ws.config.pipeline
    account, deal = _book(ws)
    journal = UndoJournal()
    journal.record(ws.db, "move", lambda: decisions.move_open_deal(ws.db, deal.id, "Objections", pipeline=pipeline))
    journal.record(ws.db, "lost", lambda: decisions.lose_deal(ws.db, deal.id, "price", pipeline=pipeline))
    note = journal.record(ws.db, "note", lambda: activities.add_activity(ws.db, account.id, "objection", body="x"))
    journal.record(ws.db, "resolve", lambda: activities.resolve_objection(ws.db, note.id))
    journal.record(ws.db, "archive", lambda: archive.archive(ws.db, "account", account.id))
    journal.record(ws.db, "nothing", lambda: None)  # wrote nothing: no step
    assert journal.labels == ["move", "lost", "note", "resolve", "archive"]
    assert journal.undo(ws.db) == "archive" and accounts.list_accounts(ws.db)
    assert journal.undo(ws.db) == "resolve" and not activities.get_activity(ws.db, note.id).resolved
    assert journal.undo(ws.db) == "note"
    assert [a.kind for a in activities.list_activities(ws.db, account.id)] == ["stage_change", "stage_change"]
    assert journal.undo(ws.db) == "lost"
    current = deals.get_deal(ws.db, deal.id)
    assert (current.stage, current.lost_reason, current.open_stage) == ("Objections", "", None)
    assert journal.undo(ws.db) == "move" and deals.get_deal(ws.db, deal.id) == deal
    assert activities.list_activities(ws.db, account.id) == []
    assert journal.undo(ws.db) is None


def test_undo_journal_across_connections(ws: OpenWorkspace) -> None:
    """A change made on a worker's own connection is undone on the app's."""
    account, deal = _book(ws)
    journal = UndoJournal()
    other = ws.reopen_db()
    journal.record(other, "edit", lambda: deals.update_deal(other, deal.id, value=1))
    other.close()
    assert journal.undo(ws.db) == "edit" and deals.get_deal(ws.db, deal.id).value == 40000


def test_records_check_every_field_like_the_importer(ws: OpenWorkspace) -> None:
    pipeline = ws.config.pipeline
    _book(ws)
    with pytest.raises(records.FieldErrors) as caught:
        records.save_deal(ws.db, {"account": "nope", "title": "", "stage": "Won / support", "value": "12,5x",
                                  "currency": "euro", "probability": "140", "expected_close": "someday",
                                  "next_action": "", "due": "fri"}, pipeline=pipeline, today=TODAY)
    errors = caught.value.errors
    assert set(errors) == {"account", "title", "stage", "value", "currency", "probability", "expected_close",
                           "next_action"}
    assert errors["value"] == "bad amount '12,5x' in value"  # the importer's words
    assert "won stage" in errors["stage"]
    assert deals.list_deals(ws.db) and len(deals.list_deals(ws.db)) == 1  # nothing written
    deal = records.save_deal(ws.db, {"account": "acme.example", "title": "Solvents", "value": "12.500,50",
                                     "expected_close": "end of month", "next_action": "call",
                                     "due": "in 2 weeks"}, pipeline=pipeline, today=TODAY)
    assert (deal.stage, deal.value, deal.expected_close, deal.next_action_due) == (
        "Prospect", 12500.5, date(2026, 11, 30), date(2026, 12, 2))
    with pytest.raises(records.FieldErrors) as dup:
        records.save_account(ws.db, {"name": "ACME", "domains": "acme.example, bad domain!"})
    assert set(dup.value.errors) == {"domains"}
    with pytest.raises(records.FieldErrors) as taken:
        records.save_account(ws.db, {"name": "Acme", "domains": "other.example"})
    assert "already exists" in taken.value.errors["name"]
    contact = records.save_contact(ws.db, {"account": "Acme", "email": "Bo@Acme.example", "opt_out": "yes"})
    assert contact.opted_out and contact.emails == ("bo@acme.example",)
    with pytest.raises(records.FieldErrors) as mine:
        records.save_contact(ws.db, {"email": "bo@acme.example", "opt_out": "maybe"})
    assert set(mine.value.errors) == {"email", "opt_out"}
