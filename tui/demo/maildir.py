"""Provides the demo's mail: seeded threads written as a Maildir (INBOX + Maildir++ `.Sent`).

Messages are formatted by hand rather than with `email.message` so the TUI benchmark can write
100,000 of them in seconds; the headers are still RFC 5322 (RFC 2047 for non-ASCII), threads
carry In-Reply-To/References, and some bodies are HTML, as real client mail is.
"""

from __future__ import annotations

import base64
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from functools import lru_cache
from html import escape
from pathlib import Path

from rapport.store.workspace import make_private_dir
from rapport.tui.demo import data

FILE_MODE = 0o600
# Client mail older than this is (nearly always) answered; newer mail may still wait on Today.
ANSWERED_AFTER_DAYS = 10


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    role: str = ""


@dataclass
class DemoAccount:
    """What the mail generator needs to know of one demo account."""

    name: str
    domain: str
    industry: data.Industry
    contacts: list[Person] = field(default_factory=list)
    deals: list[str] = field(default_factory=list)
    account_id: int = 0
    # > 0: nobody has spoken to this client for that many days (a stale account on Today).
    quiet_days: int = 0


@dataclass(frozen=True)
class DemoMessage:
    folder: str  # "INBOX" or "Sent"
    when: datetime
    raw: bytes
    flags: str  # Maildir info flags, sorted: "FRS"


def _encoded_words(text: str) -> str:
    """RFC 2047 base64 words of at most 30 characters each (email.header is 10x slower)."""
    chunks = [text[i : i + 30] for i in range(0, len(text), 30)]
    return "\n ".join(
        f"=?utf-8?b?{base64.b64encode(chunk.encode('utf-8')).decode('ascii')}?=" for chunk in chunks
    )


@lru_cache(maxsize=4096)
def _address(name: str, email: str) -> str:
    if not name:
        return email
    if not name.isascii():
        return f"{_encoded_words(name)} <{email}>"
    if any(c in name for c in ",.;:@'\"()<>[]"):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{email}>'
    return f"{name} <{email}>"


def _subject(text: str) -> str:
    return text if text.isascii() else _encoded_words(text)


def _fill(rng: random.Random, template: str, account: DemoAccount | None, today: date) -> str:
    industry = account.industry if account else rng.choice(data.INDUSTRIES)
    deal = rng.choice(account.deals) if account and account.deals else "our cooperation"
    return template.format(
        qty=rng.choice((2, 5, 10, 20, 40, 120, 500)),
        unit=rng.choice(industry.units),
        product=rng.choice(industry.products),
        week=rng.randint(1, 52),
        year=today.year + rng.choice((0, 0, 1)),
        order=rng.randint(10_000, 99_999),
        deal=deal,
        quarter=rng.randint(1, 4),
        weekday=rng.choice(data.WEEKDAYS),
        person=rng.choice(data.FIRST_NAMES),
        pct=rng.randint(3, 25),
    )


def _body(rng: random.Random, sender: Person, to: Person, account: DemoAccount | None,
          today: date, company: str) -> str:
    first = to.name.split()[0] if to.name else "there"
    lines = [f"Hello {first},", "", rng.choice(data.OPENERS).capitalize(), ""]
    for _ in range(rng.randint(1, 3)):
        lines.append(_fill(rng, rng.choice(data.MIDDLES), account, today))
    lines += ["", rng.choice(data.CLOSERS), sender.name, "", "-- "]
    lines.append(f"{sender.role}, {company}" if sender.role else company)
    return "\n".join(lines)


def _quote(previous_from: Person, previous_when: datetime, previous_text: str) -> str:
    quoted = "\n".join(f"> {line}" if line else ">" for line in previous_text.splitlines()[:12])
    stamp = previous_when.strftime("%a, %d %b %Y at %H:%M")
    return f"\n\nOn {stamp}, {previous_from.name} wrote:\n{quoted}"


def _outlook_quote(previous_from: Person, previous_to: Person, previous_when: datetime, subject: str,
                   previous_text: str) -> str:
    """Outlook's quoted history: the earlier mail below a header block, unmarked (no '>'), and
    its own history below it in turn — what the reader folds into one line."""
    return (f"\n\n-----Original Message-----\nFrom: {_address(previous_from.name, previous_from.email)}\n"
            f"Sent: {previous_when.strftime('%A, %d %B %Y %H:%M')}\n"
            f"To: {_address(previous_to.name, previous_to.email)}\nSubject: {subject}\n\n{previous_text}")


def _forward(original_from: Person, to: Person, when: datetime, subject: str, text: str) -> str:
    """A client forwarding a colleague's mail with one line of their own (a Gmail-style forward)."""
    return (f"FYI, forwarding {original_from.name.split()[0]}'s note below — could you take a look?\n\n"
            f"---------- Forwarded message ---------\nFrom: {_address(original_from.name, original_from.email)}\n"
            f"Date: {when.strftime('%a, %d %b %Y at %H:%M')}\nSubject: {subject}\n"
            f"To: {_address(to.name, to.email)}\n\n{text}")


