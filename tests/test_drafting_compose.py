"""Building emails from drafts: reply recipients and threading, RFC 2047, MIME, injection refusal."""

from __future__ import annotations

from dataclasses import replace
from email import message_from_bytes, policy
from types import SimpleNamespace

import pytest

from rapport.mail.draft.render import Draft
from rapport.mail.message.decode import decode_message
from rapport.mail.send.compose import (
    build_email,
    draft_from_text,
    draft_to_text,
    new_draft,
    parse_addresses,
    reply_draft,
    reply_subject,
)
from rapport.store.config import Me
from rapport.store.errors import InputError
from rapport.store.mailstore.messages import format_addresses

ME = Me(name="Zoë Müller", email="zoe@rapport.example", signature="Zoë Müller\nRapport GmbH",
        addresses=("zoe.private@alt.example",))


def _original(**changes: str) -> SimpleNamespace:
    base = dict(
        message_id="orig-2@acme.example", refs=("root@acme.example", "orig-1@acme.example"),
        subject="RE: Re: AW: Prix pour l'été", from_name="Alice Martin",
        from_addr="alice@acme.example", reply_to="Orders <orders@acme.example>",
        to_addrs="Zoë <ZOE@rapport.example>, Bob <bob@acme.example>",
        cc_addrs="zoe.private@alt.example, carol@other.example, bob@acme.example",
        date_utc="2026-11-02T10:00:00Z", body_text="Hello Zoë,\n\nwhat is the price?\n",
    )
    base.update(changes)
    return SimpleNamespace(**base)


DRAFT = Draft("acknowledge", "reply", "", "", "", "Dear Alice,\n\nthanks, on it.\n")


def test_reply_recipients_threading_and_body_parse_back() -> None:
    filled, thread = reply_draft(DRAFT, _original(), ME)
    raw = build_email(filled, ME, thread=thread, message_id="draft-1@rapport.example").as_bytes()
    assert b"\r\n" in raw and all(line.isascii() for line in raw.split(b"\r\n"))
    back = message_from_bytes(raw, policy=policy.default)
    assert str(back["To"]) == "Orders <orders@acme.example>"  # Reply-To wins over From
    # Other recipients kept once, minus every address of mine (any case), minus To.
    assert str(back["Cc"]) == "Bob <bob@acme.example>, carol@other.example"
    assert str(back["Subject"]) == "Re: Prix pour l'été"  # RFC 2047 decoded back
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n")[0]
    assert str(back["From"]) == "Zoë Müller <zoe@rapport.example>"
    assert back["Message-ID"] == "<draft-1@rapport.example>"
    assert back["In-Reply-To"] == "<orig-2@acme.example>"
    assert back["References"] == "<root@acme.example> <orig-1@acme.example> <orig-2@acme.example>"
    assert back.get_content_type() == "text/plain"
    assert back.get_content_charset() == "utf-8"
    assert back["MIME-Version"] == "1.0"
    text = back.get_content().replace("\r\n", "\n")
    assert text == (
        "Dear Alice,\n\nthanks, on it.\n\n-- \nZoë Müller\nRapport GmbH\n\n"
        "On Mon, 2 Nov 2026 at 10:00 UTC, Alice Martin <alice@acme.example> wrote:\n"
        "> Hello Zoë,\n>\n> what is the price?\n"
    )
    # Rapport's own parser (what sync stores) reads back exactly what we meant to write.
    parsed = decode_message(raw)
    assert (parsed.message_id, parsed.in_reply_to, parsed.refs) == (
        "draft-1@rapport.example", "orig-2@acme.example",
        ("root@acme.example", "orig-1@acme.example", "orig-2@acme.example"))
    assert (parsed.from_name, parsed.from_addr) == ("Zoë Müller", "zoe@rapport.example")
    assert parsed.subject == "Re: Prix pour l'été"
    assert [a for _, a in parsed.to] == ["orders@acme.example"]
    assert [a for _, a in parsed.cc] == ["bob@acme.example", "carol@other.example"]


