"""Provides the report renderers (md, csv, json, html), all built from one `Report` so figures agree.

JSON is the reference shape (report_data.py); CSV is that same data flattened; Markdown
(report_md.py) and HTML (report_html.py) print the same rounded numbers, worded by
report_text.py. Every renderer starts from `safe_report`, so no format carries a terminal escape,
control or bidi-override character from book text.
"""

from __future__ import annotations

from collections.abc import Callable

from rapport.store.reports.figures import Report
from rapport.tui.render.report_data import csv_rows, render_csv, render_json, report_data
from rapport.tui.render.report_md import render_md
from rapport.tui.render.report_text import (
    ACTIVITY_FIELDS,
    KEY_OVERVIEW_HEADERS,
    Headline,
    activity_total,
    amount_text,
    base_text,
    closed_text,
    currency_note,
    day_of,
    due_text,
    headlines,
    hours,
    key_account_lists,
    key_account_summary,
    key_overview_row,
    missing_rates_warning,
    money,
    next_action_text,
    not_converted_text,
    open_pipeline_text,
    period_title,
    rates_text,
    safe_report,
    scope_text,
    stale_title,
    waits_text,
)

__all__ = [
    "ACTIVITY_FIELDS", "FORMATS", "KEY_OVERVIEW_HEADERS", "Headline", "activity_total",
    "amount_text", "base_text", "closed_text", "csv_rows", "currency_note", "day_of", "due_text",
    "headlines", "hours", "key_account_lists", "key_account_summary", "key_overview_row",
    "missing_rates_warning", "money", "next_action_text", "not_converted_text",
    "open_pipeline_text", "period_title", "rates_text", "render_csv", "render_json", "render_md",
    "renderer", "report_data", "safe_report", "scope_text", "stale_title", "waits_text",
]

FORMATS = ("md", "csv", "json", "html")


def renderer(fmt: str) -> Callable[[Report], str]:
    """The renderer for `fmt` (one of FORMATS)."""
    if fmt == "html":
        from rapport.tui.render.report_html import render_html

        return render_html
    return {"md": render_md, "csv": render_csv, "json": render_json}[fmt]
