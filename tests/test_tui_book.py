"""Pilot tests of running the book from the keyboard: forms, won/lost/reopen, archive, undo (issue 13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from rapport.store.book import accounts, activities, contacts, deals
from rapport.tui.app.application import RapportApp
from rapport.tui.app.screens.account import AccountScreen
from rapport.tui.app.screens.account_picker import AccountPicker
from rapport.tui.app.screens.main import MainScreen
from rapport.tui.app.screens.pick import PickScreen
from rapport.tui.app.screens.prompt import PromptScreen
from rapport.tui.app.screens.record_form import ConfirmScreen, FormScreen
from tests.test_tui_app import (
    _linked,
    _notes,
    drive,
    pick_account,
    settle,
    to_first_deal,
    type_answer,
)
from tests.tui_workspace import build_template, copy_home


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("tui-book"))


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    return copy_home(template, tmp_path)


def fill(app: RapportApp, **values: str) -> None:
    for name, value in values.items():
        app.screen.query_one(f"#field-{name}", Input).value = value


def note(app: RapportApp, name: str) -> str:
    return str(app.screen.query_one(f"#note-{name}").render())


async def palette(pilot: Any, label: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*label)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await pilot.pause()


def test_each_object_through_its_form(home: Path) -> None:
    seen: list = []

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        await palette(pilot, "New account")
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*"Zeta")  # typed into the first field
        fill(app, domains="zeta.example, not a domain", tier="gold", tags="new, chem")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen), "a refused save keeps the form open"
        assert "not a domain name" in note(app, "domains") and "tier must be" in note(app, "tier")
        assert app.screen.values()["name"] == "Zeta" and app.screen.values()["tags"] == "new, chem"
        fill(app, domains="zeta.example", tier="key")
        await pilot.press("ctrl+s")
        await settle(pilot)
        zeta = accounts.find_account(db, "Zeta")
        assert zeta is not None and (zeta.domains, zeta.tier, zeta.tags) == (("zeta.example",), "key", ("new", "chem"))
        assert any("account Zeta created" in n for n in _notes(seen))

        app.open_account(zeta.id)
        await pilot.pause()
        await pilot.press("plus")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen) and app.screen.values()["account"] == "Zeta"
        fill(app, name="Zoe Park", email="zoe@zeta.example", role="Buyer")
        await pilot.press("tab", "tab", "tab", "tab", "tab")  # to the last field (opt-out)
        await pilot.press("enter")  # enter on the last field saves
        await settle(pilot)
        zoe = contacts.find_contact_by_email(db, "zoe@zeta.example")
        assert zoe is not None and (zoe.name, zoe.role, zoe.account_id) == ("Zoe Park", "Buyer", zeta.id)

        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen) and app.screen.values()["account"] == "Zeta"
        fill(app, title="Pilot order", value="lots", due="someday")
        await pilot.pause()
        assert "not a date" in note(app, "due")
        fill(app, due="in 3 days")
        await pilot.pause()
        assert note(app, "due") == "→ Sat 21 Nov 2026 (in 3 days)"  # read back before saving
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "bad amount 'lots'" in note(app, "value") and "needs a next action" in note(app, "next_action")
        fill(app, value="12,500", next_action="Send samples")
        await pilot.press("ctrl+s")
        await settle(pilot)
        [deal] = deals.list_deals(db, account_id=zeta.id)
        assert (deal.title, deal.stage, deal.value, deal.next_action_due.isoformat()) == (
            "Pilot order", "Prospect", 12500, "2026-11-21")

        # e edits the account; escape after typing asks first, and "n" keeps the form.
        await pilot.press("e")
        await pilot.pause()
        fill(app, notes="met at the fair")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert accounts.get_account(db, zeta.id).notes == "met at the fair"
        # Untouched form: escape closes at once.
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen)

        await palette(pilot, "Edit contact")
        fill(app, phone="+33 1 23")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert contacts.get_contact(db, zoe.id).phone == "+33 1 23"
        await palette(pilot, "Edit deal")
        assert app.screen.values()["title"] == "Pilot order"
        fill(app, stage="Won / support")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "won stage" in note(app, "stage")  # winning is a decision, not a stage edit
        fill(app, stage="Closing", probability="70")
        await pilot.press("ctrl+s")
        await settle(pilot)
        edited = deals.get_deal(db, deal.id)
        assert (edited.stage, edited.probability) == ("Closing", 70)

    drive(home, body, seen=seen)


def test_win_lose_reopen_and_arrows_never_decide(home: Path) -> None:
    seen: list = []

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        row = await to_first_deal(app, pilot)
        deal = row.deal
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, PickScreen)
        await pilot.press("down", "down", "enter")  # price, timing, competitor
        await type_answer(pilot, "went with the cheaper one")
        lost = deals.get_deal(db, deal.id)
        assert (lost.stage, lost.lost_reason, lost.lost_note) == ("Lost", "competitor", "went with the cheaper one")
        pipeline = app.screen.query_one("#pipeline")
        assert pipeline.current_row.deal.id == deal.id  # the cursor follows the deal
        await pilot.press("less_than_sign")
        await pilot.pause()
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert deals.get_deal(db, deal.id).stage == "Lost"  # < and > never move a lost deal
        assert any("this deal is lost" in n for n in _notes(seen))
        await pilot.press("O")
        await settle(pilot)
        assert deals.get_deal(db, deal.id).stage == deal.stage
        await pilot.press("W")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await type_answer(pilot, "not money")
        assert isinstance(app.screen, PromptScreen)  # refused in place
        await type_answer(pilot, "55,000")
        won = deals.get_deal(db, deal.id)
        assert (won.stage, won.value) == ("Won / support", 55000)
        subjects = [a.subject for a in activities.list_activities(db, deal.account_id, kinds=["stage_change"])][:3]
        assert subjects == ["Won at 55,000 EUR", f"Reopened in {deal.stage}", "Lost: competitor"]
        await palette(pilot, "Reopen deal")
        assert deals.get_deal(db, deal.id).stage == deal.stage
        await palette(pilot, "Mark deal lost")
        await pilot.press("enter")  # price
        await type_answer(pilot, "")
        assert deals.get_deal(db, deal.id).lost_reason == "price"

    drive(home, body, seen=seen)


def test_archive_and_undo_step_by_step(home: Path) -> None:
    seen: list = []

    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        row = await to_first_deal(app, pilot)
        deal = row.deal
        pipeline = app.screen.query_one("#pipeline")
        await pilot.press("greater_than_sign")
        await pilot.pause()
        moved = deals.get_deal(db, deal.id).stage
        await pilot.press("E")
        await type_answer(pilot, "99999; ; ")
        await pilot.press("X")
        await settle(pilot)
        assert deal.id not in {d.id for d in deals.list_deals(db)}
        shown = [pipeline.row(i) for i in range(pipeline.row_count)]
        assert all(r.deal is None or r.deal.id != deal.id for r in shown)
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert deal.id in {d.id for d in deals.list_deals(db)}
        assert any("undone: archive deal" in n for n in _notes(seen))
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert deals.get_deal(db, deal.id).value == deal.value
        await palette(pilot, "Undo")
        assert deals.get_deal(db, deal.id).stage == deal.stage != moved
        assert any("undone: stage move" in n for n in _notes(seen))
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert any("nothing to undo" in n for n in _notes(seen))

        # An account: a note, an objection resolved, then the account archived; undone in turn.
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountScreen)
        account_id = app.screen.account_id
        before = len(activities.list_activities(db, account_id))
        await pilot.press("n")
        await pilot.pause()
        if isinstance(app.screen, PickScreen):
            await pilot.press("enter")
        await type_answer(pilot, "undo me")
        assert len(activities.list_activities(db, account_id)) == before + 1
        await pilot.press("X")
        await pilot.pause()
        assert isinstance(app.screen, PickScreen)
        await pilot.press("enter")  # the account itself
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert account_id not in {a.id for a in accounts.list_accounts(db)}
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert account_id in {a.id for a in accounts.list_accounts(db)}
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert len(activities.list_activities(db, account_id)) == before
        assert any("undone: new note" in n for n in _notes(seen))

    drive(home, body, seen=seen)


def test_new_contact_from_a_freemail_sender(home: Path) -> None:
    async def body(app: RapportApp, pilot: Any) -> None:
        db = app.opened.db
        inbox = app.screen.query_one("#inbox")
        await pilot.press("tab", "u")
        await pilot.pause()
        rows = [inbox.row(i) for i in range(inbox.row_count)]
        free = next(r for r in rows if app.actions.sender_domain(r.from_addr)[1]
                    and contacts.find_contact_by_email(db, r.from_addr) is None)
        inbox.cursor = rows.index(free)
        await pilot.press("plus")
        await pilot.pause()
        assert isinstance(app.screen, AccountPicker)  # freemail: which account?
        target = accounts.list_accounts(db)[0]
        await pick_account(pilot, target.name)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        values = app.screen.values()
        assert (values["account"], values["email"]) == (target.name, free.from_addr)
        await pilot.press("ctrl+s")
        await settle(pilot)
        contact = contacts.find_contact_by_email(db, free.from_addr)
        assert contact is not None and contact.account_id == target.id
        assert target.name in _linked(db, free.id)  # freemail mail now matches by contact
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert contacts.find_contact_by_email(db, free.from_addr) is None

    drive(home, body)
