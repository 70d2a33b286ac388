"""Provides `read_bounce`: which recipients a bounce message reports as failed, and how badly.

Recognition is flufl.bounce's (GNU Mailman's detectors: RFC 3464 DSNs plus the common
non-standard formats of Exim, qmail, Postfix's old text, Gmail, Exchange, Yahoo...). Its
permanent/temporary split follows a DSN's Action; we then read each recipient's own Status and
Diagnostic-Code from the message/delivery-status part where there is one, so a 4.x.x status
counts as temporary and a 5.x.x as permanent whatever the Action says (issue 17).
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterable
from dataclasses import replace
from email.message import Message

from flufl.bounce import all_failures

from rapport.store.mailstore.bounces import BounceNotice
from rapport.store.mailstore.messages import NewMessage

# A bounce longer than this is cut before reading: the report is near the top.
MAX_BOUNCE_BYTES = 1024 * 1024
_STATUS_RE = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
# "550 5.1.0 Recipient rejected": an SMTP reply quoted in the text of a non-standard bounce.
_SMTP_REPLY_RE = re.compile(r"\b[45]\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b.*")
_ADDRESS_RE = re.compile(r"<?([^\s<>;]+@[^\s<>;]+)>?")
# Local parts that bounce and postmaster messages come from: only a pre-filter that decides
# whether the whole message is fetched and handed to flufl.bounce, never a verdict.
BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon",
                            "mdaemon", "bounce", "bounces", "mail.delivery.system"})

REPORT_TYPES = frozenset({"multipart/report", "message/delivery-status"})


def looks_like_bounce(from_addr: str, content_types: Iterable[str]) -> bool:
    """Worth a whole-message read: it holds a delivery report, or a mailer daemon sent it."""
    local = from_addr.partition("@")[0].lower()
    return local in BOUNCE_SENDERS or any(t.lower() in REPORT_TYPES for t in content_types)


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _dsn_fields(msg: Message) -> dict[str, tuple[str, str]]:
    """address -> (status, diagnostic) from the per-recipient groups of a delivery-status part."""
    found: dict[str, tuple[str, str]] = {}
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        # The stdlib parses each field group into a sub-message; the first is per-message.
        groups = [g for g in payload if isinstance(g, Message)] if isinstance(payload, list) else []
        for group in groups[1:]:
            recipient = str(group.get("Final-Recipient", "") or group.get("Original-Recipient", ""))
            match = _ADDRESS_RE.search(recipient.partition(";")[2] or recipient)
            if not match:
                continue
            status_match = _STATUS_RE.search(str(group.get("Status", "")))
            diagnostic = str(group.get("Diagnostic-Code", ""))
            diagnostic = diagnostic.partition(";")[2] if ";" in diagnostic else diagnostic
            found[match.group(1).lower()] = (
                status_match.group(0) if status_match else "", _one_line(diagnostic))
    return found


def _text_hint(msg: Message) -> tuple[str, str]:
    """(status, diagnostic) of a bounce without a DSN: the first SMTP reply in its own text
    (not in the returned message), else its subject."""
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            break
        if part.get_content_type() != "text/plain":
            continue
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        match = _SMTP_REPLY_RE.search(text[:20000])
        if match:
            return match.group(1), _one_line(match.group(0))
    return "", _one_line(str(msg.get("Subject", "")))


def read_bounce(raw: bytes) -> list[BounceNotice]:
    """The failed recipients of `raw`, or [] when it is not a bounce flufl.bounce recognises."""
    msg = email.message_from_bytes(raw[:MAX_BOUNCE_BYTES])
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector tripping on hostile mail: then it is no bounce we can read
        return []
    fields = _dsn_fields(msg)
    hint = _text_hint(msg)
    result: dict[str, BounceNotice] = {}
    for addresses, is_permanent in ((temporary, False), (permanent, True)):
        for value in addresses:
            address = (value.decode("utf-8", "replace") if isinstance(value, bytes)
                       else str(value)).strip("<> ").lower()
            if "@" not in address:
                continue
            status, diagnostic = fields.get(address, hint)
            diagnostic = diagnostic or hint[1] or (f"status {status}" if status else "")
            if status:
                is_permanent = status.startswith("5")
            if status.startswith("2"):
                continue  # a success report (NOTIFY=SUCCESS) is no failure
            result[address] = BounceNotice(address, is_permanent, status, diagnostic)
    return sorted(result.values(), key=lambda r: r.address)


def with_bounces(msg: NewMessage, raw: bytes) -> NewMessage:
    """`msg` carrying the failed recipients `raw` reports, when it is a bounce."""
    if not looks_like_bounce(msg.from_addr, [kind for _name, kind, _size in msg.attachments]):
        return msg
    notices = read_bounce(raw)
    return replace(msg, bounces=tuple(notices)) if notices else msg
