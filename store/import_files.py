"""Provides the readers behind `rapport import`: CSV, JSON and vCard files as numbered rows.

Every reader returns `(line, row)` pairs where `row` maps lower-case column names to text, so
the importer can name the file line of each bad row whatever the format was.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from rapport.store.errors import InputError

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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ";".join(_cell(item) for item in value)
    return str(value).strip()


def _delimiter(header_line: str) -> str:
    # European spreadsheets write ';'. The header names hold no delimiters, so count there.
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(path: Path, text: str) -> list[tuple[int, Row]]:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{path}: empty file (the first line must name the columns)")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(lines[0]))
    try:
        header = [name.strip().lower() for name in next(reader)]
        rows: list[tuple[int, Row]] = []
        line = reader.line_num
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                extra = cells[len(header) :]
                if any(cell.strip() for cell in extra):
                    rows.append((start, {"__error__": f"{len(cells)} cells but {len(header)} columns"}))
                    continue
            row = {name: cells[i].strip() if i < len(cells) else "" for i, name in enumerate(header)}
            rows.append((start, row))
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from exc
    return rows


def read_json(path: Path, text: str) -> list[tuple[int, Row]]:
    """A JSON list of objects (what `rapport export --format json` writes); line = item number."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of objects")
    rows: list[tuple[int, Row]] = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            rows.append((number, {"__error__": "not a JSON object"}))
            continue
        rows.append((number, {str(k).strip().lower(): _cell(v) for k, v in item.items()}))
    return rows


def _vcard_blocks(text: str) -> list[tuple[int, str]]:
    """Split into BEGIN:VCARD ... END:VCARD blocks, remembering each block's first line."""
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        upper = line.strip().upper()
        if upper == "BEGIN:VCARD":
            current, start = [line], number
        elif current:
            current.append(line)
            if upper == "END:VCARD":
                blocks.append((start, "\r\n".join(current) + "\r\n"))
                current = []
    if current:
        blocks.append((start, ""))
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


def read_vcard(path: Path, text: str) -> list[tuple[int, Row]]:
    """vCard 3.0 or 4.0: FN/N, EMAIL (preferred first), TEL, ORG (the account), TITLE/ROLE."""
    import vobject  # only vCard imports pay for it

    rows: list[tuple[int, Row]] = []
    for start, block in _vcard_blocks(text):
        if not block:
            rows.append((start, {"__error__": "vCard without END:VCARD"}))
            continue
        try:
            card = vobject.readOne(block, ignoreUnreadable=True)
            rows.append((start, _vcard_row(card)))
        except Exception as exc:  # noqa: BLE001 - vobject raises many types on bad input
            rows.append((start, {"__error__": f"unreadable vCard: {str(exc).splitlines()[0][:80]}"}))
    if not rows:
        raise InputError(f"{path}: no BEGIN:VCARD found")
    return rows


def read_rows(path: Path) -> tuple[str, list[tuple[int, Row]]]:
    """('csv' | 'json' | 'vcard', numbered rows) for the file at `path`."""
    text = read_text(path)
    suffix = path.suffix.lower()
    if suffix in (".vcf", ".vcard") or text.lstrip().upper().startswith("BEGIN:VCARD"):
        return "vcard", read_vcard(path, text)
    if suffix == ".json" or text.lstrip().startswith("["):
        return "json", read_json(path, text)
    return "csv", read_csv(path, text)