def test_reply_without_reply_to_and_to_own_sent_mail() -> None:
    filled, _ = reply_draft(DRAFT, _original(reply_to=""), ME)
    assert filled.to == "Alice Martin <alice@acme.example>"
    mine = _original(from_name="Zoë", from_addr="zoe@rapport.example", reply_to="")
    filled, _ = reply_draft(DRAFT, mine, ME)
    assert filled.to == "Bob <bob@acme.example>, carol@other.example"
    assert filled.cc == ""


def test_subject_gets_exactly_one_re() -> None:
    assert reply_subject("Re: RE[2]: Aw: sv: Offer") == "Re: Offer"
    assert reply_subject("Offer") == "Re: Offer"
    assert reply_subject("Re: {{x}}".replace("{{x}}", "Re: Offer")) == "Re: Offer"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hello\r\nBcc: everyone@evil.example"),
        ("subject", "Hello\nX-Injected: 1"),
        ("to", "alice@acme.example\r\nBcc: everyone@evil.example"),
        ("cc", "bob@acme.example\nBcc: x@evil.example"),
    ],
)
def test_header_injection_refused(field: str, value: str) -> None:
    draft = replace(new_draft(Draft("t", "new", "Hi", "alice@acme.example", "", "x"), ME),
                    **{field: value})
    with pytest.raises(InputError, match="line breaks are not allowed"):
        build_email(draft, ME)


def test_injection_in_my_own_name_refused() -> None:
    evil_me = replace(ME, name="Zoë\r\nBcc: x@evil.example")
    with pytest.raises(InputError, match=r"\[me\] name: line breaks"):
        build_email(Draft("t", "new", "Hi", "a@acme.example", "", "x"), evil_me)


@pytest.mark.parametrize("bad", ["alice", "alice@", "@acme.example", "a b@acme.example",
                                  "alice@acme", "alice@-acme.example", "<<>>"])
def test_invalid_addresses_refused(bad: str) -> None:
    with pytest.raises(InputError, match="^To: "):
        parse_addresses(bad, "To")


def test_addresses_parse_with_unicode_names() -> None:
    found = parse_addresses('"Müller, Jürgen" <j@bücher.example>, bob@acme.example', "To")
    assert [a.addr_spec for a in found] == ["j@xn--bcher-kva.example", "bob@acme.example"]
    assert found[0].display_name == "Müller, Jürgen"


def test_new_mail_needs_my_email_and_a_recipient() -> None:
    draft = Draft("t", "new", "Hi", "", "", "x")
    with pytest.raises(InputError, match="no To address"):
        build_email(draft, ME)
    with pytest.raises(InputError, match=r"set \[me\] email"):
        build_email(replace(draft, to="a@acme.example"), Me(name="x"))


def test_editor_text_round_trip() -> None:
    filled = new_draft(Draft("t", "new", "Offer", "a@acme.example", "", "Text\n\nmore\n"), ME)
    edited = draft_to_text(filled).replace("Subject: Offer", "Subject: Better offer")
    back = draft_from_text(edited, filled)
    assert back == replace(filled, subject="Better offer")
    with pytest.raises(InputError, match="unexpected header line 'Bcc"):
        draft_from_text("Bcc: x@y.example\n\nbody", filled)


# Everything str.splitlines() splits on, plus NUL: none may reach a header we write.
SEPARATORS = ["\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029",
              "\x00"]


@pytest.mark.parametrize("sep", SEPARATORS)
def test_every_line_separator_is_refused_in_headers_we_write(sep: str) -> None:
    base = Draft("t", "new", "Hi", "alice@acme.example", "", "x")
    for changes in ({"subject": f"Hi{sep}Bcc: x@evil.example"},
                    {"to": f"Alice{sep}Bcc: x@evil.example <alice@acme.example>"}):
        with pytest.raises(InputError, match="line breaks are not allowed"):
            build_email(replace(base, **changes), ME)
    with pytest.raises(InputError, match=r"\[me\] name: line breaks"):
        build_email(base, replace(ME, name=f"Zoë{sep}Bcc: x@evil.example"))


