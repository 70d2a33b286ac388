"""Tests the report's lost reasons (count and value per reason) against hand-derived figures."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

from rapport.store.book import accounts, deals, decisions
from rapport.store.reports.figures import build_report
from rapport.store.reports.period import Period
from rapport.store.session import open_workspace
from rapport.tui.render.report_formats import renderer

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)

# Hand-derived for March 2026, from the book below:
#   price       Alpha 10,000 (5 Mar) + Beta 25,000 (12 Mar)          -> 2 deals, 35,000.00
#   no budget   Foxtrot 9,000 (8 Mar; reopened 2 Apr, still lost in March) -> 1 deal, 9,000.00
#   timing      Charlie 7,500.50 (20 Mar)                            -> 1 deal, 7,500.50
#   unspecified Echo 3,000 (moved to Lost by an import, 25 Mar)      -> 1 deal, 3,000.00
#   Delta 50,000 lost for competitor on 20 Feb is outside the period; Golf is open.
EXPECTED = [("price", 2, 35000.0), ("no budget", 1, 9000.0), ("timing", 1, 7500.5),
            ("unspecified", 1, 3000.0)]


def _backdate_last_change(db, deal_id: int, moment: str) -> None:  # noqa: ANN001
    row = db.execute("SELECT max(id) FROM activities WHERE deal_id = ? AND kind = 'stage_change'",
                     [deal_id]).fetchone()
    db.execute("UPDATE activities SET date_utc = ? WHERE id = ?", [moment, row[0]])
    db.execute("UPDATE deals SET stage_changed_utc = ?, created_utc = '2026-01-05T09:00:00Z' WHERE id = ?",
               [moment, deal_id])


def test_lost_reasons_in_every_format(tmp_path: Path) -> None:
    opened = open_workspace(str(tmp_path / "ws"))
    db, pipeline = opened.db, opened.config.pipeline
    account = accounts.create_account(db, "Acme", domains=["acme.example"])
    made = {}
    for title, value in (("Alpha", 10000), ("Beta", 25000), ("Charlie", 7500.5), ("Delta", 50000),
                         ("Echo", 3000), ("Foxtrot", 9000), ("Golf", 1234)):
        made[title] = deals.create_deal(db, account.id, title, "Closing", pipeline=pipeline, value=value).id
        db.execute("UPDATE deals SET created_utc = '2026-01-05T09:00:00Z' WHERE id = ?", [made[title]])
        db.execute("UPDATE activities SET date_utc = '2026-01-05T09:00:00Z' WHERE deal_id = ?", [made[title]])
    for title, reason, moment in (("Alpha", "price", "2026-03-05T10:00:00Z"),
                                  ("Beta", "price", "2026-03-12T10:00:00Z"),
                                  ("Charlie", "timing", "2026-03-20T10:00:00Z"),
                                  ("Delta", "competitor", "2026-02-20T10:00:00Z"),
                                  ("Foxtrot", "no budget", "2026-03-08T10:00:00Z")):
        decisions.lose_deal(db, made[title], reason, pipeline=pipeline, note="why not")
        _backdate_last_change(db, made[title], moment)
    deals.move_deal(db, made["Echo"], "Lost", pipeline=pipeline, note="imported")
    _backdate_last_change(db, made["Echo"], "2026-03-25T10:00:00Z")
    decisions.reopen_deal(db, made["Foxtrot"], pipeline=pipeline)
    _backdate_last_change(db, made["Foxtrot"], "2026-04-02T10:00:00Z")

    report = build_report(db, pipeline, MARCH, stale_after_days=30, now=NOW)
    opened.close()
    assert [(r.reason, r.deals, r.value) for r in report.lost_reasons] == EXPECTED
    assert sum(r.value for r in report.lost_reasons) == report.lost_value == 54500.5

    data = json.loads(renderer("json")(report))
    assert [(r["reason"], r["deals"], r["value"]) for r in data["lost_reasons"]] == EXPECTED
    rows = [r for r in csv.DictReader(io.StringIO(renderer("csv")(report))) if r["section"] == "lost_reasons"]
    assert [(r["item"], r["field"], r["value"]) for r in rows] == [
        (reason, field, str(value)) for reason, deals_n, value_n in EXPECTED
        for field, value in (("deals", deals_n), ("value", value_n))]
    md = renderer("md")(report)
    section = md.split("## Lost reasons", 1)[1].split("##", 1)[0]
    assert "| price | 2 | 35,000.00 |" in section and "| timing | 1 | 7,500.50 |" in section
    assert "| unspecified | 1 | 3,000.00 |" in section and "competitor" not in section
    html = renderer("html")(report)
    table = html.split('id="lost-reasons-table"', 1)[1].split("</table>", 1)[0]
    assert [cell for cell in ("price", "no budget", "timing", "unspecified") if f"<td>{cell}</td>" not in table] == []
    assert '<td class="num">35,000.00</td>' in table and "competitor" not in table
