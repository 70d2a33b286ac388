"""Provides the one text form of times in the store: UTC ISO-8601, second precision, 'Z'."""

from __future__ import annotations

from datetime import UTC, date, datetime

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_utc_text(moment: datetime) -> str:
    """Aware datetimes are converted; naive ones are taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(UTC_FORMAT)


def utc_now_text() -> str:
    return to_utc_text(utc_now())


def _stored_form(text: str) -> bool:
    """'YYYY-MM-DDTHH:MM:SSZ' in ASCII digits: the form the store writes."""
    return (len(text) == 20 and text.isascii() and text[4] + text[7] + text[10] + text[13] + text[16] + text[19]
            == "--T::Z" and (text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]).isdigit())


def parse_utc_text(text: str) -> datetime:
    # The stored form by fromisoformat (a tenth of strptime's cost: the pipeline pane parses one
    # a deal); anything else through strptime, which accepts and refuses as it always did.
    if _stored_form(text):
        return datetime.fromisoformat(text[:19]).replace(tzinfo=UTC)
    return datetime.strptime(text, UTC_FORMAT).replace(tzinfo=UTC)


def date_text(day: date) -> str:
    return day.isoformat()


def parse_date_text(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