@pytest.mark.parametrize("sep", SEPARATORS)
def test_line_separators_in_a_replied_to_message_are_collapsed(sep: str) -> None:
    original = _original(subject=f"Hi{sep}Bcc: e@evil.example", reply_to="",
                         from_name=f"Al{sep}ice")
    filled, thread = reply_draft(DRAFT, original, ME)
    assert filled.subject == "Re: Hi Bcc: e@evil.example"
    raw = build_email(filled, ME, thread=thread).as_bytes()
    back = message_from_bytes(raw, policy=policy.default)
    assert str(back["Subject"]) == "Re: Hi Bcc: e@evil.example" and back["Bcc"] is None
    assert [a.addr_spec for a in back["To"].addresses] == ["alice@acme.example"]


def test_a_name_never_adds_a_recipient() -> None:
    evil = _original(from_name="Evil <attacker@evil.example>, Bob", from_addr="victim@x.example",
                     reply_to="", to_addrs="zoe@rapport.example", cc_addrs="")
    filled, thread = reply_draft(DRAFT, evil, ME)
    back = message_from_bytes(build_email(filled, ME, thread=thread).as_bytes(),
                              policy=policy.default)
    [only] = back["To"].addresses
    assert (only.display_name, only.addr_spec) == ("Evil <attacker@evil.example>, Bob",
                                                   "victim@x.example")
    assert back["Cc"] is None
    comma = _original(from_name="Doe, Jane", from_addr="jane@x.example", reply_to="")
    assert reply_draft(DRAFT, comma, ME)[0].to == '"Doe, Jane" <jane@x.example>'


def test_reply_to_only_me_falls_back_to_from_else_a_clear_error() -> None:
    mine = _original(reply_to="ZOE.PRIVATE@alt.example", cc_addrs="c@x.example")
    filled, _ = reply_draft(DRAFT, mine, ME)
    assert filled.to == "Alice Martin <alice@acme.example>"
    nobody = _original(from_name="", from_addr="", reply_to="zoe@rapport.example",
                       to_addrs="zoe@rapport.example", cc_addrs="")
    with pytest.raises(InputError, match="nobody to reply to"):
        reply_draft(DRAFT, nobody, ME)


def test_references_keep_the_root_and_ref_is_not_a_reply_prefix() -> None:
    refs = tuple(f"r{i}@x.example" for i in range(30))
    _, thread = reply_draft(DRAFT, _original(refs=refs), ME)
    assert len(thread.references) == 20
    assert thread.references[0] == "r0@x.example"  # the thread root
    assert thread.references[1:] == (*refs[-18:], "orig-2@acme.example")
    assert reply_subject("Ref: PO 1234") == "Re: Ref: PO 1234"
    assert reply_subject("RE: Ref: PO 1234") == "Re: Ref: PO 1234"
    assert reply_subject("Re: Re[3]: AW: SV: Antw: x") == "Re: x"


def test_ingest_drops_unicode_line_separators_from_headers() -> None:
    import base64

    word = base64.b64encode("Hi\u2028Bcc: e@evil.example\u2029!".encode()).decode()
    raw = (f'From: "Bo\u2028b" <bob@x.example>\r\nTo: zoe@rapport.example\r\n'
           f"Subject: =?utf-8?b?{word}?=\r\nMessage-ID: <h2@x.example>\r\n"
           "Date: Mon, 2 Nov 2026 10:15:00 +0000\r\n\r\nbody\r\n").encode()
    parsed = decode_message(raw)
    assert len(parsed.subject.splitlines()) == 1 and "\u2028" not in parsed.subject
    assert parsed.subject.startswith("Hi") and parsed.subject.endswith("Bcc: e@evil.example!")
    assert len(parsed.from_name.splitlines()) == 1


