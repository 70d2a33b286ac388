"""Provides `rapport import`: accounts, contacts and deals from CSV/JSON/vCard, all-or-nothing.

Every row runs in its own savepoint inside one transaction for the whole file. A bad row is
rolled back and reported with its line number and reason; unless `skip_bad`, any bad row rolls
back the whole file (`ImportRejected`), so nothing is written. Re-importing updates, never
duplicates: accounts are keyed by domain, else name; contacts by email; deals by account+title.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rapport.store.book import accounts as acc
from rapport.store.book import contacts as con
from rapport.store.book.fields import parse_flag, split_domains, split_emails
from rapport.store.book.stages import Pipeline
from rapport.store.errors import InputError, NotFoundError
from rapport.store.io.deal_cells import apply_deal, collect, parse_deal_cells
from rapport.store.io.export import NO_ACCOUNT
from rapport.store.io.readers import Row, read_rows

if TYPE_CHECKING:
    from sqlite_utils import Database


@dataclass(frozen=True)
class BadRow:
    """A refused row: `line` is a file line, or a list item number when `unit` is 'item'."""

    line: int
    reason: str
    unit: str = "line"

    def where(self, path: Path | str) -> str:
        """`FILE:LINE` (CSV, vCard) or `FILE: item N` (JSON, whose rows are list items)."""
        return f"{path}: item {self.line}" if self.unit == "item" else f"{path}:{self.line}"


@dataclass(frozen=True)
class ImportResult:
    """What a file did. For accounts, each account counts once however many rows name it
    (an export has a row per deal), and `deals_*` count the deals those rows made or changed."""

    kind: str
    created: int
    updated: int
    bad: tuple[BadRow, ...]
    deals_created: int = 0
    deals_updated: int = 0


@dataclass
class _AccountTally:
    """The accounts and deals an accounts file wrote, filled in as each row succeeds."""

    created: set[int] = field(default_factory=set)
    touched: set[int] = field(default_factory=set)
    deals_created: int = 0
    deals_updated: int = 0

    def count(self, account_id: int, created: bool, deal_created: bool | None) -> None:
        (self.created if created else self.touched).add(account_id)
        if deal_created is not None:
            self.deals_created += deal_created
            self.deals_updated += not deal_created


class ImportRejected(InputError):
    """The file had bad rows and nothing was written; `bad` lists them."""

    def __init__(self, path: Path, bad: list[BadRow], total: int) -> None:
        super().__init__(
            f"{path}: {len(bad)} of {total} rows are bad; nothing imported "
            "(fix them, or use --skip-bad to import the good rows)"
        )
        self.bad = tuple(bad)


class _Problems(Exception):
    """Every reason a row is bad (collected, so one run lists them all)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


# ---- the three kinds ----------------------------------------------------------------------

class _Seen:
    """Keys already used by earlier rows of the file: a repeat is a duplicate, not an update."""

    def __init__(self) -> None:
        self.lines: dict[object, int] = {}

    def check(self, key: object, what: str, line: int, reasons: list[str]) -> None:
        if key in self.lines:
            reasons.append(f"duplicate {what} (also on line {self.lines[key]})")
        else:
            self.lines[key] = line

    def check_any(self, keys: Sequence[object], what: str, line: int, reasons: list[str]) -> None:
        """Like `check`, when a row has several keys (an account: its name and each domain)."""
        for key in keys:
            if key in self.lines:
                reasons.append(f"duplicate {what} (also on line {self.lines[key]})")
                return
        for key in keys:
            self.lines[key] = line


