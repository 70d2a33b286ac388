"""Provides `UnsubscribeRules`: how unsubscribe requests are recognised, as `[announce]` says.

Apart from store/mailstore/bounces.py (which applies them to stored mail) so that every sync can
read its rules from config.toml without loading the bounce and opt-out bookkeeping (issue 15).
"""

from __future__ import annotations

from dataclasses import dataclass

# English (the language of the built-in templates) plus the reply languages seen in the mail
# Rapport parses; whole lines only, so "Stop by our booth" is no request.
DEFAULT_UNSUBSCRIBE_WORDS = (
    "unsubscribe", "unsubscribe me", "please unsubscribe me", "stop", "remove", "remove me",
    "opt out", "opt me out", "no more emails", "abmelden", "abbestellen", "désabonner",
    "désinscrire", "se désabonner", "darse de baja", "baja", "afmelden", "uitschrijven",
    "avregistrera", "cancella iscrizione",
)


@dataclass(frozen=True)
class UnsubscribeRules:
    """How unsubscribe requests are recognised ([announce] in config.toml)."""

    address: str = ""                 # mail to it is a request ('' : none besides replies)
    address_needs_word: bool = True   # our own address: only with an unsubscribe subject
    words: tuple[str, ...] = DEFAULT_UNSUBSCRIBE_WORDS
