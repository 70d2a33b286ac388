"""Provides the readers behind `rapport import`: CSV, JSON and vCard files as numbered rows.

Every reader returns `(line, row)` pairs where `row` maps lower-case column names to text, so
the importer can name the file line of each bad row whatever the format was.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapport.store.errors import InputError
from rapport.store.text import clean_line, clean_text, text_problem

Row = dict[str, str]


def read_text(path: Path) -> str:
    """The file's text (UTF-8, BOM tolerated); one-line InputError when it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets on Windows still save "CSV" as cp1252; every byte decodes there.
        return raw.decode("cp1252", errors="replace")


# Columns that may hold several values: a JSON list there is joined with ';' (as exports write).
MULTI_VALUE_COLUMNS = frozenset({"domain", "domains", "email", "emails", "tags"})
# Columns whose text keeps its line breaks; every other cell is one line.
MULTI_LINE_COLUMNS = frozenset({"notes"})


class BadCell(Exception):
    """A cell that makes its row bad (the row is reported, the file goes on)."""


def clean_row(cells: dict[str, str]) -> Row:
    """Cells with terminal escapes and controls removed; BadCell for a NUL or a lone surrogate."""
    row: Row = {}
    for column, value in cells.items():
        problem = text_problem(column) or text_problem(value)
        if problem:
            raise BadCell(f"{clean_line(column) or 'a column'}: {problem}")
        key = clean_line(column).lower()
        row[key] = clean_text(value).strip() if key in MULTI_LINE_COLUMNS else clean_line(value)
    return row


def _json_scalar(value: Any, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    kind = "a list" if isinstance(value, list) else "an object"
    raise BadCell(f"{column}: {kind} where one value was expected")


def _json_cell(value: Any, column: str) -> str:
    if isinstance(value, list) and column in MULTI_VALUE_COLUMNS:
        return ";".join(_json_scalar(item, column) for item in value)
    return _json_scalar(value, column)


def _delimiter(header_line: str) -> str:
    # European spreadsheets write ';'. The header names hold no delimiters, so count there.
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_header(path: Path, cells: list[str]) -> list[str]:
    header = [name.strip().lower() for name in cells]
    problem = next((p for p in map(text_problem, header) if p), None)
    if problem:
        raise InputError(f"{path}:1: the header {problem} (is this a CSV file?)")
    header = [clean_line(name) for name in header]
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise InputError(f"{path}:1: column {name!r} appears twice in the header")
        seen.add(name)
    return header


def _csv_row(cells: list[str], header: list[str], start: int, end: int) -> Row:
    if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header):]):
        raise BadCell(f"{len(cells)} cells but {len(header)} columns")
    raw = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(header)}
    for name, value in raw.items():
        if name not in MULTI_LINE_COLUMNS and ("\n" in value or "\r" in value):
            # Valid CSV, but a name or address never spans lines: a quote left open swallowed them.
            raise BadCell(f"{name or 'a cell'} runs over lines {start}-{end} (a quote left open?)")
    return clean_row(raw)


def read_csv(path: Path, text: str) -> ReadFile:
    """Strict CSV: a stray quote is a file error naming its line, never a cell that swallows the
    rest of the file."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{path}: empty file (the first line must name the columns)")
    delimiter = _delimiter(lines[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        header = _csv_header(path, next(reader))
        rows: list[tuple[int, Row]] = []
        start = reader.line_num + 1
        for cells in reader:
            end = reader.line_num
            if any(cell.strip() for cell in cells):
                try:
                    rows.append((start, _csv_row(cells, header, start, end)))
                except BadCell as exc:
                    rows.append((start, {"__error__": str(exc)}))
            start = end + 1
    except csv.Error as exc:
        spans = f" (the row starting here runs to line {reader.line_num})" \
            if reader.line_num > start else ""
        reason = "a quoted cell is never closed" if "end of data" in str(exc) else str(exc)
        raise InputError(f"{path}:{start}: not valid CSV: {reason}{spans}") from exc
    return ReadFile("csv", rows, delimiter, tuple(header))


def read_json(path: Path, text: str) -> list[tuple[int, Row]]:
    """A JSON list of objects (what `rapport export --format json` writes); numbered by item."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of objects")
    rows: list[tuple[int, Row]] = []
    for number, item in enumerate(data, start=1):
        try:
            if not isinstance(item, dict):
                raise BadCell("not a JSON object")
            cells = {str(k).strip().lower(): v for k, v in item.items()}
            rows.append((number, clean_row({k: _json_cell(v, k) for k, v in cells.items()})))
        except BadCell as exc:
            rows.append((number, {"__error__": str(exc)}))
    return rows


