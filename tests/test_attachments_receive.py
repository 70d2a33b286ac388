"""Received attachments fetched on demand from a real Dovecot (and a Maildir), saved safely."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from attachment_helpers import mail_with, sha, tiny_pdf
from dovecot_server import DovecotUser
from sync_helpers import TcpProxy, run_sync, write_config

from rapport.mail.attach.actions import show_attachment
from rapport.store.mailstore.messages import find_message
from rapport.store.session import open_workspace
from rapport.tui.cli.main import main

pytestmark = pytest.mark.dovecot

PDF = tiny_pdf("Quote 4711 for Acme")
TEXT = "Artikel;Preis\nSchraube M4;0,12 €\n".encode()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def synced(tmp_path: Path, imap_user: DovecotUser,
           capsys: pytest.CaptureFixture[str]) -> tuple[Path, DovecotUser]:
    imap_user.append([mail_with([("Bestellung 4711.pdf", "application/pdf", PDF),
                                 ("prices.csv", "text/csv", TEXT)])])
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX"])], me="sam@rapport.example")
    config = home / "config.toml"  # a top-level key goes before the first table
    config.write_text(f'attachments_dir = "{tmp_path / "downloads"}"\n' + config.read_text())
    assert run_sync(home, capsys)[0] == 0
    return home, imap_user


def test_list_and_save_round_trip_byte_for_byte(
        synced: tuple[Path, DovecotUser], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    home, _user = synced
    code, out, err = _cli(capsys, "attachment", "list", "po-1@acme.example", "--json",
                          "--home", str(home))
    assert (code, err) == (0, "")
    listed = json.loads(out)
    assert [(a["index"], a["filename"], a["type"]) for a in listed] == [
        (1, "Bestellung 4711.pdf", "application/pdf"), (2, "prices.csv", "text/csv")]
    assert set(listed[0]) == {"index", "filename", "type", "size"}

    code, out, err = _cli(capsys, "attachment", "save", "po-1@acme.example", "1",
                          "--home", str(home))
    assert (code, err) == (0, "")
    saved = Path(out.strip())
    assert saved == tmp_path / "downloads" / "Bestellung 4711.pdf"
    assert sha(saved.read_bytes()) == sha(PDF)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    code, out, _ = _cli(capsys, "attachment", "save", "po-1@acme.example", "2", "-o",
                        str(tmp_path), "--home", str(home))
    assert code == 0 and sha(Path(out.strip()).read_bytes()) == sha(TEXT)
    # Again: a second copy beside the first, never over it.
    code, out, _ = _cli(capsys, "attachment", "save", "po-1@acme.example", "1",
                        "--home", str(home))
    assert Path(out.strip()).name == "Bestellung 4711 (2).pdf"


def test_text_and_pdf_are_shown_as_text(synced: tuple[Path, DovecotUser]) -> None:
    home, _user = synced
    opened = open_workspace(home)
    try:
        message = find_message(opened.db, "po-1@acme.example")
        assert "Schraube M4;0,12 €" in show_attachment(opened.db, opened.config, message, 2)
        if shutil.which("pdftotext") is None:
            pytest.skip("pdftotext (poppler-utils) is not installed")
        assert "Quote 4711 for Acme" in show_attachment(opened.db, opened.config, message, 1)
    finally:
        opened.close()


def test_bad_index_gone_message_and_refusal_are_one_line(
        synced: tuple[Path, DovecotUser], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    home, user = synced
    code, out, err = _cli(capsys, "attachment", "save", "po-1@acme.example", "3",
                          "--home", str(home))
    assert (code, out) == (2, "") and err.count("\n") == 1 and "from 1 to 2" in err
    code, _out, err = _cli(capsys, "attachment", "save", "nope@x", "1", "--home", str(home))
    assert code == 2 and err.count("\n") == 1  # a message that names nothing: bad input
    code, _out, err = _cli(capsys, "attachment", "save", "po-1@acme.example", "1", "-o",
                           str(tmp_path / "missing" / "x.pdf"), "--home", str(home))
    assert code == 2 and "is not a folder" in err
    user.expunge([1])
    code, out, err = _cli(capsys, "attachment", "save", "po-1@acme.example", "1",
                          "--home", str(home))
    assert (code, out) == (2, "") and "gone from the server" in err and err.count("\n") == 1
    assert not (tmp_path / "downloads").exists() or not os.listdir(tmp_path / "downloads")


def test_a_2mb_attachment_crosses_the_wire_only_when_asked(
        tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]) -> None:
    big = os.urandom(2_000_000)
    imap_user.append([mail_with([("drawing.bin", "application/octet-stream", big)],
                                message_id="big@acme.example")])
    proxy = TcpProxy(imap_user.server.plain_port)  # counts what the server sends back
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(port=proxy.port, folders=["INBOX"])])
    try:
        assert run_sync(home, capsys)[0] == 0
        after_sync = proxy.received
        assert after_sync < 50_000  # listed, not downloaded
        code, out, err = _cli(capsys, "attachment", "save", "big@acme.example", "1", "-o",
                              str(tmp_path), "--home", str(home))
        assert (code, err) == (0, "")
        fetched = proxy.received - after_sync
    finally:
        proxy.close()
    assert sha(Path(out.strip()).read_bytes()) == sha(big)
    # base64 on the wire: 4/3 of the bytes plus line breaks, and little else.
    assert 2_600_000 < fetched < 2_800_000


def test_hostile_names_land_inside_the_folder(
        tmp_path: Path, imap_user: DovecotUser, capsys: pytest.CaptureFixture[str]) -> None:
    names = ["../../escape.txt", "invoice\u202efdp.exe", "nul\x00byte.txt", "y" * 300 + ".txt",
             ".hidden", "..", "/abs/path.txt"]
    imap_user.append([mail_with([(n, "text/plain", n.encode("utf-8", "replace") or b"-")
                                 for n in names], message_id="hostile@acme.example")])
    home = tmp_path / "ws"
    write_config(home, [imap_user.mailbox_config(folders=["INBOX"])])
    assert run_sync(home, capsys)[0] == 0
    folder = tmp_path / "into"
    folder.mkdir()
    code, out, _ = _cli(capsys, "attachment", "list", "hostile@acme.example", "--json",
                        "--home", str(home))
    count = len(json.loads(out))
    assert count == len(names)
    for index in range(1, count + 1):
        code, out, err = _cli(capsys, "attachment", "save", "hostile@acme.example", str(index),
                              "-o", str(folder), "--home", str(home))
        assert (code, err) == (0, "")
        path = Path(out.strip())
        assert path.parent == folder and not path.name.startswith(".")
        assert "\u202e" not in path.name and "\x00" not in path.name
        assert len(path.name.encode()) <= 200
    assert len(os.listdir(folder)) == count
    assert sorted(p.name for p in tmp_path.iterdir()) == ["into", "ws"]
    assert "invoicefdp.exe" in os.listdir(folder)
