"""Provides `FormScreen`: one modal form per record (account, contact, deal) and `ConfirmScreen`.

`tab` / `shift+tab` move between fields, `enter` goes to the next field and saves on the last,
`ctrl+s` saves from anywhere, `escape` cancels (asking first only if something was typed). A
refused save shows each reason under its field and keeps everything typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from rapport.store.book.records import FieldErrors
from rapport.store.errors import RapportError
from rapport.tui.app.safe import clean, safe_text


@dataclass(frozen=True)
class FormField:
    """One line of a form: `hint` is shown under it until it has something to say (a date read back)."""

    name: str
    label: str
    hint: str = ""
    is_date: bool = False


ACCOUNT_FORM = (
    FormField("name", "Name"),
    FormField("domains", "Domains", "several: acme.com, acme.de"),
    FormField("tier", "Tier", "key or standard"),
    FormField("tags", "Tags", "comma-separated"),
    FormField("notes", "Notes"),
)
CONTACT_FORM = (
    FormField("account", "Account", "its name or domain (blank: none)"),
    FormField("name", "Name"),
    FormField("email", "Email"),
    FormField("role", "Role"),
    FormField("phone", "Phone"),
    FormField("opt_out", "Opt-out", "yes: never in announcements"),
)


def deal_form(open_stages: Sequence[str]) -> tuple[FormField, ...]:
    return (
        FormField("account", "Account", "its name or domain"),
        FormField("title", "Title"),
        FormField("stage", "Stage", "open stages: " + ", ".join(open_stages)),
        FormField("value", "Value"),
        FormField("currency", "Currency", "EUR, USD…"),
        FormField("probability", "Probability %", "blank: the stage's default"),
        FormField("expected_close", "Expected close", "2026-12-03, end of month, in 2 weeks…", is_date=True),
        FormField("next_action", "Next action"),
        FormField("due", "Due", "fri, tomorrow 10am, in 3 days…", is_date=True),
    )


class _FormBody(VerticalScroll, can_focus=False):
    """Scrolls a long form on a short terminal; never takes the focus itself, so tab and
    shift+tab only ever land on fields (a focused container would swallow what is typed)."""


# Saves the typed values and returns what to notify; FieldErrors / RapportError refuse them.
Save = Callable[[dict[str, str]], str]


class FormScreen(ModalScreen[str | None]):
    """A record's fields; dismissed with the save's summary, or None when cancelled."""

    BINDING_GROUP_TITLE = "Form"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]
    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > _FormBody { width: 90%; max-width: 90; height: auto; max-height: 100%;
                                  border: round $accent; background: $surface; padding: 0 1; }
    FormScreen .form-row { height: 1; }
    FormScreen .form-label { width: 16; color: $text-muted; }
    FormScreen Input, FormScreen Input:focus { height: 1; border: none; padding: 0 1; width: 1fr;
                                               background: $boost; }
    FormScreen Input:focus { background: $accent 30%; }
    FormScreen .form-note { height: auto; padding-left: 16; color: $text-muted; }
    FormScreen .form-note.-empty { display: none; }
    FormScreen .form-note.-error { color: $error; }
    FormScreen #form-error { color: $error; height: auto; }
    FormScreen #form-error.-empty { display: none; }
    FormScreen #form-keys { color: $text-muted; height: 1; }
    """

    def __init__(self, title: str, fields: Sequence[FormField], values: Mapping[str, str], save: Save,
                 *, read_back: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self._title = title
        self._fields = tuple(fields)
        self._initial = {f.name: clean(values.get(f.name, "") or "") for f in self._fields}
        self._save = save
        self._read_back = read_back

    def compose(self) -> ComposeResult:
        with _FormBody():
            yield Static(safe_text(self._title, "bold"), id="form-title")
            for field in self._fields:
                with Horizontal(classes="form-row"):
                    yield Label(field.label, classes="form-label")
                    yield Input(value=self._initial[field.name], id=f"field-{field.name}")
                yield Static(safe_text(field.hint), id=f"note-{field.name}",
                             classes="form-note" + ("" if field.hint else " -empty"))
            yield Static("", id="form-error", classes="-empty")
            yield Static("tab next · enter on the last field or ctrl+s saves · escape cancels", id="form-keys")

    def on_mount(self) -> None:
        for field in self._fields:
            if field.is_date:
                self._show_date(field)
        self.query_one(f"#field-{self._fields[0].name}", Input).focus()

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#field-{f.name}", Input).value for f in self._fields}

    def _field(self, input_id: str | None) -> FormField | None:
        return next((f for f in self._fields if f"field-{f.name}" == input_id), None)

    def _note(self, name: str, text: str, *, error: bool = False) -> None:
        """The line under a field: its hint, a date read back, or why it was refused (hidden if empty)."""
        note = self.query_one(f"#note-{name}", Static)
        note.update(safe_text(text))
        note.set_class(error, "-error")
        note.set_class(not text, "-empty")

    def _show_date(self, field: FormField) -> None:
        text = self.query_one(f"#field-{field.name}", Input).value
        shown = self._read_back(text) if self._read_back and text.strip() else field.hint
        self._note(field.name, shown, error=not shown.startswith("→") and bool(text.strip()))

    def on_input_changed(self, event: Input.Changed) -> None:
        field = self._field(event.input.id)
        if field is not None and field.is_date:
            self._show_date(field)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == f"field-{self._fields[-1].name}":
            self.action_save()
        else:
            self.focus_next()

    def action_save(self) -> None:
        for field in self._fields:
            if not field.is_date:
                self._note(field.name, field.hint)
        self.query_one("#form-error", Static).update("")
        self.query_one("#form-error", Static).add_class("-empty")
        try:
            summary = self._save(self.values())
        except FieldErrors as exc:
            for name, reason in exc.errors.items():
                self._note(name, reason, error=True)
            self.query_one(f"#field-{next(iter(exc.errors))}", Input).focus()
            return
        except RapportError as exc:
            self.query_one("#form-error", Static).update(safe_text(exc.message))
            self.query_one("#form-error", Static).remove_class("-empty")
            return
        self.dismiss(summary)

    @work(exclusive=True, group="form-cancel")
    async def action_cancel(self) -> None:
        if self.values() != self._initial:
            if not await self.app.push_screen_wait(ConfirmScreen("Discard what you typed? (y / n)")):
                return
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: `y` or `enter` is yes, `n` or `escape` no."""

    BINDING_GROUP_TITLE = "Confirm"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Static { width: auto; max-width: 80%; border: round $warning; background: $surface;
                             padding: 0 1; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        yield Static(safe_text(self._question))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
