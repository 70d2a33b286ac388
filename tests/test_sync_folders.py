"""Which folders a mailbox syncs: SPECIAL-USE flags first, common names as the fallback."""

from __future__ import annotations

from rapport.mail.imap import find_special_folders


def test_special_use_flags_win_over_names() -> None:
    listed = [((b"\\HasNoChildren",), "INBOX"), ((b"\\HasNoChildren",), "Sent"),
              ((b"\\Sent",), "Gesendete Objekte"), ((b"\\Drafts",), "Entwürfe")]
    assert find_special_folders(None, listed) == {"sent": "Gesendete Objekte",  # type: ignore[arg-type]
                                                  "drafts": "Entwürfe"}


def test_common_names_are_the_fallback_without_special_use() -> None:
    listed = [((), "INBOX"), ((), "INBOX.Drafts"), ((), "sent items"), ((), "Archive")]
    assert find_special_folders(None, listed) == {"sent": "sent items",  # type: ignore[arg-type]
                                                  "drafts": "INBOX.Drafts"}
    assert find_special_folders(None, [((), "INBOX")]) == {}  # type: ignore[arg-type]