def _vcard_blocks(text: str) -> list[tuple[int, list[str]]]:
    """Split into BEGIN:VCARD ... END:VCARD blocks (their lines), remembering each first line.

    A block without END:VCARD comes back empty.
    """
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        upper = line.strip().upper()
        if upper == "BEGIN:VCARD":
            current, start = [line], number
        elif current:
            current.append(line)
            if upper == "END:VCARD":
                blocks.append((start, current))
                current = []
    if current:
        blocks.append((start, []))
    return blocks


def _pref_first(items: list[Any]) -> list[Any]:
    def rank(item: Any) -> int:
        params = {k.upper(): [str(v).lower() for v in vals] for k, vals in item.params.items()}
        if "pref" in params.get("TYPE", []) or params.get("PREF", ["100"])[0] == "1":
            return 0
        return 1

    return sorted(items, key=rank)


def _vcard_row(card: Any) -> Row:
    contents = card.contents
    name = ""
    if "fn" in contents:
        name = str(contents["fn"][0].value).strip()
    elif "n" in contents:
        n = contents["n"][0].value
        name = " ".join(p for p in (getattr(n, "given", ""), getattr(n, "family", "")) if p)
    emails = [str(e.value).strip() for e in _pref_first(contents.get("email", []))]
    phones = [str(t.value).strip() for t in _pref_first(contents.get("tel", []))]
    org = ""
    if "org" in contents:
        value = contents["org"][0].value
        org = (value[0] if isinstance(value, list) and value else str(value)).strip()
    role = ""
    for key in ("title", "role"):
        if key in contents and not role:
            role = str(contents[key][0].value).strip()
    row = {"name": name, "email": ";".join(e for e in emails if e), "phone": phones[0] if phones else ""}
    row["role"] = role
    if org:
        row["account"] = org
    return row


def _vcard_error(exc: Exception, start: int, lines: list[str]) -> tuple[int, str]:
    """(file line, reason) for a card vobject refused; its own line numbers count CR and LF
    apart, so the line is found by its text."""
    bad = str(exc).partition("Failed to parse line: ")[2].strip()
    if not bad:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return start, f"unreadable vCard: {clean_line(first)[:80]}"
    line = next((start + offset for offset, text in enumerate(lines)
                 if text.strip() and bad.startswith(text.strip())), start)
    return line, f"unreadable vCard line {clean_line(bad)[:60]!r}"


@contextlib.contextmanager
def _vobject_quiet() -> Iterator[None]:
    """vobject logs its own lines on stderr; we report problems as FILE:LINE: reason instead."""
    logger = logging.getLogger("vobject.base")
    before, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = before


def read_vcard(path: Path, text: str) -> list[tuple[int, Row]]:
    """vCard 3.0 or 4.0: FN/N, EMAIL (preferred first), TEL, ORG (the account), TITLE/ROLE.

    A card with a line vobject cannot parse is a bad row at that line: dropping the line (and
    perhaps the contact's only address) would import less than the file says.
    """
    import vobject  # only vCard imports pay for it

    rows: list[tuple[int, Row]] = []
    with _vobject_quiet():
        for start, lines in _vcard_blocks(text):
            if not lines:
                rows.append((start, {"__error__": "vCard without END:VCARD"}))
                continue
            try:
                card = vobject.readOne("\r\n".join(lines) + "\r\n", ignoreUnreadable=False)
                rows.append((start, clean_row(_vcard_row(card))))
            except BadCell as exc:
                rows.append((start, {"__error__": str(exc)}))
            except Exception as exc:  # noqa: BLE001 - vobject raises many types on bad input
                line, reason = _vcard_error(exc, start, lines)
                rows.append((line, {"__error__": reason}))
    if not rows:
        raise InputError(f"{path}: no BEGIN:VCARD found")
    return rows


@dataclass(frozen=True)
class ReadFile:
    """A file read for import: its format, its numbered rows and (CSV) its delimiter."""

    format: str  # 'csv' | 'json' | 'vcard'
    rows: list[tuple[int, Row]]
    delimiter: str = ""
    columns: tuple[str, ...] = ()  # CSV: the header's names

    @property
    def unit(self) -> str:
        """What a row number counts: JSON rows are list items, the others file lines."""
        return "item" if self.format == "json" else "line"


def read_rows(path: Path) -> ReadFile:
    """The numbered rows of the file at `path`, whichever of the three formats it is."""
    text = read_text(path)
    suffix = path.suffix.lower()
    if suffix in (".vcf", ".vcard") or text.lstrip().upper().startswith("BEGIN:VCARD"):
        return ReadFile("vcard", read_vcard(path, text))
    if suffix == ".json" or text.lstrip().startswith("["):
        return ReadFile("json", read_json(path, text))
    return read_csv(path, text)
