"""Provides the body-text half of the decoder: one text part's bytes as clean text.

Whichever source the bytes came from (an IMAP `BODY[section]`, a slice of a Maildir file), they
go through the same steps: line endings made LF, the transfer encoding undone, the charset
decoded defensively, HTML turned into readable text, controls and escapes removed.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re

from rapport.mail.message.charset import decode_bytes
from rapport.store.text import clean_text

# Caps keep one monstrous message from eating the sync.
MAX_BODY_CHARS = 512_000
MAX_HTML_BYTES = 2_000_000


def _uudecode(payload: bytes) -> bytes:
    out = bytearray()
    inside = False
    for line in payload.split(b"\n"):
        if not inside:
            inside = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`", b""):
            if line.strip() == b"end":
                break
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad lines short; a2b_uu accepts them once trimmed to their count.
            count = ((line[0] - 32) & 63) * 4 // 3 + 1 if line else 0
            try:
                out += binascii.a2b_uu(line[:count + 1])
            except binascii.Error:
                continue
    return bytes(out)


def transfer_decode(payload: bytes, encoding: str | None) -> bytes:
    """Undo a Content-Transfer-Encoding (misspelt and unknown ones: the bytes as they are)."""
    name = (encoding or "").strip().lower()
    try:
        if name == "base64":
            # Up to the padding, junk dropped; a last partial group keeps its bytes (padded
            # back), only a lone leftover character (no whole byte) is dropped.
            cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", payload.split(b"=", 1)[0])
            if len(cleaned) % 4 == 1:
                cleaned = cleaned[:-1]
            return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
        if name == "quoted-printable":
            return quopri.decodestring(payload)
        if name in ("x-uuencode", "uuencode", "x-uue", "uue"):
            return _uudecode(payload)
    except (binascii.Error, ValueError):
        return payload
    return payload  # 7bit, 8bit, binary and the misspelt variants: already raw


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (paragraphs, lists and tables kept legible: html_text.py)."""
    html = html[:MAX_HTML_BYTES]
    try:
        from rapport.mail.message.html_text import html_text

        return html_text(html)
    except Exception:  # lxml on markup it cannot read: strip tags rather than lose the body
        return re.sub(r"<[^>]*>", " ", html)


def decode_body_part(
    payload: bytes, *, content_type: str, charset: str | None, transfer_encoding: str | None
) -> str:
    """One text part's bytes as clean text (HTML converted); never raises."""
    # CRLF as the server sends it, LF as a Maildir file may hold it: the same text either way.
    if b"\r\n" in payload:
        payload = payload.replace(b"\r\n", b"\n")
    data = transfer_decode(payload, transfer_encoding)
    text = decode_bytes(data, charset)
    if content_type.strip().lower() == "text/html":
        text = html_to_text(text)
    return clean_text(text)[:MAX_BODY_CHARS]


def join_texts(texts: list[str]) -> str:
    """The body a reader sees: the kept text parts (each cleaned already), a blank line apart."""
    return "\n\n".join(t for t in texts if t.strip())[:MAX_BODY_CHARS]