def _account_row(db: Database, row: Row, line: int, pipeline: Pipeline, seen: _Seen,
                 european: bool, tally: _AccountTally) -> bool:
    reasons: list[str] = []
    name = " ".join(row.get("name", "").split())
    if not name:
        reasons.append("missing name")
    domains: list[str] = collect(
        reasons, lambda: split_domains(row.get("domain", row.get("domains", "")))) or []
    tier = row.get("tier", "") or "standard"
    collect(reasons, lambda: acc.check_tier(tier))
    given_title = " ".join((row.get("deal") or row.get("title") or "").split())
    deal_title = given_title or name
    cells = parse_deal_cells(row, deal_title, pipeline, reasons, european=european)
    cells.title_given = bool(given_title)
    owners = {
        r[0] for d in domains
        for r in db.execute("SELECT account_id FROM account_domains WHERE domain = ?", [d])
    }
    if len(owners) > 1:
        names = [acc.get_account(db, i).name for i in sorted(owners)]
        reasons.append(f"its domains belong to different accounts ({', '.join(names)})")
    existing = acc.find_account(db, name) if not owners and name else None
    account_id = next(iter(owners)) if len(owners) == 1 else (existing.id if existing else None)
    # Several rows may name one account when each names another deal (how exports list deals).
    title_key = given_title.casefold()
    keys = [("name", name.casefold(), title_key)] + [("domain", d, title_key) for d in domains]
    seen.check_any(keys, f"account {name!r}" + (f" deal {given_title!r}" if given_title else ""),
                   line, reasons)
    if reasons:
        raise _Problems(reasons)
    fields = {k: row[k] for k in ("owner", "tags", "notes") if k in row}
    created = account_id is None
    if account_id is None:
        account_id = acc.create_account(db, name, domains=domains, tier=tier, **fields).id
    else:
        old_name = acc.get_account(db, account_id).name
        if not cells.title_given and old_name != name:
            # Renamed through a domain key: its deal is still titled with the old name.
            titled = db.execute(
                "SELECT title FROM deals WHERE account_id = ? AND title IN (?, ?) COLLATE NOCASE",
                [account_id, name, old_name],
            ).fetchall()
            if [t[0] for t in titled] == [old_name]:
                cells.title = old_name
        acc.update_account(db, account_id, name=name,
                           tier=tier if "tier" in row else None, **fields)
        current = acc.get_account(db, account_id).domains
        for domain in domains:
            if domain not in current:
                acc.add_domain(db, account_id, domain)
    deal_created = None if cells.empty else apply_deal(db, account_id, cells, pipeline)
    tally.count(account_id, created, deal_created)  # last: a row that failed counts nothing
    return created


def _resolve_account(db: Database, text: str) -> int:
    found = acc.find_account(db, text)
    if found is None:
        raise InputError(f"unknown account {text!r}")
    return found.id


def _contact_row(db: Database, row: Row, line: int, seen: _Seen) -> bool:
    reasons: list[str] = []
    emails: list[str] = collect(
        reasons, lambda: split_emails(row.get("email", row.get("emails", "")))) or []
    for email in emails:
        seen.check(("email", email), f"email {email}", line, reasons)
    name = " ".join(row.get("name", "").split())
    if not name and not emails:
        reasons.append("needs a name or an email")
    account_text = row.get("account", "").strip()
    no_account = account_text == NO_ACCOUNT  # said outright: never guessed from the email
    account_id: int | None = None
    if account_text and not no_account:
        account_id = collect(reasons, lambda: _resolve_account(db, account_text))
    opted_out = None
    if "opt_out" in row or "opted_out" in row:
        cell = row.get("opt_out", row.get("opted_out", ""))
        opted_out = collect(reasons, lambda: parse_flag(cell, "opt_out"))
    owners = {
        r[0] for e in emails
        for r in db.execute("SELECT contact_id FROM contact_emails WHERE email = ?", [e])
    }
    if len(owners) > 1:
        reasons.append(f"its emails belong to {len(owners)} different contacts")
    if not emails and name:
        seen.check(("name", account_text.casefold(), name.casefold()), f"contact {name!r}",
                   line, reasons)
    if reasons:
        raise _Problems(reasons)
    if not account_text and emails:
        # No account column: the first address's domain says whose contact this is.
        inferred = acc.find_account(db, emails[0].rsplit("@", 1)[1])
        account_id = inferred.id if inferred else None
    contact_id = next(iter(owners)) if owners else None
    if contact_id is None and not emails:
        match = db.execute(
            "SELECT id FROM contacts WHERE name = ? COLLATE NOCASE AND account_id IS ?",
            [name, account_id],
        ).fetchone()
        contact_id = match[0] if match else None
    fields: dict[str, object] = {k: row[k] for k in ("role", "phone") if k in row}
    if opted_out is not None:
        fields["opted_out"] = opted_out
    if contact_id is None:
        # `fields` holds role, phone and opted_out as the row has them (str, str, bool).
        con.create_contact(db, account_id=account_id, name=name, emails=emails, **fields)  # type: ignore[arg-type]
        return True
    current = con.get_contact(db, contact_id)
    if name:
        fields["name"] = name
    if account_text or current.account_id is None:  # '-' unlinks, '' keeps a link
        fields["account_id"] = account_id
    merged = list(current.emails) + [e for e in emails if e not in current.emails]
    con.update_contact(db, contact_id, emails=merged, **fields)  # type: ignore[arg-type]  # as above
    return False


