"""The HTML report: one self-contained, escaped file that headless Chromium renders without errors.

The static checks and the browser run use the HTML `rapport report --format html` writes for a
book whose text is hostile (markup that would load things if it were not escaped), and the
browser's network log must show no request made by the page.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_workspace import MARCH, NOW, STALE_AFTER_DAYS, build_report_workspace, set_raw

from rapport.store.book.accounts import create_account
from rapport.store.book.activities import add_activity
from rapport.store.book.stages import Pipeline
from rapport.store.reports.figures import Report, build_report
from rapport.store.session import open_workspace
from rapport.tui.render.report_html import render_html

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
    # No name resolves: a fetch the page attempted fails, and the net log below still shows it.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
# Book text that would fetch something if it reached the page as markup.
LOADERS = (
    '<img src="https://evil.example/a.png"> Evil',
    "<script src=//evil.example/x.js></script> url(https://evil.example/b) "
    "@import 'https://evil.example/c.css' <link rel=stylesheet href=https://evil.example/d.css>",
)
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


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


@pytest.fixture(scope="module")
def hostile_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The page the CLI writes for the March book plus a key account with loader markup."""
    root = tmp_path_factory.mktemp("hostile-html")
    home = build_report_workspace(root / "ws")
    opened = open_workspace(home)
    try:
        evil = create_account(opened.db, "Evil", tier="key").id
        objection = add_activity(opened.db, evil, "objection", subject="x",
                                 date_utc="2026-03-04T10:00:00Z")
        # Raw, past the store's cleaning: what an older workspace holds.
        set_raw(opened.db, "accounts", evil, "name", LOADERS[0])
        set_raw(opened.db, "activities", objection.id, "subject", LOADERS[1])
    finally:
        opened.close()
    out = root / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "rapport.tui.cli.main", "--home", str(home), "report",
         "--month", "2026-03", "--format", "html", "--output", str(out)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


