"""Provides `rapport status`: what the workspace holds, as a dict scripts can rely on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapport.store.book.stages import Pipeline
from rapport.store.mailstore.bounces import review_counts
from rapport.store.mailstore.syncstate import list_skipped
from rapport.store.money.currency import format_amount, json_amount, to_decimal
from rapport.store.money.rates import MoneySettings
from rapport.store.views.pipeline_figures import pipeline_index

if TYPE_CHECKING:
    from sqlite_utils import Database


def _count(db: Database, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def pipeline_value(db: Database, pipeline: Pipeline, money: MoneySettings) -> dict[str, Any]:
    """The open pipeline in the base currency, as the report and the pipeline pane count it
    (the pane's grouped query: no deal is read one by one)."""
    index = pipeline_index(db, pipeline, date.today(), money)
    base = index.exchange.base
    open_stages = [s for s in index.stages if pipeline.kind(s.name) == "open"]
    return {
        "base_currency": base,
        "open_value": json_amount(sum((s.total for s in open_stages), Decimal(0)), base),
        "open_weighted": json_amount(sum((s.weighted for s in open_stages), Decimal(0)), base),
        "not_converted": sum(s.not_converted for s in index.stages),
        "missing_rates": list(index.exchange.missing(index.currencies)),
    }


def workspace_status(
    db: Database, pipeline: Pipeline, db_path: Path, money: MoneySettings | None = None
) -> dict[str, Any]:
    """Totals, deals per stage (every configured stage, in order), messages per folder.

    Keys `accounts`, `contacts`, `deals`, `messages` (ints), `deals_by_stage` (stage -> count),
    `pipeline_value` (open value and weighted in the base currency, deals not converted) and
    `folders` (mailbox, folder, messages, last_sync) are a promise to scripts, as is
    `skipped` (mailbox, folder, uid, reason, retry, since): messages a sync could not store,
    and `to_review` (unsubscribe_requests, bounces): what waits in Today to be acknowledged.
    """
    by_stage = {name: 0 for name in pipeline.names}
    for stage, count in db.execute("SELECT stage, count(*) FROM deals GROUP BY stage"):
        configured = pipeline.get(stage)
        key = configured.name if configured else stage
        by_stage[key] = by_stage.get(key, 0) + int(count)
    folders = [
        {"mailbox": mailbox, "folder": name, "messages": int(count), "last_sync": last_sync}
        for mailbox, name, count, last_sync in db.execute(
            # A folder's own count: its copies (a message in two folders counts in each).
            "SELECT f.mailbox, f.name, count(c.uid), f.last_sync_utc FROM folders f"
            " LEFT JOIN message_copies c ON c.folder_id = f.id GROUP BY f.id"
            " ORDER BY f.mailbox, f.name"
        )
    ]
    syncs = [f["last_sync"] for f in folders if f["last_sync"]]
    size = sum(
        p.stat().st_size
        for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"))
        if p.exists()
    )
    return {
        "accounts": _count(db, "accounts"),
        "contacts": _count(db, "contacts"),
        "deals": _count(db, "deals"),
        "messages": _count(db, "messages"),
        "deals_by_stage": by_stage,
        "pipeline_value": pipeline_value(db, pipeline, money or MoneySettings()),
        "folders": folders,
        "last_sync": max(syncs) if syncs else None,
        "database": str(db_path),
        "database_bytes": size,
        "schema_version": int(db.execute("PRAGMA user_version").fetchone()[0]),
        "skipped": [
            {"mailbox": s.mailbox, "folder": s.folder, "uid": s.uid, "reason": s.reason,
             "retry": s.retry, "since": s.since}
            for s in list_skipped(db)
        ],
        "to_review": review_counts(db),
    }


def _one_line(text: str) -> str:
    """Server and decoder words are outside text: one line, no control characters."""
    return "".join(c if c.isprintable() else " " for c in " ".join(text.split()))[:200]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def status_text(status: dict[str, Any]) -> str:
    """The human form: aligned lines, one fact each."""
    lines = [
        f"Accounts  {status['accounts']}",
        f"Contacts  {status['contacts']}",
        f"Deals     {status['deals']}",
    ]
    width = max((len(s) for s in status["deals_by_stage"]), default=0)
    lines += [f"  {stage:<{width}}  {n}" for stage, n in status["deals_by_stage"].items()]
    value = status["pipeline_value"]
    base = value["base_currency"]
    left_out = (f"; {value['not_converted']} not converted (no rate for "
                f"{', '.join(value['missing_rates'])})" if value["not_converted"] else "")
    lines.append(f"  open pipeline {format_amount(to_decimal(value['open_value']), base)} {base}, "
                 f"weighted {format_amount(to_decimal(value['open_weighted']), base)}{left_out}")
    lines.append(f"Messages  {status['messages']}")
    if status["folders"]:
        width = max(len(f"{f['mailbox']}/{f['folder']}") for f in status["folders"])
        for f in status["folders"]:
            where = f"{f['mailbox']}/{f['folder']}"
            lines.append(f"  {where:<{width}}  {f['messages']:>7}  last sync {f['last_sync'] or 'never'}")
    else:
        lines.append("  no mail synced yet (add a [[mailbox]] or [[maildir]] to config.toml)")
    if status["skipped"]:
        lines.append(f"Skipped   {len(status['skipped'])} (not stored; the reason of each)")
        for item in status["skipped"]:
            again = "retried at every sync" if item["retry"] else "not retried"
            lines.append(f"  {item['mailbox']}/{item['folder']} UID {item['uid']}: "
                         f"{_one_line(item['reason'])} ({again})")
    waiting = status["to_review"]
    if any(waiting.values()):
        requests, bounced = waiting["unsubscribe_requests"], waiting["bounces"]
        lines.append(f"To review {_plural(requests, 'unsubscribe request')}, "
                     f"{_plural(bounced, 'bounce')} (press t in Rapport for Today)")
    lines.append(f"Last sync {status['last_sync'] or 'never'}")
    lines.append(f"Database  {status['database']} ({_size_text(status['database_bytes'])})")
    return "\n".join(lines)