def _reference_email(draft: Draft, me: Me, thread, message_id: str):  # noqa: ANN001, ANN202
    """The message as the email package builds it from the same values (what compose() did
    before it wrote bytes itself): compose()'s output must read back the same."""
    from email.message import EmailMessage

    from rapport.mail.send.compose import _sender

    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = _sender(me)
    msg["To"] = parse_addresses(draft.to, "To")
    if draft.cc:
        msg["Cc"] = parse_addresses(draft.cc, "Cc")
    msg["Subject"] = draft.subject
    msg["Date"] = "Mon, 02 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<{message_id}>"
    if thread is not None:
        msg["In-Reply-To"] = f"<{thread.in_reply_to}>"
        msg["References"] = " ".join(f"<{r}>" for r in thread.references)
    msg["User-Agent"] = "Rapport"
    body = draft.body.replace("\r\n", "\n")
    plain = body.isascii() and all(len(line) < 990 for line in body.split("\n"))
    msg.set_content(body, charset="utf-8", cte="7bit" if plain else "quoted-printable")
    return msg


LONG = "Ünïcode " * 30


@pytest.mark.parametrize("changes", [
    {},
    {"subject": "Prix pour l'été " + LONG, "to": '"Müller, Jürgen" <j@bücher.example>'},
    {"subject": "x" * 200, "cc": ", ".join(f"Person {i} <p{i}@acme.example>" for i in range(12))},
    {"body": "line\n" + "y" * 1200 + "\nend\n"},
    {"body": "Grüße\n\n" + LONG + "\n-- \nZoë\n", "to": "Zoë Ærø <z@acme.example>"},
    {"subject": "=?utf-8?q?literal?= text", "to": '"O\\"Neil (work)" <o@acme.example>'},
])
def test_composed_bytes_read_back_as_the_email_package_builds_them(changes: dict) -> None:
    from datetime import UTC, datetime

    from rapport.mail.send.compose import Thread, compose

    draft = replace(Draft("t", "new", "Offer", "Alice <alice@acme.example>", "", "Hi\n"),
                    **changes)
    thread = Thread("orig@acme.example", tuple(f"r{i}@acme.example" for i in range(15)))
    when = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    composed = compose(draft, ME, thread=thread, message_id="m-1@rapport.example", date=when)
    raw = composed.raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")) and raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    ours = message_from_bytes(raw, policy=policy.default)
    ref = message_from_bytes(_reference_email(draft, ME, thread, "m-1@rapport.example")
                             .as_bytes(), policy=policy.default)
    assert list(ours.keys()) == list(ref.keys())
    for name in ref.keys():
        assert str(ours[name]) == str(ref[name]), name
    assert ours.get_content() == ref.get_content()
    assert composed.recipients == tuple(
        a.addr_spec for h in ("To", "Cc") if ref[h] for a in ref[h].addresses)
    assert composed.email().as_bytes() == raw  # read back, written out unchanged


def test_reply_all_keeps_recipients_whose_names_hold_brackets() -> None:
    # Stored as the sync stores it (decoder, then the store's address formatting): the reply
    # reads it back with the decoder's reader, not the strict grammar that loses such names.
    incoming = decode_message(b"From: alice@acme.example\nTo: zoe@rapport.example, "
                              b"ACME [Sales] <sales@acme.example>\nSubject: s\n\nhi\n")
    stored = format_addresses(incoming.to)
    assert stored == "zoe@rapport.example, ACME [Sales] <sales@acme.example>"
    filled, _ = reply_draft(DRAFT, _original(reply_to="", to_addrs=stored, cc_addrs=""), ME)
    assert filled.cc == '"ACME [Sales]" <sales@acme.example>'  # the name kept, now quoted
