"""Provides the book's flows in the TUI: new / edit / win / lose / reopen / archive / undo.

Each is a coroutine run as a worker (it waits for modal screens) from a key or a palette entry.
What it works on comes from the screen in front (`BookContext`): the focused deal, the account
on screen, the message read. Every change is one undo step (BookActions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from rapport.tui.app.actions import ModuleOnFirstUse
from rapport.tui.app.safe import notify
from rapport.tui.app.screens.pick import PickScreen

if TYPE_CHECKING:
    from rapport.tui.app.application import RapportApp
    from rapport.tui.app.screens import record_form
else:
    record_form = ModuleOnFirstUse("rapport.tui.app.screens.record_form")  # with the first form, not at launch


@dataclass(frozen=True)
class BookContext:
    """What the screen in front is about: an account, a deal, a message's sender."""

    account_id: int | None = None
    deal_id: int | None = None
    sender_name: str = ""
    sender_email: str = ""


def context_of(app: RapportApp) -> BookContext:
    """The front screen's context (screens offer `book_context()`); empty when it has none."""
    for screen in reversed(app.screen_stack):
        offer = getattr(screen, "book_context", None)
        if offer is not None:
            return offer()
        if not screen.is_modal:
            break
    return BookContext()


def _done(app: RapportApp, summary: str | None) -> None:
    app.book_changed(summary)


async def _form(app: RapportApp, title: str, fields: Any, values: dict[str, str], save: Any) -> None:
    summary = await app.push_screen_wait(record_form.FormScreen(title, fields, values, save,
                                                    read_back=app.book.read_back))
    _done(app, summary)


async def new_account(app: RapportApp) -> None:
    await _form(app, "New account", record_form.ACCOUNT_FORM, {"tier": "standard"},
                lambda values: app.book.save_account(values, None))


async def edit_account(app: RapportApp) -> None:
    account_id = context_of(app).account_id
    if account_id is None:
        account_id = await app.push_screen_wait(app.account_picker("Edit which account?"))
        if account_id is None:
            return
    await _form(app, "Edit account", record_form.ACCOUNT_FORM, app.book.account_values(account_id),
                lambda values: app.book.save_account(values, account_id))


async def new_contact(app: RapportApp) -> None:
    """At the account on screen; from a message, the sender pre-filled at the account its domain
    (or its address) names, else one picked with the account finder (freemail senders)."""
    context = context_of(app)
    account_id = context.account_id
    account = app.actions.account_name(account_id) if account_id is not None else ""
    if context.sender_email and not account:
        account = app.actions.sender_owner(context.sender_email) or ""
        if not account:
            domain, freemail = app.actions.sender_domain(context.sender_email)
            why = f"{domain} is freemail" if freemail else f"no account has {domain}"
            picked = await app.push_screen_wait(app.account_picker(f"Account for {context.sender_email} ({why})"))
            if picked is None:
                return
            account = app.actions.account_name(picked)
    values = {"account": account, "name": context.sender_name, "email": context.sender_email, "opt_out": "no"}
    await _form(app, "New contact", record_form.CONTACT_FORM, values, lambda v: app.book.save_contact(v, None))


async def edit_contact(app: RapportApp) -> None:
    account_id = context_of(app).account_id
    if account_id is None:
        notify(app, "open an account (g) to edit one of its contacts", severity="warning")
        return
    people = app.book.contacts_of(account_id)
    if not people:
        notify(app, "this account has no contacts yet (+ adds one)", severity="warning")
        return
    contact_id = people[0].id if len(people) == 1 else await app.push_screen_wait(PickScreen(
        "Edit which contact?", [(f"{c.name} <{c.email}>", c.id) for c in people]))
    if contact_id is not None:
        await _form(app, "Edit contact", record_form.CONTACT_FORM, app.book.contact_values(contact_id),
                    lambda values: app.book.save_contact(values, contact_id))


def _open_stages(app: RapportApp) -> list[str]:
    return [s.name for s in app.opened.config.pipeline.stages if s.kind == "open"]


async def new_deal(app: RapportApp) -> None:
    context = context_of(app)
    account = app.actions.account_name(context.account_id) if context.account_id is not None else ""
    stages = _open_stages(app)
    values = {"account": account, "stage": stages[0] if stages else "", "currency": "EUR"}
    await _form(app, "New deal", record_form.deal_form(stages), values, lambda v: app.book.save_deal(v, None))


async def _deal(app: RapportApp, question: str, statuses: tuple[str, ...]) -> int | None:
    """The deal in front (the focused pipeline row), else one of the account's, picked if several."""
    context = context_of(app)
    if context.deal_id is not None:
        return context.deal_id
    if context.account_id is None:
        notify(app, "put the cursor on a deal in the pipeline, or open an account", severity="warning")
        return None
    pipeline = app.opened.config.pipeline
    found = [d for d in app.book.deals_of(context.account_id) if pipeline.kind(d.stage) in statuses]
    if not found:
        notify(app, f"this account has no {' or '.join(statuses)} deal", severity="warning")
        return None
    if len(found) == 1:
        return found[0].id
    return await app.push_screen_wait(PickScreen(question, [(f"{d.title} ({d.stage})", d.id) for d in found]))


