"""Provides the one MIME policy: which parts of a message are its text and which are attachments.

Both sources describe a message as the same tree of `MimePart`s — the IMAP path from the server's
BODYSTRUCTURE (mail/sync/bodystructure.py), the Maildir path from the file's bytes
(mail/message/structure.py) — and `plan` walks it once, by these rules:

- text/plain and text/html parts (and parts whose type cannot be read) that are inline and
  unnamed are text; every other leaf is an attachment, listed by name, type and size and never
  downloaded;
- of a multipart/alternative, the plain version when it holds any text, else the first
  alternative with text (HTML);
- a message/rfc822 part marked as an attachment, or one whose structure is unknown, is an
  attachment named after its subject; an inline one is a forwarded message: a heading line, then
  its own text parts, read by the same rules.

The IMAP fetch plan downloads exactly `Plan.texts`, capped at MAX_TEXT_BYTES each; the Maildir
decoder reads the same parts with the same cap, so both produce the same body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import collapse_rfc2231_value, decode_params, decode_rfc2231, unquote

from rapport.mail.message.words import decode_header_value

# A text part longer than this is cut: enough for any human-written mail, bounded memory.
MAX_TEXT_BYTES = 256 * 1024
MAX_PARTS = 500
MAX_DEPTH = 40


@dataclass
class MimePart:
    """One node of a message's MIME tree, as BODYSTRUCTURE describes it.

    `section` is the IMAP part number (`BODY[section]`); `size` counts the encoded body's octets
    with CRLF line ends, as a server does. `enclosed` is the message a message/rfc822 part
    holds, `enclosed_subject` that message's raw Subject. `payload` is the encoded body when
    the bytes are at hand (a Maildir file); the IMAP path fetches it by section instead.
    """

    content_type: str
    section: str = "1"
    params: dict[str, str] = field(default_factory=dict)
    encoding: str = ""
    size: int = 0
    disposition: str = ""
    filename: str = ""
    children: list[MimePart] = field(default_factory=list)
    enclosed: MimePart | None = None
    enclosed_subject: bytes = b""
    payload: bytes | None = None


@dataclass(frozen=True)
class TextEntry:
    """One piece of the body: a text part to decode, or a forwarded message's heading."""

    part: MimePart | None = None
    heading: str = ""


@dataclass
class Plan:
    """What to read of a message: its text pieces in order, and the attachments to list."""

    texts: list[TextEntry] = field(default_factory=list)
    attachments: list[MimePart] = field(default_factory=list)

    @property
    def text_parts(self) -> list[MimePart]:
        return [entry.part for entry in self.texts if entry.part is not None]


def decode_rfc2231_params(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Parameters with RFC 2231 continuations and charsets (`filename*0*=utf-8''...`) joined."""
    # decode_params unquotes plain values and joins/decodes `name*0*=` style ones.
    quoted = [(k, v if k.endswith("*") else f'"{v}"') for k, v in pairs]
    decoded = decode_params([("", ""), *quoted])[1:]
    result = []
    for key, val in decoded:
        if isinstance(val, tuple):
            val = collapse_rfc2231_value(val)
        if isinstance(val, str) and len(val) > 1 and val.startswith('"') and val.endswith('"'):
            val = unquote(val)  # decode_params hands plain values back quoted and escaped
        if key.endswith("*"):  # a lone extended value the helper did not fold
            key = key[:-1]
            try:
                val = collapse_rfc2231_value(decode_rfc2231(val))
            except Exception:
                pass
        result.append((key, str(val)))
    return result


def param_dict(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased parameter names to decoded values; malformed RFC 2231 kept raw."""
    pairs = [(name.lower(), value) for name, value in pairs]
    try:
        return dict(decode_rfc2231_params(pairs))
    except Exception:  # malformed RFC 2231: keep the raw values rather than fail the message
        return dict(pairs)


def estimated_size(encoding: str, octets: int) -> int:
    """The decoded size of an attachment from its encoded octets (all a server tells).

    Base64 carries 3 bytes in 4, in 76-character lines plus CRLF.
    """
    return round(octets * 76 / 78 * 3 / 4) if encoding == "base64" else octets


def media_type(main: str, sub: str) -> str:
    """`type/subtype` lower-cased; "" when the type could not be read."""
    return f"{main}/{sub}".lower() if main else ""


def _is_broken(content_type: str) -> bool:
    return not content_type or content_type.endswith("/")


def _is_text(part: MimePart) -> bool:
    # An unreadable type is plain text (RFC 2045, section 5.2).
    return (
        (part.content_type in ("text/plain", "text/html") or _is_broken(part.content_type))
        and part.disposition != "attachment"
        and not part.filename
    )


def enclosed_subject(raw: bytes) -> str:
    """The Subject of an enclosed (message/rfc822) message, "message" when it has none."""
    return decode_header_value(raw.decode("utf-8", "surrogateescape")) or "message"


def forwarded_heading(subject: str) -> str:
    """The line above an inline forwarded message's text."""
    return f"---------- Forwarded message: {subject} ----------"


def attachment_entry(part: MimePart) -> tuple[str, str, int]:
    """(name, type, size) of an attachment; an enclosed message is named after its subject."""
    if part.content_type == "message/rfc822":
        name = f"{enclosed_subject(part.enclosed_subject)[:200]}.eml"
    else:
        name = decode_header_value(part.filename)[:255] if part.filename else ""
    kind = "application/octet-stream" if _is_broken(part.content_type) else part.content_type
    return (name, kind, estimated_size(part.encoding, part.size))


class _Walk:
    def __init__(self) -> None:
        self.plan = Plan()
        self.parts = 0

    def visit(self, part: MimePart, depth: int) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS or depth > MAX_DEPTH:
            return
        if part.content_type.startswith("multipart/"):
            if part.content_type == "multipart/alternative":
                self.alternative(part.children, depth)
            else:
                for child in part.children:
                    self.visit(child, depth + 1)
        elif part.content_type == "message/rfc822":
            self.enclosed(part, depth)
        elif _is_text(part):
            if part.size:  # an empty text part: nothing to fetch or show
                self.plan.texts.append(TextEntry(part))
        else:
            self.plan.attachments.append(part)

    def enclosed(self, part: MimePart, depth: int) -> None:
        if part.disposition == "attachment" or part.enclosed is None:
            self.plan.attachments.append(part)
            return
        # An inline forwarded message: its text belongs to what the reader sees.
        self.plan.texts.append(TextEntry(heading=forwarded_heading(
            enclosed_subject(part.enclosed_subject))))
        self.visit(part.enclosed, depth + 1)

    def alternative(self, children: list[MimePart], depth: int) -> None:
        options: list[Plan] = []
        outer = self.plan
        for child in children:
            self.plan = Plan()
            self.visit(child, depth + 1)
            options.append(self.plan)
            outer.attachments.extend(self.plan.attachments)
        self.plan = outer
        # Plain when it has any text (an empty text/plain beside HTML is common), else the
        # first alternative with text.
        plain = [o for o in options if o.text_parts and all(
            p.content_type == "text/plain" for p in o.text_parts) and any(
            p.size > 2 for p in o.text_parts)]
        chosen = plain[0] if plain else next((o for o in options if o.text_parts), None)
        if chosen is not None:
            outer.texts.extend(chosen.texts)


def plan(root: MimePart) -> Plan:
    """The text pieces and attachments of a message's MIME tree, by the one policy above."""
    walk = _Walk()
    walk.visit(root, 0)
    return walk.plan