def _deal_row(db: Database, row: Row, line: int, pipeline: Pipeline, seen: _Seen,
              european: bool) -> bool:
    reasons: list[str] = []
    account_text = row.get("account", "").strip()
    title = " ".join(row.get("title", row.get("deal", "")).split())
    account_id = None
    if not account_text:
        reasons.append("missing account")
    else:
        account_id = collect(reasons, lambda: _resolve_account(db, account_text))
    if not title:
        reasons.append("missing title")
    cells = parse_deal_cells(row, title, pipeline, reasons, european=european)
    seen.check((account_id, title.casefold()), f"deal {title!r}", line, reasons)
    if reasons or account_id is None:  # without reasons, the account was found
        raise _Problems(reasons)
    return apply_deal(db, account_id, cells, pipeline)


REQUIRED = {"accounts": ("name",), "contacts": (), "deals": ("account", "title")}


def _check_columns(path: Path, kind: str, columns: set[str]) -> None:
    """InputError naming the missing required columns (and, briefly, the ones the file has)."""
    missing = [c for c in REQUIRED[kind] if c not in columns]
    if kind == "deals" and "title" in missing and "deal" in columns:
        missing.remove("title")
    if missing:
        shown = [name[:40] for name in sorted(columns)[:12]]
        more = f", … ({len(columns) - len(shown)} more)" if len(columns) > len(shown) else ""
        what = (f"the {missing[0]} column is" if len(missing) == 1
                else f"the {', '.join(missing[:-1])} and {missing[-1]} columns are")
        raise InputError(f"{path}: {what} missing (the file has: {', '.join(shown)}{more})")


def import_file(
    db: Database, kind: str, path: Path, *, pipeline: Pipeline, skip_bad: bool = False
) -> ImportResult:
    """Import `path` as `kind` ('accounts' | 'contacts' | 'deals') in one transaction."""
    read = read_rows(path)
    rows = read.rows
    if kind != "contacts" and read.format == "vcard":
        raise InputError(f"{path}: a vCard holds contacts, not {kind}")
    if read.format == "csv":
        _check_columns(path, kind, set(read.columns))
    european = read.delimiter == ";"
    seen = _Seen()
    tally = _AccountTally()
    handlers: dict[str, Callable[[Row, int], bool]] = {
        "accounts": lambda row, line: _account_row(db, row, line, pipeline, seen, european,
                                                  tally),
        "contacts": lambda row, line: _contact_row(db, row, line, seen),
        "deals": lambda row, line: _deal_row(db, row, line, pipeline, seen, european),
    }
    handler = handlers[kind]
    bad: list[BadRow] = []
    created = updated = 0
    # Re-linking runs once, inside the transaction, so links and book commit together.
    with db.atomic(), acc.relinking_once(db):
        for line, row in rows:
            if "__error__" in row:
                bad.append(BadRow(line, row["__error__"], read.unit))
                continue
            try:
                with db.atomic():  # a savepoint: a row that fails halfway leaves nothing
                    if handler(row, line):
                        created += 1
                    else:
                        updated += 1
            except _Problems as exc:
                bad.append(BadRow(line, "; ".join(exc.reasons), read.unit))
            except (InputError, NotFoundError) as exc:
                bad.append(BadRow(line, exc.message, read.unit))
        if bad and not skip_bad:
            raise ImportRejected(path, bad, len(rows))
    if kind == "accounts":
        return ImportResult(kind, len(tally.created), len(tally.touched - tally.created),
                            tuple(bad), tally.deals_created, tally.deals_updated)
    return ImportResult(kind, created, updated, tuple(bad))
