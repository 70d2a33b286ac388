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


def parse_utc_text(text: str) -> datetime:
    return datetime.strptime(text, UTC_FORMAT).replace(tzinfo=UTC)


def date_text(day: date) -> str:
    return day.isoformat()


def parse_date_text(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