class _Loads(HTMLParser):
    """Every tag, every attribute and all CSS of a page: what a browser could fetch from."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []
        self.css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            self.attributes.append((tag, name, value or ""))
            if name == "style":
                self.css.append(value or "")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css.append(data)


def _assert_self_contained(page: str) -> None:
    loads = _Loads()
    loads.feed(page)
    # Only markup the template writes: nothing that loads, embeds or runs.
    assert loads.tags <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "strong", "div",
        "span", "section", "table", "caption", "tr", "th", "td", "svg", "g", "text", "rect",
    }  # fmt: skip
    fetching = {"src", "href", "srcset", "poster", "data", "action", "formaction",
                "background", "xlink:href", "ping", "manifest"}  # fmt: skip
    assert [a for a in loads.attributes if a[1] in fetching] == []
    assert [a for a in loads.attributes if a[1].startswith("on")] == []
    # The one URL in an attribute is the SVG namespace, which names and never fetches.
    urls = [a for a in loads.attributes if "//" in a[2]]
    assert {(tag, name, value) for tag, name, value in urls} <= {("svg", "xmlns", SVG_NAMESPACE)}
    for css in loads.css:
        assert "url(" not in css and "@import" not in css and "//" not in css


def test_html_is_self_contained(html: str, hostile_html: str) -> None:
    _assert_self_contained(html)
    _assert_self_contained(hostile_html)
    assert hostile_html.count("<svg") == 2  # pipeline by stage and forecast by month
    assert hostile_html.count("<style>") == 1
    # The hostile text is there, as text.
    assert "&lt;img src=&#34;https://evil.example/a.png&#34;&gt; Evil" in hostile_html
    assert "&lt;script src=//evil.example/x.js&gt;&lt;/script&gt; url(https://evil.example/b)" in (
        hostile_html
    )


def test_the_self_contained_check_can_fail() -> None:
    for page in (
        '<p>x</p><img src="https://evil.example/a.png">',
        '<p style="background: url(https://evil.example/b)">x</p>',
        "<style>@import 'https://evil.example/c.css';</style>",
        '<svg xmlns="http://www.w3.org/2000/svg"><image href="//evil.example/d.png"/></svg>',
    ):
        with pytest.raises(AssertionError):
            _assert_self_contained(page)


def test_html_escapes_text_from_the_book(html: str) -> None:
    assert "Price too high &lt;b&gt;&amp;amp; | pipes" in html
    assert "<b>" not in html


def test_html_has_the_hand_derived_figures(html: str) -> None:
    # The figures tests/test_reports.py derives by hand, as the HTML prints them.
    for stage, deals, value in [
        ("Prospect", 1, "2,000.00"),
        ("Needs identified", 1, "1,200.00"),
        ("Won / support", 3, "30,000.00"),
        ("Referral", 2, "10,000.00"),
        ("Lost", 3, "9,000.00"),
    ]:
        row = f'<td>{stage}</td><td class="num">{deals}</td><td class="num">{value}</td>'
        assert re.search(f'<tr( class="closed-stage")?>{re.escape(row)}', html), stage
    assert "Median first response: <strong>4.25 h</strong>" in html
    assert "(2 of 3 client waits answered, 1 unanswered; 4 client mails)" in html
    assert "<p>Won 4 deals, 18,500.00; lost 1 deal, 5,000.00.</p>" in html


def test_html_has_a_section_per_key_account(html: str) -> None:
    sections = re.findall(r'<section class="key-account".*?</section>', html, re.S)
    assert [re.search(r"<h3>(.*?)</h3>", sec).group(1) for sec in sections] == ["Acme", "Borealis"]
    acme, borealis = sections
    assert (
        "<p>Revenue share 48.9% (11,000.00 won up to the end of the period); won in the period "
        "7,000.00; last contact 2026-03-10; 2 open deals worth 12,000.00, 1 open objection, "
        "1 open complaint, 1 overdue action.</p>" in acme
    )
    assert (
        '<tr><td>Acme renewal</td><td>Proposal presented</td><td class="num">10,000.00 EUR</td>\n'
        '<td>send terms</td><td class="overdue">2026-03-20 (overdue)</td></tr>' in acme
    )
    assert "<td>Price too high &lt;b&gt;&amp;amp; | pipes</td>" in acme
    assert '<caption>Overdue actions</caption>' in acme
    assert "<td>Borealis big deal</td><td>Closing</td>" in borealis
    assert "won in the period 3,000.00" in borealis
    assert "Open objections" not in borealis and "Overdue actions" not in borealis


def test_html_opens_with_the_figures_and_compares_key_accounts(html: str) -> None:
    cards = re.findall(
        r'<div class="card"><div class="label">(.*?)</div><div class="figure">(.*?)</div>\n'
        r'<div class="detail">(.*?)</div></div>', html)
    assert cards == [
        ("Open pipeline", "21,200.00", "4 deals, weighted 12,320.00"),
        ("Won in the period", "18,500.00", "4 deals"),
        ("Lost in the period", "5,000.00", "1 deal"),
        ("Median first response", "4.25 h", "2 of 3 client waits answered"),
        ("Open objections", "2", "the oldest 23 days"),
        ("Open complaints", "2", "the oldest 22 days"),
        ("Stale accounts", "2", "no contact for 30 days or more"),
        ("Key accounts", "2", "1 overdue action, 1 open objection, 2 open complaints"),
    ]
    overview = html[html.index('<table id="key-overview">') :]
    overview = overview[: overview.index("</table>")]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in overview.split("<tr>")[2:]]
    assert cells == [
        ["Acme", "48.9%", "11,000.00", "7,000.00", "2026-03-10", "2", "12,000.00", "1", "1", "1"],
        ["Borealis", "13.3%", "3,000.00", "3,000.00", "2026-03-20", "2", "28,000.00", "0", "1",
         "0"],
    ]
    complaints = html[html.index('<table id="complaints-table">') :]
    assert "<tr><td>Acme</td><td>2026-03-09</td><td>Invoice sent twice</td>" in complaints
    assert '<caption>Open complaints</caption>' in html
    total = re.search(r'<tr class="total">(.*?)</tr>', html, re.S)
    assert total is not None
    assert re.findall(r"<td[^>]*>(.*?)</td>", total.group(1)) == ["Total", "4", "3", "3", "1", "1"]


def test_chart_labels_stay_clear_of_their_bars(report: Report) -> None:
    # A long stage name from the config is cut in the chart (the table keeps it whole).
    long_name = "Negotiation with procurement and legal"
    stages = (dataclasses.replace(report.stages[0], stage=long_name), *report.stages[1:])
    page = render_html(dataclasses.replace(report, stages=stages))
    chart = page[page.index('<svg id="chart-stages"') : page.index("</svg>")]
    assert '<text x="0" y="16">Negotiation with procurem…</text>' in chart
    assert f"<td>{long_name}</td>" in page


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt install chromium); `make test` installs it")
    return found


def _render(chromium: str, page: Path, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Open `page` in headless Chromium; its run and the URLs the page itself requested."""
    net_log = tmp_path / f"{page.stem}.netlog.json"
    result = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / ('profile-' + page.stem)}",
            f"--log-net-log={net_log}",
            *extra,
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    events = json.loads(net_log.read_text()).get("events", [])
    # Requests the page made carry its file:// network isolation key; Chromium's own
    # background traffic (updates, accounts) does not.
    fetched = {
        e["params"]["url"]
        for e in events
        if "url" in e.get("params", {})
        and str(e["params"].get("network_isolation_key", "")).startswith("file://")
    }
    return result, sorted(fetched - {page.as_uri()})


def test_html_renders_in_headless_chromium(hostile_html: str, tmp_path: Path) -> None:
    chromium = _chromium()
    # First, that the net log does show a page's fetches (so the assertion below can fail).
    probe = tmp_path / "probe.html"
    probe.write_text('<!DOCTYPE html><p>x</p><img src="http://loader.example/a.png">')
    _, probe_fetched = _render(chromium, probe, tmp_path)
    assert probe_fetched == ["http://loader.example/a.png"]

    page = tmp_path / "report.html"
    page.write_text(hostile_html, encoding="utf-8")
    shot = tmp_path / "report.png"
    result, fetched = _render(
        chromium, page, tmp_path, "--window-size=1200,2400", f"--screenshot={shot}"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert fetched == []  # one self-contained file: the page asked the network for nothing
    dom = result.stdout
    # The DOM Chromium built holds the figures, so the file parsed as intended.
    assert "<h1>Rapport report: March 2026</h1>" in dom
    assert '<svg id="chart-stages"' in dom and '<svg id="chart-forecast"' in dom
    assert "Won / support" in dom and "30,000.00" in dom
    assert "Price too high &lt;b&gt;&amp;amp; | pipes" in dom
    assert "&lt;img src=\"https://evil.example/a.png\"&gt; Evil" in dom  # text, not an <img>
    assert "<img" not in dom and "<script" not in dom
    # The page has no script, so any console line (Chromium logs them as "INFO:CONSOLE" or
    # "ERROR:CONSOLE" depending on version) means something went wrong.
    for problem in ("Uncaught", ":CONSOLE", "Failed to load resource", "net::ERR_"):
        assert problem not in result.stderr, result.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 10_000
