"""Provides `rapport report`: the monthly report and forecast in md, csv, json or html."""

from __future__ import annotations

import argparse
import sys
from typing import Any

# What `--format` accepts; tests check it names exactly report_formats.FORMATS. Written out here
# so that building the parser for every other command does not import the report code.
FORMATS = ("md", "csv", "json", "html")


def register(subparsers: Any, exporters: dict[str, Any]) -> None:
    """Add `rapport report` to `subparsers` (it exports nothing through `rapport export`)."""
    from rapport.tui.cli.main import add_home_option

    parser = subparsers.add_parser(
        "report",
        help="pipeline, won/lost, forecast, activity and key accounts for a month or a period",
        description="Report for --month YYYY-MM, or --from DATE --to DATE (YYYY-MM-DD, both "
        "included); the current month by default.",
    )
    add_home_option(parser)
    parser.add_argument("--month", metavar="YYYY-MM", help="a calendar month (default: this one)")
    parser.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", metavar="DATE", help="last day, YYYY-MM-DD")
    parser.add_argument(
        "--format", choices=FORMATS, default="md", help="output format (default md)"
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from rapport.store.reports.figures import build_report
    from rapport.store.reports.period import parse_period
    from rapport.store.timeutil import utc_now
    from rapport.tui.cli.common import open_ws, output_stream
    from rapport.tui.render.report_formats import missing_rates_warning, renderer

    now = utc_now()
    # Parse before opening anything: a bad date must not create a workspace.
    period = parse_period(
        month=args.month, start=args.date_from, end=args.date_to, today=now.astimezone().date()
    )
    opened = open_ws(args)
    try:
        report = build_report(
            opened.db,
            opened.config.pipeline,
            period,
            stale_after_days=opened.config.stale_after_days,
            now=now,
            money=opened.config.money,
        )
    finally:
        opened.close()
    text = renderer(args.format)(report)
    warning = missing_rates_warning(report)
    if warning:  # the figures are still right, but incomplete: say so once, off stdout
        print(f"rapport: {warning}", file=sys.stderr)
    with output_stream(args.output) as out:
        out.write(text)
    return 0