# Which threads show the other quoting styles (by thread number, so no random draw changes and
# the rest of the demo stays what it was): an Outlook-style reply chain, a forward.
OUTLOOK_EVERY, OUTLOOK_AT = 4, 2
FORWARD_EVERY, FORWARD_AT = 6, 3


def _mime(rng: random.Random, text: str, style: str) -> str:
    """Content headers + body. style: plain | alternative | html."""
    if style == "plain":
        return ("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                + text + "\n")
    paragraphs = "".join(
        f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n")
    )
    html = (f"<html><body style=\"font-family:Arial\"><div>{paragraphs}</div>"
            "<table><tr><td><b>Confidential</b></td></tr></table></body></html>")
    if style == "html":
        return ("Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                + html + "\n")
    boundary = f"=_demo_{rng.getrandbits(48):012x}"
    return (
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{text}\n"
        f"--{boundary}\nContent-Type: text/html; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{html}\n--{boundary}--\n"
    )


def _with_forecast(body_part: str, text: str, account: DemoAccount | None) -> str:
    """A client mail that says "Attached is our forecast" carries it (a CSV): the demo has
    attachments to show, save and open. Uses no randomness, so the rest of the demo is unchanged."""
    if "Attached is our forecast" not in text.split("\n\nOn ", 1)[0]:  # not in the quote
        return body_part
    rows = "quarter;volume\r\n" + "".join(f"Q{q};{100 + 15 * q}\r\n" for q in range(1, 5))
    name = f"forecast {account.name if account else 'next year'}.csv"
    boundary = "=_demo_forecast"
    return (f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n--{boundary}\n'
            f"{body_part}\n--{boundary}\n"
            f'Content-Type: text/csv; charset=utf-8; name="{name}"\n'
            f'Content-Disposition: attachment; filename="{name}"\n'
            f"Content-Transfer-Encoding: 8bit\n\n{rows}\n--{boundary}--\n")


def _raw(*, message_id: str, when: datetime, sender: Person, to: list[Person],
         cc: list[Person], subject: str, in_reply_to: str, refs: list[str], body_part: str) -> bytes:
    headers = [
        f"Message-ID: <{message_id}>",
        f"Date: {format_datetime(when)}",
        f"From: {_address(sender.name, sender.email)}",
        f"To: {', '.join(_address(p.name, p.email) for p in to)}",
    ]
    if cc:
        headers.append(f"Cc: {', '.join(_address(p.name, p.email) for p in cc)}")
    headers.append(f"Subject: {_subject(subject)}")
    if in_reply_to:
        headers.append(f"In-Reply-To: <{in_reply_to}>")
        headers.append("References: " + " ".join(f"<{r}>" for r in refs))
    headers.append("MIME-Version: 1.0")
    return ("\n".join(headers) + "\n" + body_part).encode("utf-8")


def _work_time(rng: random.Random, day: date) -> datetime:
    if day.weekday() >= 5:  # business mail: weekends move to the Friday before
        day -= timedelta(days=day.weekday() - 4)
    moment = datetime.combine(day, time(rng.randint(6, 16), rng.randint(0, 59), rng.randint(0, 59)))
    return moment.replace(tzinfo=UTC)


def generate_mail(
    rng: random.Random,
    *,
    me: Person,
    company: str,
    accounts: list[DemoAccount],
    total: int,
    today: date,
    days: int = 548,
) -> list[DemoMessage]:
    """About `total` messages in threads over the last `days` days, oldest first."""
    # Nothing dated after the moment the demo is built: future mail would top the inbox.
    now = min(datetime.combine(today, time(17, 0)).replace(tzinfo=UTC), datetime.now(UTC))
    messages: list[DemoMessage] = []
    thread_no = 0
    with_contacts = [a for a in accounts if a.contacts]
    while len(messages) < total:
        thread_no += 1
        roll = rng.random()
        account: DemoAccount | None = None
        if thread_no <= len(with_contacts):
            account = with_contacts[thread_no - 1]  # every account's timeline has some mail
        elif roll < 0.86 and with_contacts:
            account = rng.choice(with_contacts)
        if account:
            client = rng.choice(account.contacts)
            others = [c for c in account.contacts if c != client]
            if rng.random() < 0.12:
                # Someone at the client who is not a contact yet: linked by domain only.
                name, local = rng.choice(data.ROLE_MAILBOXES)
                others.append(client)
                client = Person(name, f"{local}@{account.domain}")
        else:
            # Unassigned mail: unknown companies and freemail senders (the review queue).
            name, email = rng.choice(data.UNKNOWN_SENDERS)
            client, others = Person(name, email), []
        # Recent weeks are busier, as an inbox is: skew thread starts towards today.
        age = int(days * rng.random() ** 1.6)
        if account and account.quiet_days:
            # A whole thread (up to 6 messages, 2.5 days apart at most) ends before the silence.
            age = max(age, account.quiet_days + 15)
        when = _work_time(rng, today - timedelta(days=age))
        if when > now:
            when = now - timedelta(minutes=rng.randint(5, 600))
        subject = _fill(rng, rng.choice(data.TOPICS), account, today)
        length = rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6))
        client_first = rng.random() < 0.65
        ends_with_client = ((length - 1) % 2 == 0) == client_first
        if account and ends_with_client and age > ANSWERED_AFTER_DAYS and rng.random() < 0.98:
            length += 1  # older client mail has long been answered: only a few are forgotten
        length = min(length, total - len(messages))
        refs: list[str] = []
        previous: tuple[Person, datetime, str] | None = None
        outlook = thread_no % OUTLOOK_EVERY == OUTLOOK_AT
        style = "plain"
        for position in range(length):
            from_client = (position % 2 == 0) == client_first
            sender = client if from_client else me
            recipient = me if from_client else client
            cc = [rng.choice(others)] if others and rng.random() < 0.2 else []
            if from_client:
                roll = rng.random()
                style = "alternative" if roll < 0.12 else "html" if roll < 0.15 else "plain"
            else:
                style = "plain"
            text = _body(rng, sender, recipient, account, today, company if sender is me
                         else (account.name if account else ""))
            own_text = text
            this_subject = subject if position == 0 else f"Re: {subject}"
            if previous and outlook and from_client:
                text += _outlook_quote(previous[0], sender, previous[1], subject, previous[2])
            elif previous:
                text += _quote(previous[0], previous[1], previous[2].split("\n\n-----Original Message-----")[0])
            elif from_client and account and others and thread_no % FORWARD_EVERY == FORWARD_AT:
                colleague = others[0]
                # The colleague wrote to the client (not to us): their greeting and name.
                original = text.replace(f"Hello {recipient.name.split()[0]},", f"Hello {sender.name.split()[0]},", 1)
                text = _forward(colleague, sender, when - timedelta(hours=3), subject,
                                original.replace(sender.name, colleague.name))
                own_text = text.split("\n\n", 1)[0]
                this_subject = f"Fwd: {subject}"
            domain = sender.email.rsplit("@", 1)[1]
            message_id = f"demo.{thread_no}.{position}.{rng.getrandbits(32):08x}@{domain}"
            raw = _raw(
                message_id=message_id, when=when, sender=sender, to=[recipient], cc=cc,
                subject=this_subject,
                in_reply_to=refs[-1] if refs else "", refs=list(refs),
                body_part=_with_forecast(_mime(rng, text, style), own_text, account)
                if from_client else _mime(rng, text, style),
            )
            last_in_thread = position == length - 1
            recent = (now - when).days < 3
            flags = "S"
            if from_client:
                if recent and last_in_thread and rng.random() < 0.7:
                    flags = ""  # unread
                if not last_in_thread:
                    flags += "R"  # we answered it
                if rng.random() < 0.04:
                    flags += "F"
            messages.append(DemoMessage("INBOX" if from_client else "Sent", when, raw,
                                        "".join(sorted(flags))))
            refs.append(message_id)
            # What the next message quotes: this one without its '>' quote (an Outlook reply keeps
            # its history below, as Outlook does).
            previous = (sender, when, text.split("\n\nOn ", 1)[0])
            when = when + timedelta(minutes=rng.randint(40, 60 * 60))
            if when > now:
                break
    messages.sort(key=lambda m: m.when)
    return messages


def write_maildir(root: Path, messages: list[DemoMessage],
                  progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write INBOX (root cur/new/tmp) and Maildir++ `.Sent`; returns messages per folder."""
    folders = {"INBOX": root, "Sent": root / ".Sent"}
    for folder in folders.values():
        for sub in ("cur", "new", "tmp"):
            make_private_dir(folder / sub)  # every parent it creates is 0700 too
    counts = dict.fromkeys(folders, 0)
    flags_open = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for number, message in enumerate(messages, start=1):
        stamp = int(message.when.timestamp())
        name = f"{stamp}.M{number}P1.rapport-demo:2,{message.flags}"
        path = folders[message.folder] / "cur" / name
        fd = os.open(path, flags_open, FILE_MODE)
        try:
            os.write(fd, message.raw)
        finally:
            os.close(fd)
        # Maildir readers sort by mtime too: make it the message date.
        os.utime(path, (stamp, stamp))
        counts[message.folder] += 1
        if progress and number % 20_000 == 0:
            progress(f"  wrote {number} messages")
    return counts
