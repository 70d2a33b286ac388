"""Provides `flag_tuple`: IMAP flag names as the (seen, answered, flagged, draft) the store keeps."""

from __future__ import annotations

from collections.abc import Collection

from rapport.store.mailstore.copies import Flags


def flag_tuple(flags: object) -> Flags:
    """(seen, answered, flagged, draft) of flag names (`\\Seen`, b"\\Answered", ...); anything
    that is not a collection of names (a missing FLAGS item) has none set."""
    names = set()
    if isinstance(flags, Collection) and not isinstance(flags, (str, bytes)):
        for flag in flags:
            text = flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)
            names.add(text.lstrip("\\").lower())
    return ("seen" in names, "answered" in names, "flagged" in names, "draft" in names)
