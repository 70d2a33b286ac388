"""Attachment names made safe (mail/attach/names.py) and saving that never overwrites or escapes."""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path

import pytest

from rapport.mail.attach.names import MAX_NAME_BYTES, clean_filename, numbered
from rapport.mail.attach.saving import save_bytes

HOSTILE = [
    "../../etc/passwd",
    "..\\..\\windows\\system32\\evil.dll",
    "/etc/shadow",
    "invoice\u202efdp.exe",
    "report\u2066\u2069.pdf\u200f",
    "a\x00b.txt",
    "line\r\nbreak.txt",
    "\x1b[31mred\x1b[0m.txt",
    ".bashrc",
    "...",
    "..",
    "",
    "x" * 300 + ".pdf",
    "é" * 300 + ".pdf",
    "CON:stream.txt",
    "name.with.a.very.long.extension" + "x" * 40,
]


def _safe(name: str) -> None:
    assert name and name not in (".", "..")
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not name.startswith(".")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") for c in name)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_become_one_safe_component(name: str) -> None:
    _safe(clean_filename(name, "application/pdf"))


def test_bidi_override_cannot_disguise_the_extension() -> None:
    assert clean_filename("invoice\u202efdp.exe") == "invoicefdp.exe"


def test_long_names_keep_their_extension_and_plain_ones_are_kept() -> None:
    assert clean_filename("x" * 300 + ".pdf").endswith(".pdf")
    assert clean_filename("Angebot Q3.pdf") == "Angebot Q3.pdf"
    assert clean_filename("", "application/pdf") == "attachment.pdf"


@pytest.mark.parametrize("name", HOSTILE)
def test_saving_hostile_names_stays_inside_the_folder(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "saved"
    path = save_bytes(folder, clean_filename(name), b"data")
    assert path.parent == folder
    assert path.read_bytes() == b"data"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    first = save_bytes(tmp_path, "quote.pdf", b"one")
    second = save_bytes(tmp_path, "quote.pdf", b"two")
    third = save_bytes(tmp_path, "quote.pdf", b"three")
    assert [p.name for p in (first, second, third)] == ["quote.pdf", "quote (2).pdf",
                                                        "quote (3).pdf"]
    assert first.read_bytes() == b"one"
    assert numbered("README", 2) == "README (2)"
    assert sorted(os.listdir(tmp_path)) == ["quote (2).pdf", "quote (3).pdf", "quote.pdf"]


def test_a_symlink_under_the_name_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").symlink_to(outside)
    path = save_bytes(folder, "a.txt", b"new")
    assert path.name == "a (2).txt" and outside.read_bytes() == b"keep"
