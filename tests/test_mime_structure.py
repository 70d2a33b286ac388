"""The MIME tree a file's bytes give (mail/message/structure.py) and the one policy over it
(mail/message/mime.py): the rules an IMAP server applies to broken mail, on small known cases.
tests/test_decoder_equivalence.py checks the same against a real Dovecot on the whole corpus."""

from __future__ import annotations

from rapport.mail.message.decode import decode_message
from rapport.mail.message.mime import MimePart, plan
from rapport.mail.message.params import content_type, header_fields
from rapport.mail.message.structure import parse_structure, wire_size


def _leaves(part: MimePart) -> list[tuple[str, str, bytes]]:
    if part.children:
        return [leaf for child in part.children for leaf in _leaves(child)]
    if part.enclosed is not None:
        return _leaves(part.enclosed)
    return [(part.section, part.content_type, part.payload or b"")]


def _type(value: str) -> tuple[str, dict[str, str]]:
    return content_type(header_fields(f"Content-Type: {value}\n".encode()), "text/plain")


def test_a_closed_inner_multipart_frees_a_boundary_the_outer_one_shares() -> None:
    raw = (b"Content-Type: multipart/mixed; boundary=B\n\n--B\n"
           b"Content-Type: multipart/alternative; boundary=B\n\n--B\n"
           b"Content-Type: text/plain\n\nplain\n--B\nContent-Type: text/html\n\n<p>html</p>\n"
           b"--B--\n\n--B\nContent-Type: image/gif; name=x.gif\n\nGIF\n--B--\n")
    assert _leaves(parse_structure(raw)) == [
        ("1.1", "text/plain", b"plain"), ("1.2", "text/html", b"<p>html</p>"),
        ("2", "image/gif", b"GIF")]


def test_the_longest_open_boundary_wins_and_80_characters_count() -> None:
    raw = (b"Content-Type: multipart/mixed; boundary=ab\n\n--ab\n"
           b"Content-Type: multipart/mixed; boundary=a\n\n--ab\nContent-Type: text/plain\n\n--a\n")
    root = parse_structure(raw)
    assert [c.content_type for c in root.children] == ["multipart/mixed", "text/plain"]
    assert root.children[0].children[0].size == 0  # no part began: one empty text part
    assert root.children[1].payload == b"--a\n"
    long = "x" * 90
    raw = (f"Content-Type: multipart/mixed; boundary=\"{long}\"\n\n--{long[:80]}\n\nbody\n"
           f"--{long[:80]}--\n").encode()
    assert _leaves(parse_structure(raw)) == [("1", "text/plain", b"body")]


def test_headers_end_at_an_empty_line_only() -> None:
    # A line of spaces folds into the header; no empty line: all header, no body.
    assert parse_structure(b"Subject: x\n \nnot a body\n").payload == b""
    assert parse_structure(b"Subject: x\n\nbody\n").payload == b"body\n"
    # A message that opens with indented text has no header at all.
    assert parse_structure(b"\tThe License\n\ntext\n").payload == b"\tThe License\n\ntext\n"


def test_content_types_are_read_strictly_and_parameters_leniently() -> None:
    assert _type("text/plain; charset=utf-8 junk; name=y") == (
        "text/plain", {"charset": "utf-8", "name": "y"})
    assert _type("multipart/alternative;; boundary=foo") == ("multipart/alternative", {})
    assert _type("multipart/alternative ; ; ; boundary=foo")[1] == {"boundary": "foo"}
    assert _type("text/plain garbage") == ("", {})
    assert _type("; name=x.jpg") == ("", {})
    assert _type("text") == ("text/", {"charset": "us-ascii"})
    assert _type("text/plain; name==?utf-8?q?caf=C3=A9?=")[1]["name"] == "=?utf-8?q?caf=C3=A9?="


def test_the_policy_reads_unreadable_types_as_text_and_lists_named_parts() -> None:
    raw = (b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain junk\n\n"
           b"hello\n--b\nContent-Type: ; name=a.jpg\nContent-Disposition: attachment; "
           b"filename=a.jpg\nContent-Transfer-Encoding: base64\n\nAAAA\n--b--\n")
    message_plan = plan(parse_structure(raw))
    assert [p.section for p in message_plan.text_parts] == ["1"]
    assert [(p.filename, p.content_type) for p in message_plan.attachments] == [("a.jpg", "")]
    assert decode_message(raw).attachments == (("a.jpg", "application/octet-stream", 3),)


def test_alternative_skips_an_empty_plain_part_and_forwards_keep_a_heading() -> None:
    raw = (b"Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
           b"\n--b\nContent-Type: text/html\n\n<p>Only here</p>\n--b--\n")
    assert decode_message(raw).body_text.strip() == "Only here"
    forward = (b"Subject: fwd\nContent-Type: message/rfc822\n\nSubject: =?utf-8?q?Caf=C3=A9?=\n"
               b"Content-Type: image/png\n\nPNG\n")
    msg = decode_message(forward)
    assert msg.body_text == "---------- Forwarded message: Café ----------"
    assert msg.attachments == (("", "image/png", 5),)  # "PNG" and a CRLF, as a server counts


def test_sizes_and_text_are_the_same_for_lf_and_crlf_files() -> None:
    lf = b"From: a@b.example\nSubject: s\n\nline one\nline two\n"
    crlf = lf.replace(b"\n", b"\r\n")
    assert wire_size(lf) == len(crlf)
    assert decode_message(lf) == decode_message(crlf)


def test_nul_bytes_read_as_an_imap_server_sends_them() -> None:
    # UTF-16 in a binary part: IMAP literals cannot carry NUL, so both paths see 0x80.
    raw = b"Content-Type: text/plain; charset=utf-16le\n\nh\x00i\x00"
    served = raw.replace(b"\x00", b"\x80")
    assert decode_message(raw).body_text == decode_message(served).body_text != "hi"
