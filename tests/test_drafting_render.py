"""Template loading and sandboxed rendering: built-ins, errors with template+line, sandbox, filters."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from rapport.mail.draft.context import (
    MessageView,
    Promotion,
    build_context,
    contact_view,
    load_promotion,
    message_view,
)
from rapport.mail.draft.filters import first_name, money
from rapport.mail.draft.install import builtin_templates, install_default_templates
from rapport.mail.draft.render import (
    DraftTemplateError,
    TemplateSandboxError,
    list_templates,
    load_template,
    parse_template,
    render_draft,
)
from rapport.store.book.accounts import create_account
from rapport.store.book.contacts import create_contact
from rapport.store.book.deals import create_deal
from rapport.store.book.stages import Pipeline
from rapport.store.config import Me
from rapport.store.errors import InputError, NotFoundError
from rapport.store.workspace import Workspace

ME = Me(name="Sam Seller", email="sam@rapport.example", signature="Sam Seller\nRapport GmbH")


class _Msg:
    message_id = "m1@acme.example"
    from_name = "Alice Martin"
    from_addr = "alice@acme.example"
    date_utc = "2026-11-02T10:15:00Z"
    subject = "Price list please"
    body_text = "Hello Sam,\n\ncould you send the price list?\n"


def _full_context(ws) -> dict:
    account = create_account(ws.db, "Acme Chemicals", domains=["acme.example"], tier="key")
    contact = create_contact(ws.db, account_id=account.id, name="Alice Martin",
                             emails=["alice@acme.example"])
    deal = create_deal(ws.db, account.id, "Solvents 2027", "Proposal presented",
                       pipeline=Pipeline(), value=12500, expected_close=date(2026, 12, 15))
    promo = Promotion("Winter offer", ("Solvent X", "Cleaner Y"), date(2026, 12, 1),
                      date(2027, 1, 31), "https://rapport.example/winter")
    return build_context(ME, today=date(2026, 11, 22), account=account, contact=contact,
                         deal=deal, message=_Msg(), promotion=promo)


def test_builtins_install_private_and_render_with_full_context(ws) -> None:
    installed = install_default_templates(ws.workspace)
    expected = {"acknowledge", "follow_up_meeting", "proposal_sent", "objection_answer",
                "referral_request", "promotion"}
    assert set(installed) == expected == set(builtin_templates())
    directory = ws.workspace.templates_dir
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in directory.iterdir())
    # User edits survive a second install.
    (directory / "acknowledge.j2").write_text("+++\nkind = \"reply\"\n+++\nmine\n")
    assert install_default_templates(ws.workspace) == []
    assert load_template(directory, "acknowledge").body_source == "mine\n"
    # A deleted built-in stays deleted: each is installed once per workspace.
    (directory / "referral_request.j2").unlink()
    assert install_default_templates(ws.workspace) == []
    assert not (directory / "referral_request.j2").exists()
    for name in ("acknowledge", "referral_request"):
        (directory / f"{name}.j2").write_text(builtin_templates()[name])

    context = _full_context(ws)
    drafts = {t.name: render_draft(t, context) for t in list_templates(directory)}
    assert drafts["acknowledge"].subject == "Re: Price list please"
    assert drafts["acknowledge"].body.startswith("Dear Alice,\n")
    assert "2 November" in drafts["acknowledge"].body
    assert "Tuesday 24 November" in drafts["acknowledge"].body  # today + 2 days
    assert "€12,500.00" in drafts["proposal_sent"].body
    assert drafts["proposal_sent"].to == "Alice Martin <alice@acme.example>"
    promo = drafts["promotion"]
    assert promo.kind == "announcement"
    assert promo.subject == "Winter offer for Acme Chemicals"
    assert "- Solvent X\n- Cleaner Y\n" in promo.body
    assert "1 December to 31 January 2027" in promo.body
    assert drafts["referral_request"].subject == "A small favour, Alice?"


def test_missing_variable_names_template_line_and_variable(ws) -> None:
    install_default_templates(ws.workspace)
    template = load_template(ws.workspace.templates_dir, "proposal_sent")
    context = _full_context(ws)
    del context["deal"]
    with pytest.raises(DraftTemplateError) as caught:
        render_draft(template, context)
    # proposal_sent.j2: the first use of `deal` is in the subject, line 4 of the file.
    lines = template.path.read_text().splitlines()
    first_use = next(i for i, line in enumerate(lines, 1) if "deal." in line)
    assert caught.value.message == (
        f"template 'proposal_sent', line {first_use}: 'deal' is undefined (variable missing)"
    )
    assert "\n" not in caught.value.message


def test_missing_variable_in_front_matter_and_syntax_error() -> None:
    template = parse_template('+++\nkind = "new"\nsubject = "For {{ who }}"\n+++\nhi\n', "t")
    with pytest.raises(DraftTemplateError, match=r"^template 't', line 3: 'who' is undefined"):
        render_draft(template, {})
    with pytest.raises(DraftTemplateError, match=r"^template 'bad', line 5: unexpected 'end of print statement'"):
        parse_template('+++\nkind = "new"\n+++\nline 4\n{{ x + }}\nline 6\n', "bad")
    with pytest.raises(DraftTemplateError, match=r"^template 'bad', line 7: .*'endif'"):
        parse_template('+++\nkind = "new"\n+++\nline 4\nline 5\n{% if x %}\nno end\n', "bad")
    with pytest.raises(DraftTemplateError, match="kind must be one of"):
        parse_template('+++\nkind = "spam"\n+++\n', "k")
    with pytest.raises(DraftTemplateError, match="unknown front matter key 'bcc'"):
        parse_template('+++\nbcc = "x@y.z"\n+++\n', "k")
    with pytest.raises(DraftTemplateError, match="no closing"):
        parse_template('+++\nkind = "new"\nbody\n', "k")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ me.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_sandbox_escapes_fail_with_security_error(source: str) -> None:
    template = parse_template(f'+++\nkind = "new"\n+++\nline 4\n{source}\n', "evil")
    with pytest.raises(TemplateSandboxError) as caught:
        render_draft(template, build_context(ME, today=date(2026, 1, 1)))
    assert isinstance(caught.value, SecurityError)
    assert isinstance(caught.value, InputError)  # so the CLI prints one line, exit 2
    assert caught.value.message.startswith("template 'evil', line 5: not allowed in templates")
    assert "\n" not in caught.value.message


def test_header_injection_from_data_is_refused() -> None:
    template = parse_template('+++\nkind = "new"\nsubject = "Hi {{ contact.name }}"\n'
                              'to = "{{ contact.email }}"\n+++\nbody\n', "inj")

    class Evil:
        id, emails, role, phone = 1, ("x@acme.example\r\nBcc: all@evil.example",), "", ""
        name = "Eve"

    with pytest.raises(DraftTemplateError, match="rendered to contains a line break"):
        render_draft(template, build_context(ME, today=date(2026, 1, 1), contact=Evil()))
    Evil.name, Evil.emails = "Eve\nBcc: all@evil.example", ("x@acme.example",)
    with pytest.raises(DraftTemplateError, match="rendered subject contains a line break"):
        render_draft(template, build_context(ME, today=date(2026, 1, 1), contact=Evil()))


def test_filters_and_views() -> None:
    assert first_name("Doe, Jane") == "Jane"
    assert first_name("jane.doe@acme.example") == "Jane"
    assert first_name("  ") == ""
    assert money(-1234.5, "USD") == "-$1,234.50"
    assert money(99, "SEK", 0) == "99 SEK"
    template = parse_template('{{ when | date("%d/%m/%Y") }} {{ "2026-03-04" | date }}', "f")
    assert render_draft(template, {"when": date(2026, 1, 2)}).body == "02/01/2026 4 March 2026"
    with pytest.raises(DraftTemplateError, match="cannot read 'soon' as a date"):
        render_draft(template, {"when": "soon"})
    view = message_view(_Msg())
    assert isinstance(view, MessageView)
    assert view.quoted.splitlines() == [
        "On Mon, 2 Nov 2026 at 10:15 UTC, Alice Martin <alice@acme.example> wrote:",
        "> Hello Sam,", ">", "> could you send the price list?",
    ]

    class C:
        id, name, emails, role, phone = 3, "", ("bob.stone@x.example",), "", ""

    assert contact_view(C()).first_name == "Bob"


def test_promotion_file(tmp_path: Path) -> None:
    path = tmp_path / "promo.toml"
    path.write_text('name = "Spring"\nproducts = ["A"]\nstart = 2026-03-01\nend = 2026-04-01\n')
    promo = load_promotion(path)
    assert promo == Promotion("Spring", ("A",), date(2026, 3, 1), date(2026, 4, 1), "")
    assert promo.dates == "1 March 2026 – 1 April 2026"
    path.write_text('name = "Spring"\nstart = 2026-05-01\nend = 2026-04-01\n')
    with pytest.raises(InputError, match="end 2026-04-01 is before start"):
        load_promotion(path)
    with pytest.raises(InputError, match="cannot read promotion file"):
        load_promotion(tmp_path / "missing.toml")


def test_unknown_template_lists_available(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path, tmp_path)
    install_default_templates(workspace)
    with pytest.raises(NotFoundError, match=r"no template 'nope' .*available: acknowledge"):
        load_template(workspace.templates_dir, "nope")
    with pytest.raises(InputError, match="not a plain file name"):
        load_template(workspace.templates_dir, "../config")


def test_front_matter_toml_errors_name_the_file_line() -> None:
    with pytest.raises(DraftTemplateError) as caught:
        parse_template('+++\nkind = "new"\nsubject = \n+++\nbody\n', "t")
    assert caught.value.message == ("template 't', line 3: front matter is not valid TOML: "
                                    "Invalid value (column 11)")
