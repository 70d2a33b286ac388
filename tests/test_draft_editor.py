"""The editor loop never loses typed text: problems reopen the editor, giving up keeps the file."""

from __future__ import annotations

import re
import tempfile
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from rapport.tui.cli.main import main
from tests.test_drafting_cli import _workspace

REPLY = ["draft", "reply", "orig-7@acme.example", "-t", "acknowledge", "--edit"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    kept = tmp_path / "tmp"
    kept.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(kept))  # where the draft file lives
    return tmp_path / "ws"


def _editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text(f"#!/bin/sh\nn=$(cat {tmp_path}/runs 2>/dev/null || echo 0)\n"
                      f"echo $((n+1)) > {tmp_path}/runs\ncp \"$1\" {tmp_path}/seen-$n\n{script}\n")
    editor.chmod(0o700)
    monkeypatch.setenv("EDITOR", str(editor))


def _kept_path(err: str) -> Path:
    found = re.search(r"the draft is kept in (\S+)$", err.strip())
    assert found, err
    return Path(found.group(1))


def test_a_broken_draft_reopens_the_editor_with_the_problem_on_top(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _workspace(home)
    # First run: the blank line after the headers becomes text; second run: the user fixes it.
    _editor(tmp_path, monkeypatch, 'if [ "$n" = 0 ]; then sed -i "0,/^$/s/^$/oops/" "$1"; '
            'else sed -i "s/^oops$//" "$1"; fi')
    assert main(["--home", str(home), *REPLY]) == 0
    second = (tmp_path / "seen-1").read_text()
    assert second.startswith("# rapport: edited draft: unexpected header line 'oops'")
    [eml] = list((home / "outbox").iterdir())
    back = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert str(back["Subject"]) == "Re: Price list"
    assert "# rapport" not in back.get_content()
    assert list((tmp_path / "tmp").iterdir()) == []  # read back: the temp file is gone


def test_giving_up_keeps_the_text_and_prints_its_full_path(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    _workspace(home)
    _editor(tmp_path, monkeypatch, 'sed -i "/^$/d; s/^Dear Alice,$/Dear Alice, typed by hand/" "$1"')
    assert main(["--home", str(home), *REPLY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rapport: the edited draft needs a blank line") and err.count("\n") == 1
    kept = _kept_path(err)
    assert kept.parent == tmp_path / "tmp"
    assert "Dear Alice, typed by hand" in kept.read_text()
    assert not (home / "outbox").exists() or not list((home / "outbox").iterdir())


def test_an_editor_failing_keeps_the_text(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    _workspace(home)
    _editor(tmp_path, monkeypatch, 'echo "my long answer" >> "$1"; exit 3')
    assert main(["--home", str(home), *REPLY]) == 2
    err = capsys.readouterr().err
    assert "exited with 3" in err
    assert "my long answer" in _kept_path(err).read_text()


def test_an_emptied_file_is_discarded_not_an_error(home: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    _workspace(home)
    _editor(tmp_path, monkeypatch, ': > "$1"')
    assert main(["--home", str(home), *REPLY]) == 0
    assert capsys.readouterr().err == "rapport: draft discarded (the file was emptied)\n"
    assert not (home / "outbox").exists() or not list((home / "outbox").iterdir())
    assert list((tmp_path / "tmp").iterdir()) == []