async def edit_deal(app: RapportApp) -> None:
    deal_id = await _deal(app, "Edit which deal?", ("open", "won", "lost"))
    if deal_id is not None:
        await _form(app, "Edit deal", record_form.deal_form(_open_stages(app)), app.book.deal_values(deal_id),
                    lambda values: app.book.save_deal(values, deal_id))


def _refuse(app: RapportApp, deal_id: int, wanted: tuple[str, ...], doing: str) -> bool:
    status = app.book.status(deal_id)
    if status not in wanted:
        notify(app, f"this deal is {status}: {doing}", severity="warning")
        return True
    return False


async def mark_won(app: RapportApp) -> None:
    deal_id = await _deal(app, "Mark which deal won?", ("open",))
    if deal_id is None or _refuse(app, deal_id, ("open",), "reopen it first"):
        return
    values = app.book.deal_values(deal_id)
    answer = await app.push_screen_wait(app.prompt(
        f"Won: {values['title']} — final value ({values['currency']})", value=values["value"],
        check=app.book.check_value))
    if answer is not None:
        _done(app, app.book.win(deal_id, answer))


async def mark_lost(app: RapportApp) -> None:
    deal_id = await _deal(app, "Mark which deal lost?", ("open",))
    if deal_id is None or _refuse(app, deal_id, ("open",), "reopen it first"):
        return
    title = app.book.deal_values(deal_id)["title"]
    reasons = app.opened.config.pipeline.lost_reasons
    reason = await app.push_screen_wait(PickScreen(f"Lost: {title} — why?", [(r, r) for r in reasons]))
    if reason is None:
        return
    note = await app.push_screen_wait(app.prompt(f"Lost ({reason}): a note (optional, enter to skip)"))
    if note is not None:
        _done(app, app.book.lose(deal_id, reason, note))


async def reopen(app: RapportApp) -> None:
    deal_id = await _deal(app, "Reopen which deal?", ("won", "lost"))
    if deal_id is None or _refuse(app, deal_id, ("won", "lost"), "it is open already"):
        return
    _done(app, app.book.reopen(deal_id))


async def archive(app: RapportApp) -> None:
    """The focused deal; on an account, the account itself or one of its deals or contacts."""
    context = context_of(app)
    choice: tuple[str, int, str] | None
    if context.deal_id is not None:
        values = app.book.deal_values(context.deal_id)
        choice = ("deal", context.deal_id, values["title"])
    elif context.account_id is not None:
        name = app.actions.account_name(context.account_id)
        options: list[tuple[str, tuple[str, int, str]]] = [(f"account {name}", ("account", context.account_id, name))]
        options += [(f"deal {d.title} ({d.stage})", ("deal", d.id, d.title))
                    for d in app.book.deals_of(context.account_id)]
        options += [(f"contact {c.name} <{c.email}>", ("contact", c.id, c.name or c.email))
                    for c in app.book.contacts_of(context.account_id)]
        choice = await app.push_screen_wait(PickScreen("Archive what? (ctrl+z brings it back)", options))
    else:
        notify(app, "put the cursor on a deal, or open an account, to archive", severity="warning")
        return
    if choice is not None:
        kind, item_id, name = choice
        _done(app, app.book.archive(kind, item_id, name))
        if kind == "account" and context.account_id == item_id and not app.screen.is_modal:
            app.pop_screen()  # its screen would show what is no longer in the book


def undo(app: RapportApp) -> None:
    summary = app.book.undo()
    if summary == "nothing to undo":
        notify(app, summary, severity="warning")
    else:
        _done(app, summary)


FLOWS = {flow.__name__: flow for flow in (new_account, edit_account, new_contact, edit_contact, new_deal,
                                          edit_deal, mark_won, mark_lost, reopen, archive)}


class BookKeys:
    """The app's book actions (a mixin of RapportApp): the palette entries and ctrl+z run these."""

    def action_book(self, flow: str) -> None:
        """Run one of the flows above by name: forms, won/lost/reopen, archive."""
        app = cast("RapportApp", self)  # a mixin of RapportApp only
        if flow in FLOWS:
            app.run_worker(FLOWS[flow](app), group="book-flow", exclusive=True)

    def action_undo(self) -> None:
        undo(cast("RapportApp", self))  # a mixin of RapportApp only

    def book_changed(self, summary: str | None) -> None:
        """A flow changed the book: say what, and re-read the screens in view."""
        app = cast("RapportApp", self)  # a mixin of RapportApp only
        if summary:
            notify(app, summary)
            app._refresh_screens()
