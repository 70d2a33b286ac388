"""The HTML report: one self-contained, escaped file that headless Chromium renders without errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_workspace import MARCH, NOW, STALE_AFTER_DAYS, build_report_workspace

from rapport.store.pipeline import Pipeline
from rapport.store.reports import Report, build_report
from rapport.store.session import open_workspace
from rapport.tui.report_html import render_html

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    home = build_report_workspace(tmp_path_factory.mktemp("html") / "ws")
    opened = open_workspace(home)
    try:
        return build_report(
            opened.db, Pipeline(), MARCH, stale_after_days=STALE_AFTER_DAYS, now=NOW
        )
    finally:
        opened.close()


@pytest.fixture(scope="module")
def html(report: Report) -> str:
    return render_html(report)


def test_html_is_self_contained(html: str) -> None:
    # Only the SVG namespace URI may appear; it names a namespace and is never fetched.
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html)) - {"http://www.w3.org/2000/svg"}
    assert urls == set()
    for loader in ("<script", "<link", "<img", "<iframe", "@import", "url(", " src="):
        assert loader not in html
    assert html.count("<svg") == 2  # pipeline by stage and forecast by month
    assert html.count("<style>") == 1


def test_html_escapes_text_from_the_book(html: str) -> None:
    assert "Price too high &lt;b&gt;&amp;amp; | pipes" in html
    assert "<b>" not in html


def test_html_has_the_hand_derived_figures(html: str) -> None:
    # The figures tests/test_reports.py derives by hand, as the HTML prints them.
    for stage, deals, value in [
        ("Prospect", 1, "2,000.00"),
        ("Needs identified", 1, "1,200.00"),
        ("Won / support", 3, "30,000.00"),
        ("Lost", 2, "6,500.00"),
    ]:
        assert f'<tr><td>{stage}</td><td class="num">{deals}</td><td class="num">{value}</td>' in html
    assert "Median first response: <strong>4.25 h</strong>" in html
    assert "(2 of 3 client waits answered, 1 unanswered; 4 client mails)" in html
    assert "Won: 2 deals, 9,000.00. Lost: 1 deals, 5,000.00." in html


def test_html_has_a_section_per_key_account(html: str) -> None:
    sections = re.findall(r'<section class="key-account".*?</section>', html, re.S)
    assert [re.search(r"<h3>(.*?)</h3>", sec).group(1) for sec in sections] == ["Acme", "Borealis"]
    acme, borealis = sections
    assert (
        "<p>Revenue share 30.8% (4,000.00 won up to the end of the period); won in the period "
        "0.00; last contact 2026-03-10; 2 open deals worth 12,000.00, 1 open objection, "
        "1 overdue action.</p>" in acme
    )
    assert (
        '<tr><td>Acme renewal</td><td>Proposal presented</td><td class="num">10,000.00</td>\n'
        "<td>send terms</td><td>2026-03-20 (overdue)</td></tr>" in acme
    )
    assert "<td>Price too high &lt;b&gt;&amp;amp; | pipes</td>" in acme
    assert '<caption>Overdue actions</caption>' in acme
    assert "<td>Borealis big deal</td><td>Closing</td>" in borealis
    assert "won in the period 3,000.00" in borealis
    assert "Open objections" not in borealis and "Overdue actions" not in borealis


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt install chromium); `make test` installs it")
    return found


def test_html_renders_in_headless_chromium(html: str, tmp_path: Path) -> None:
    chromium = _chromium()
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    # The DOM Chromium built holds the figures, so the file parsed as intended.
    assert "<h1>Rapport report: 2026-03</h1>" in dom
    assert '<svg id="chart-stages"' in dom and '<svg id="chart-forecast"' in dom
    assert "Won / support" in dom and "30,000.00" in dom
    assert "Price too high &lt;b&gt;&amp;amp; | pipes" in dom
    # The page has no script, so any console line (Chromium logs them as "INFO:CONSOLE" or
    # "ERROR:CONSOLE" depending on version) means something went wrong.
    for problem in ("Uncaught", ":CONSOLE", "Failed to load resource", "net::ERR_"):
        assert problem not in result.stderr, result.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 10_000
