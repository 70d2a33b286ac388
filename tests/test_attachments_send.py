"""Files attached to what Rapport sends: drafts in a real Dovecot, mail through a real SMTP
server, announcements (promotion files), and the size limit checked before anything."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from attachment_helpers import sha, tiny_pdf
from test_drafting_cli import _workspace

from rapport.tui.cli.main import main

pytest_plugins = ["smtp_fixture"]

PDF = tiny_pdf("Quote 2026-11 for Acme")


def _files(tmp_path: Path) -> tuple[Path, Path]:
    quote = tmp_path / "Angebot Größe Q4.pdf"  # non-ASCII: an RFC 2231 name
    quote.write_bytes(PDF)
    prices = tmp_path / "prices.csv"
    prices.write_bytes("Artikel;Preis\r\nSchraube;0,12 €\n".encode())
    return quote, prices


def _attachments(raw: bytes) -> list[tuple[str, str, bytes]]:
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == "multipart/mixed"
    return [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in msg.iter_attachments()]


def _check(raw: bytes, quote: Path, prices: Path) -> None:
    got = _attachments(raw)
    assert [(name, kind) for name, kind, _ in got] == [
        ("Angebot Größe Q4.pdf", "application/pdf"), ("prices.csv", "text/csv")]
    assert [sha(data) for _, _, data in got] == [sha(quote.read_bytes()), sha(prices.read_bytes())]
    assert b"filename*=utf-8''Angebot%20Gr%C3%B6%C3%9Fe%20Q4.pdf" in raw
    assert b"Content-Transfer-Encoding: base64" in raw
    text = message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()
    assert text.startswith("Dear Alice,")


@pytest.mark.dovecot
def test_a_reply_draft_in_imap_drafts_carries_the_same_bytes(
        home: Path, tmp_path: Path, imap_user) -> None:  # noqa: ANN001
    box = imap_user.mailbox_config("work")
    _workspace(home, "[[mailbox]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in box.items()))
    quote, prices = _files(tmp_path)
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t",
                 "acknowledge", "--attach", str(quote), "--attach", str(prices)]) == 0
    with imap_user.server.client(imap_user) as client:
        client.select_folder("Drafts", readonly=True)
        [data] = client.fetch(client.search("ALL"), [b"BODY.PEEK[]"]).values()
    _check(data[b"BODY[]"], quote, prices)


def test_a_reply_sent_through_smtp_carries_the_files(
        home: Path, tmp_path: Path, smtp_server) -> None:  # noqa: ANN001
    _workspace(home, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
                     'security = "plain"\n')
    quote, prices = _files(tmp_path)
    assert main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t",
                 "acknowledge", "--attach", str(quote), "--attach", str(prices), "--send"]) == 0
    [got] = smtp_server.received
    _check(got.raw, quote, prices)


def test_the_size_limit_and_missing_files_stop_before_anything(
        home: Path, tmp_path: Path, smtp_server, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    _workspace(home, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
                     'security = "plain"\n')
    config = home / "config.toml"
    config.write_text("attachment_limit_mb = 1\n" + config.read_text())
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (1024 * 1024 + 1))
    capsys.readouterr()
    for extra in (["--send"], []):
        code = main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t",
                     "acknowledge", "--attach", str(big), *extra])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "over the 1.0 MB limit" in err
    code = main(["--home", str(home), "draft", "reply", "orig-7@acme.example", "-t",
                 "acknowledge", "--attach", str(tmp_path / "nope.pdf")])
    assert code == 2 and "no such file" in capsys.readouterr().err
    assert smtp_server.received == [] and not (home / "outbox").exists()


def test_announcement_attachments_from_the_promotion_file_and_the_dry_run_total(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from test_drafting_announce import _build

    opened, _won = _build(home)
    opened.close()
    folder = tmp_path / "promo"
    folder.mkdir()
    (folder / "brochure.pdf").write_bytes(PDF)
    (folder / "winter.toml").write_text(
        'name = "Winter offer"\nproducts = ["Solvent X"]\nstart = 2026-12-01\nend = 2027-01-31\n'
        'attachments = ["brochure.pdf"]\n')
    quote, _prices = _files(tmp_path)
    args = ["--home", str(home), "announce", "promotion", "--segment", "tier=key",
            "--promotion", str(folder / "winter.toml")]
    capsys.readouterr()
    assert main([*args, "--attach", str(quote)]) == 0
    out = capsys.readouterr().out
    each = 2 * len(PDF)
    assert f"4 messages carry {4 * each:,} bytes of attachments ({each:,} each" in out
    assert "brochure.pdf" in out and "Angebot Größe Q4.pdf" in out
    assert main([*args, "--drafts"]) == 0
    emls = sorted((home / "outbox").iterdir())
    assert len(emls) == 4
    for eml in emls:
        [(name, kind, data)] = _attachments(eml.read_bytes())
        assert (name, kind, sha(data)) == ("brochure.pdf", "application/pdf", sha(PDF))
    (folder / "brochure.pdf").unlink()
    assert main([*args, "--campaign", "again"]) == 2
    assert "brochure.pdf: no such file" in capsys.readouterr().err
    assert len(list((home / "outbox").iterdir())) == 4  # the refused run wrote nothing
