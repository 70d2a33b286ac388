"""Provides `explain`: why a message is, or is not, linked to each account (`rapport why`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapport.store.mailstore.corrections import message_id_text
from rapport.store.mailstore.matching import Book, domain_of, freemail_domains, links_for, read_book

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class MatchReason:
    """One line of `rapport why`: a link (linked=True) or a rule that kept one away."""

    account_id: int | None
    account: str
    rule: str  # assigned|pin|override|contact|domain|unassigned|never|mine|freemail|unmatched
    detail: str
    linked: bool
    text: str


_RULE_TEXT = {
    "assigned": "assigned by hand to {account}",
    "pin": "thread pinned to {detail} of {account}",
    "override": "address {detail} has an 'always' override for {account}",
    "contact": "{detail} is a contact of {account}",
    "domain": "domain {detail} belongs to {account}",
    "bounce": "a bounce for {detail}, a contact of {account}",
}


def explain(db: Database, message_id: int) -> list[MatchReason]:
    """Why the message is (or is not) linked to each account, links first."""
    mid, _ = message_id_text(db, message_id)
    book = read_book(db)  # the whole address book: read once, not once per reason
    reasons: list[MatchReason] = []
    for account_id, name, rule, detail in db.execute(
        "SELECT a.id, a.name, ma.rule, ma.detail FROM message_accounts ma "
        "JOIN accounts a ON a.id = ma.account_id WHERE ma.message_id = ? "
        "ORDER BY a.name COLLATE NOCASE",
        [message_id],
    ):
        text = _RULE_TEXT.get(rule, "{rule} {detail} -> {account}").format(
            account=name, detail=detail, rule=rule
        )
        if rule == "domain":
            text += _domain_witnesses(db, book, message_id, account_id, detail)
        reasons.append(MatchReason(account_id, name, rule, detail, True, text))
    reasons.extend(_explain_misses(db, book, message_id, mid))
    if not any(r.linked for r in reasons):
        reasons.append(
            MatchReason(
                None, "", "unmatched", "", False, "no rule links it: unassigned (review queue)"
            )
        )
    return reasons


def _domain_witnesses(db: Database, book: Book, message_id: int, account_id: int,
                      domain: str) -> str:
    """` (via x@sub.acme.com and 2 more)`: the addresses that linked by `domain`, so a match
    through a subdomain or a Cc among thirty recipients can be seen and corrected."""
    found = [
        address for (address,) in db.execute(
            "SELECT address FROM message_addresses WHERE message_id = ? AND role IN ('from',"
            " 'to', 'cc') GROUP BY address ORDER BY min(role != 'from'), address", [message_id])
        if any(row[1:4] == (account_id, "domain", domain) for row in links_for(book, address))
    ]
    if not found:
        return ""
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return f" (via {found[0]}{more})"


def _explain_misses(db: Database, book: Book, message_id: int, mid: str) -> list[MatchReason]:
    misses: list[MatchReason] = []
    for account_id, name in db.execute(
        "SELECT a.id, a.name FROM message_assignments u JOIN accounts a ON a.id = u.account_id "
        "WHERE u.message_id = ? AND u.mode = 'unassign'",
        [mid],
    ):
        misses.append(
            MatchReason(
                account_id, name, "unassigned", "", False, f"unassigned by hand from {name}"
            )
        )
    addresses = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT address FROM message_addresses WHERE message_id = ? "
            "AND role IN ('from', 'to', 'cc') ORDER BY address",
            [message_id],
        )
    ]
    names = dict(db.execute("SELECT id, name FROM accounts").fetchall())
    for address in addresses:
        if address in book.mine:
            misses.append(
                MatchReason(None, "", "mine", address, False, f"{address} is yours: ignored")
            )
            continue
        for addr, account_id in sorted(book.never):
            if addr == address:
                name = names.get(account_id, "?")
                misses.append(
                    MatchReason(
                        account_id,
                        name,
                        "never",
                        address,
                        False,
                        f"{address} has a 'never' override for {name}",
                    )
                )
        domain = domain_of(address)
        if domain in freemail_domains() and address not in book.contacts:
            misses.append(
                MatchReason(
                    None,
                    "",
                    "freemail",
                    domain,
                    False,
                    f"{domain} is a freemail domain: {address} matches only as a contact",
                )
            )
    return misses
