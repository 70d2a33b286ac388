"""Provides `[announce]`: the unsubscribe links every announcement carries, and the rules that
turn incoming mail into opt-outs.

Headers (RFC 2369 List-Unsubscribe, RFC 8058 one-click): always a `mailto:` link, to
`unsubscribe_address` or else to your own address with the subject "unsubscribe"; with
`unsubscribe_url` (https only, RFC 8058 section 3.1) also that link first and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`. Replies and one-to-one drafts carry none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from rapport.store.config import Config, refuse_unknown_keys
from rapport.store.errors import ConfigError, InputError
from rapport.store.mailstore.optout_rules import DEFAULT_UNSUBSCRIBE_WORDS, UnsubscribeRules

ANNOUNCE_KEYS = ("unsubscribe_address", "unsubscribe_url", "unsubscribe_words")
ONE_CLICK = "List-Unsubscribe=One-Click"
SUBJECT = "unsubscribe"


@dataclass(frozen=True)
class AnnounceSettings:
    """`[announce]` read: where unsubscribe requests go and how they are recognised."""

    address: str                      # '' when neither it nor [me] email is set
    own_address: bool                 # the address is yours: requests need the subject
    url: str = ""
    words: tuple[str, ...] = DEFAULT_UNSUBSCRIBE_WORDS

    @property
    def mailto(self) -> str:
        if not self.address:
            return ""
        # The subject is what makes a mail to your own address a request.
        return f"mailto:{self.address}?subject={quote(SUBJECT)}"

    def headers(self) -> list[tuple[str, str]]:
        """List-Unsubscribe (and List-Unsubscribe-Post when one-click is possible), or []."""
        links = [link for link in (self.url, self.mailto) if link]
        if not links:
            return []
        found = [("List-Unsubscribe", ", ".join(f"<{link}>" for link in links))]
        if self.url:
            found.append(("List-Unsubscribe-Post", ONE_CLICK))
        return found

    def footer(self) -> str:
        """`{{ unsubscribe }}`: one line a person can act on."""
        if self.url:
            return f"To receive no more announcements: {self.url}"
        if self.address:
            return (f"To receive no more announcements, reply \"unsubscribe\" or write to "
                    f"{self.address} with the subject \"unsubscribe\".")
        return "To receive no more announcements, reply \"unsubscribe\"."

    def rules(self) -> UnsubscribeRules:
        return UnsubscribeRules(self.address, self.own_address, self.words)


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("[announce] unsubscribe_url must be an https:// link")
    url = value.strip()
    parts = urlsplit(url)
    # RFC 8058: one-click needs HTTPS; header values we write never carry newlines or <>.
    if parts.scheme != "https" or not parts.netloc or any(c in url for c in "<>\r\n\t ,"):
        raise ConfigError(f"[announce] unsubscribe_url must be an https:// link, not {url!r}")
    return url


def announce_settings(config: Config) -> AnnounceSettings:
    """`[announce]` of config.toml; ConfigError (one line) for a bad value."""
    table = config.raw.get("announce", {})
    if not isinstance(table, dict):
        raise ConfigError("[announce] must be a table")
    refuse_unknown_keys(table, ANNOUNCE_KEYS, "in [announce]")
    mine = config.me.all_addresses
    address = table.get("unsubscribe_address", "")
    if address:
        if not isinstance(address, str):
            raise ConfigError("[announce] unsubscribe_address must be an email address")
        from rapport.store.book.contacts import normalize_email  # the book: only when set

        try:
            address = normalize_email(address)
        except InputError as exc:
            raise ConfigError(f"[announce] unsubscribe_address: {exc.message}") from exc
    else:
        address = config.me.email.strip().lower()
    url = _url(table["unsubscribe_url"]) if "unsubscribe_url" in table else ""
    words = table.get("unsubscribe_words", DEFAULT_UNSUBSCRIBE_WORDS)
    if not isinstance(words, (list, tuple)) or not all(
            isinstance(w, str) and w.strip() for w in words) or not words:
        raise ConfigError("[announce] unsubscribe_words must be a list of words like "
                          "[\"unsubscribe\", \"stop\"]")
    return AnnounceSettings(address, address in mine, url, tuple(w.strip() for w in words))


def unsubscribe_rules(config: Config) -> UnsubscribeRules:
    """The rules every sync applies to new mail (`rapport sync`, `--watch`, the TUI's).

    A bad `[announce]` refuses the sync (ConfigError, exit 2 as any config error) rather than syncing without them:
    a request is recognised only as its batch is saved, so one synced meanwhile would never set
    the opt-out, and its sender would be mailed again once `[announce]` is fixed. The mail waits
    on the server until then.
    """
    try:
        return announce_settings(config).rules()
    except ConfigError as exc:
        raise ConfigError(f"config.toml: {exc.message}; nothing synced, so that no unsubscribe "
                         "request goes unrecognised (fix [announce], then sync)") from exc
