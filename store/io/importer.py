"""Provides `rapport import`: accounts, contacts and deals from CSV/JSON/vCard, all-or-nothing.

Every row runs in its own savepoint inside one transaction for the whole file. A bad row is
rolled back and reported with its line number and reason; unless `skip_bad`, any bad row rolls
back the whole file (`ImportRejected`), so nothing is written. Re-importing updates, never
duplicates: accounts are keyed by domain, else name; contacts by email; deals by account+title.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from dateutil import parser as dateparser
from sqlite_utils import Database

from rapport.store.book import accounts as acc
from rapport.store.book import contacts as con
from rapport.store.book import deals as dls
from rapport.store.book.stages import Pipeline
from rapport.store.errors import InputError, NotFoundError, RapportError
from rapport.store.io.export import NO_ACCOUNT
from rapport.store.io.readers import Row, read_rows

DEAL_COLUMNS = (
    "stage", "value", "currency", "probability", "expected_close", "next_action",
    "next_action_due",
)
_TRUE = {"1", "yes", "y", "true", "t", "x", "opted out", "opt-out", "optout"}
_FALSE = {"", "0", "no", "n", "false", "f"}


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


# ---- cell parsers -------------------------------------------------------------------------

# Two defaults that differ in year, month and day: a part the text leaves out shows as a
# difference between the two readings (dateutil fills missing parts from the default).
_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))


def parse_date_cell(text: str, column: str) -> date | None:
    """A calendar date with year, month and day: 2026-03-01, 1 Mar 2026, 03/01/2026, 1.3.2026
    or an ISO date-time; '' is None. '1 Mar', 'March', 'monday', '12:30' or '99' are refused."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    # 01.02.2026 is 1 February wherever dots are written (Germany, Poland...).
    dayfirst = re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{2,4}", text) is not None
    try:
        first, second = (dateparser.parse(text, default=d, dayfirst=dayfirst).date()
                         for d in _DEFAULTS)
    except (ValueError, OverflowError, TypeError):
        raise InputError(f"bad date {text!r} in {column}") from None
    if first != second:
        raise InputError(f"bad date {text!r} in {column} (needs a day, a month and a year)")
    return first


# A '.' then groups of exactly three digits, nothing else: '12.500', '1.234.567'.
_DOT_THOUSANDS = re.compile(r"\d+(\.\d{3})+")


def parse_amount(text: str, column: str = "value", *, european: bool = False) -> float:
    """`12500`, `12,500.50`, `12.500,50`, `€ 1 200` -> a float.

    `european` (a ';'-separated file, as spreadsheets write where ',' is the decimal mark):
    `12.500` is 12500 and a lone ',' is the decimal mark (`12,5`, `1,234`). Elsewhere a '.'
    is the decimal mark and ',' before three digits groups thousands (`1,234` is 1234).
    """
    clean = re.sub(r"[\s_'€$£]|[A-Za-z]{3}$|^[A-Za-z]{3}", "", text.strip())
    if "," in clean and "." in clean:
        if clean.rfind(",") > clean.rfind("."):
            clean = clean.replace(".", "").replace(",", ".")
        else:
            clean = clean.replace(",", "")
    elif "," in clean:
        head, _, tail = clean.rpartition(",")
        decimal = european or len(tail) != 3
        clean = f"{head.replace(',', '')}.{tail}" if decimal else clean.replace(",", "")
    elif european and _DOT_THOUSANDS.fullmatch(clean):
        clean = clean.replace(".", "")
    try:
        return dls.check_value(clean)
    except InputError:
        raise InputError(f"bad amount {text!r} in {column}") from None


def parse_flag(text: str, column: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"bad {column} {text!r} (use yes or no)")


def _collect(reasons: list[str], func: Callable[[], object]) -> object:
    try:
        return func()
    except RapportError as exc:
        reasons.append(exc.message)
        return None


# ---- deals on a row -----------------------------------------------------------------------

@dataclass
class DealCells:
    """The deal columns of one row, parsed; `present` holds the columns the file has."""

    title: str
    title_given: bool = True
    present: set[str] = field(default_factory=set)
    stage: str | None = None
    value: float | None = None
    currency: str | None = None
    probability: float | None = None
    expected_close: date | None = None
    next_action: str = ""
    next_action_due: date | None = None

    @property
    def empty(self) -> bool:
        return not (self.stage or self.value is not None or self.currency
                    or self.probability is not None or self.expected_close
                    or self.next_action or self.next_action_due)


