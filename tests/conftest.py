"""Shared fixtures: a fresh workspace on real SQLite files, and the shared mail corpus.

Fixture modules owned by each area live beside this file and are imported here so every test
sees them (tests/ is on sys.path through pytest's rootdir conftest handling).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from courier_server import courier, courier_user  # noqa: F401
from dovecot_server import dovecot, dovecot_no_condstore, imap_user  # noqa: F401

from rapport.store.session import OpenWorkspace, open_workspace

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty workspace folder (not yet created: Rapport must create it privately)."""
    return tmp_path / "ws"


@pytest.fixture
def ws(home: Path) -> Iterator[OpenWorkspace]:
    """A new workspace with its database open on this thread."""
    opened = open_workspace(home)
    yield opened
    opened.close()


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The loose umask of a shared server: Rapport's 0700 / 0600 must not depend on it."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """../shared/corpus beside the repository; tests using it skip where it is absent."""
    if not (CORPUS_DIR / "README.md").exists():
        pytest.skip(f"mail corpus not found at {CORPUS_DIR} (../shared/corpus beside the repo)")
    return CORPUS_DIR


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep tests away from the developer's real workspace, keyring and editor."""
    monkeypatch.delenv("RAPPORT_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("EDITOR", "true")
    os.environ.pop("NO_COLOR", None)
