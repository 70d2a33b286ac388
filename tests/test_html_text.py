"""HTML mail bodies as readable text (mail/message/html_text.py, through body.html_to_text)."""

from __future__ import annotations

from rapport.mail.message.body import decode_body_part, html_to_text
from rapport.mail.message.html_text import html_text


def test_blocks_lists_and_breaks_are_laid_out_as_a_reader_expects() -> None:
    markup = ("<html><head><title>Hidden</title><style>p{color:red}</style></head><body>"
              "<h2>Update #3</h2><p>hello   world\n again</p><p>second <b>bold</b> x</p>"
              "<ul><li>one</li><li>two</li></ul><ol start=3><li>three<li>four</ol>"
              "line<br>break<div>div1</div><div>div2</div>"
              "<pre>  kept\n   as is</pre><p><a href='https://x.example'>details</a></p>"
              "<script>alert(1)</script></body></html>")
    assert html_text(markup) == (
        "Update #3\n\nhello world again\n\nsecond bold x\n\n  * one\n  * two\n  3. three\n"
        "  4. four\nline\nbreak\ndiv1\ndiv2\n\n  kept\n   as is\n\ndetails")


def test_short_cells_line_up_and_layout_tables_read_cell_after_cell() -> None:
    grid = "<table><tr><th>Item</th><th>Price</th></tr><tr><td>Licence</td><td>9.00 EUR</td></tr></table>"
    assert html_text(grid) == "Item     Price\nLicence  9.00 EUR"
    long_cell = "word " * 20
    layout = (f"<table><tr><td><p>{long_cell}</p><p>second</p></td><td>side</td></tr></table>"
              "after")
    assert html_text(layout) == f"{long_cell.strip()}\n\nsecond\nside\n\nafter"
    nested = "<table><tr><td><table><tr><td>in1</td><td>in2</td></tr></table></td><td>x</td></tr></table>"
    assert html_text(nested) == "in1  in2  x"


def test_comments_scripts_and_styles_vanish_but_the_text_after_them_stays() -> None:
    assert html_text("a<!-- hidden -->b<script>x()</script>tail <span>s</span>") == "abtail s"
    assert html_text("<p>x<?php echo 1; ?>z</p>") == "xz"


def test_nothing_to_read_is_empty_text() -> None:
    for markup in ("", "   ", "<!-- only a comment -->", "<style>td{x}</style>",
                   "<html><head><title>t</title></head></html>"):
        assert html_text(markup) == "", markup


def test_hostile_markup_never_hides_text_or_raises() -> None:
    # NULs and controls (lxml refuses them), an XML declaration (refused in a str), nesting
    # far beyond what libxml2 follows (its parse stops early: the tags are stripped instead).
    assert html_text('<?xml version="1.0" encoding="utf-8"?><p>x\x00y\x07</p>') == "xy"
    deep = "<div>" * 100_000 + "deep" + "</div>" * 100_000 + "after"
    assert html_to_text(deep).split() == ["deep", "after"]
    assert html_text("<div>" * 1500 + "deep" + "</div>" * 1500 + "after") == "deep\nafter"
    assert html_to_text("<ul>" * 3000 + "<li>x").strip().endswith("x")
    escapes = decode_body_part(b"<p>\x1b]0;pwned\x07ok\x1b[31m</p>", content_type="text/html",
                               charset="utf-8", transfer_encoding=None)
    assert escapes == "ok"