def parse_deal_cells(row: Row, title: str, pipeline: Pipeline, reasons: list[str], *,
                     european: bool = False) -> DealCells:
    cells = DealCells(title=title, present={c for c in DEAL_COLUMNS if c in row})
    stage = row.get("stage", "")
    if stage:
        found = pipeline.get(stage)
        if found is None:
            reasons.append(f"unknown stage {stage!r}")
        else:
            cells.stage = found.name
    if row.get("value"):
        cells.value = _collect(  # type: ignore[assignment]
            reasons, lambda: parse_amount(row["value"], european=european))
    if row.get("currency"):
        cells.currency = _collect(reasons, lambda: dls.check_currency(row["currency"]))  # type: ignore[assignment]
    if row.get("probability"):
        text = row["probability"].rstrip("% ")
        cells.probability = _collect(reasons, lambda: dls.check_probability(text))  # type: ignore[assignment]
    for column in ("expected_close", "next_action_due"):
        setattr(cells, column, _collect(reasons, lambda c=column: parse_date_cell(row.get(c, ""), c)))
    cells.next_action = " ".join(row.get("next_action", "").split())
    return cells


def apply_deal(db: Database, account_id: int, cells: DealCells, pipeline: Pipeline) -> bool:
    """Create or update the account's deal named `cells.title`; True when one was created."""
    row = db.execute(
        "SELECT id FROM deals WHERE account_id = ? AND title = ? COLLATE NOCASE",
        [account_id, cells.title],
    ).fetchone()
    if row is None and not cells.title_given:
        # No deal/title column: the row speaks of "the account's deal" when it has just one.
        only = db.execute(
            "SELECT id FROM deals WHERE account_id = ? LIMIT 2", [account_id]
        ).fetchall()
        row = only[0] if len(only) == 1 else None
    if row is None:
        dls.create_deal(
            db, account_id, cells.title, cells.stage or pipeline.stages[0].name,
            pipeline=pipeline, value=cells.value or 0.0, currency=cells.currency or "EUR",
            probability=cells.probability, expected_close=cells.expected_close,
            next_action=cells.next_action, next_action_due=cells.next_action_due,
        )
        return True
    deal_id = int(row[0])
    if cells.stage:
        dls.move_deal(db, deal_id, cells.stage, pipeline=pipeline, note="imported")
    changes: dict[str, object] = {}
    if cells.value is not None:
        changes["value"] = cells.value
    if cells.currency:
        changes["currency"] = cells.currency
    # Columns present in the file are authoritative: an empty cell clears the field.
    if "probability" in cells.present:
        changes["probability"] = cells.probability
    if "expected_close" in cells.present:
        changes["expected_close"] = cells.expected_close
    if changes:
        dls.update_deal(db, deal_id, **changes)  # type: ignore[arg-type]
    if {"next_action", "next_action_due"} & cells.present:
        current = dls.get_deal(db, deal_id)
        text = cells.next_action if "next_action" in cells.present else current.next_action
        due = cells.next_action_due if "next_action_due" in cells.present else current.next_action_due
        dls.set_next_action(db, deal_id, text, due)
    return False


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

    def check_any(self, keys: list[object], what: str, line: int, reasons: list[str]) -> None:
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
    domains: list[str] = []
    for part in re.split(r"[;\s]+", row.get("domain", row.get("domains", ""))):
        if part:
            domain = _collect(reasons, lambda p=part: acc.normalize_domain(p))
            if domain and domain not in domains:
                domains.append(str(domain))
    tier = row.get("tier", "") or "standard"
    _collect(reasons, lambda: acc.check_tier(tier))
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
    emails: list[str] = []
    for part in re.split(r"[;,\s]+", row.get("email", row.get("emails", ""))):
        if part:
            email = _collect(reasons, lambda p=part: con.normalize_email(p))
            if email and email not in emails:
                emails.append(str(email))
                seen.check(("email", email), f"email {email}", line, reasons)
    name = " ".join(row.get("name", "").split())
    if not name and not emails:
        reasons.append("needs a name or an email")
    account_text = row.get("account", "").strip()
    no_account = account_text == NO_ACCOUNT  # said outright: never guessed from the email
    account_id: int | None = None
    if account_text and not no_account:
        account_id = _collect(reasons, lambda: _resolve_account(db, account_text))  # type: ignore[assignment]
    opted_out = None
    if "opt_out" in row or "opted_out" in row:
        cell = row.get("opt_out", row.get("opted_out", ""))
        opted_out = _collect(reasons, lambda: parse_flag(cell, "opt_out"))
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
        con.create_contact(db, account_id=account_id, name=name, emails=emails, **fields)  # type: ignore[arg-type]
        return True
    current = con.get_contact(db, contact_id)
    if name:
        fields["name"] = name
    if account_text or current.account_id is None:  # '-' unlinks, '' keeps a link
        fields["account_id"] = account_id
    merged = list(current.emails) + [e for e in emails if e not in current.emails]
    con.update_contact(db, contact_id, emails=merged, **fields)  # type: ignore[arg-type]
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
        account_id = _collect(reasons, lambda: _resolve_account(db, account_text))
    if not title:
        reasons.append("missing title")
    cells = parse_deal_cells(row, title, pipeline, reasons, european=european)
    seen.check((account_id, title.casefold()), f"deal {title!r}", line, reasons)
    if reasons:
        raise _Problems(reasons)
    return apply_deal(db, int(account_id), cells, pipeline)  # type: ignore[arg-type]


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
