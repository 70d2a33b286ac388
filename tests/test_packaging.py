"""Tests the built wheel: every module and data file of store/, mail/ and tui/ is inside it.

An editable install reads the source tree, so a package left out of pyproject's list or a
package-data pattern that misses a file (.tcss, .j2, freemail.txt) only breaks a real install.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"store": "rapport/store", "mail": "rapport/mail", "tui": "rapport/tui"}


def tracked_package_files() -> list[str]:
    """The files git tracks under the three package folders (scratch files are not shipped)."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files are the project's")
    listing = subprocess.run(["git", "ls-files", "-z", *PACKAGES], cwd=REPO_ROOT,
                             capture_output=True, text=True, check=True).stdout
    return [name for name in listing.split("\0") if name]


def build_wheel(files: list[str], tmp_path: Path) -> tuple[Path, str]:
    """Build from a copy of the tracked files, so build/ and *.egg-info stay out of the repo."""
    source = tmp_path / "source"
    for name in [*files, "pyproject.toml", "README.md"]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, source / name)
    out = tmp_path / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = out.glob("rapport-*.whl")
    return wheel, done.stdout + done.stderr


def test_wheel_holds_every_module_and_data_file(tmp_path: Path) -> None:
    files = tracked_package_files()
    assert any(name.endswith(".tcss") for name in files)  # the listing is not empty or partial
    wheel, output = build_wheel(files, tmp_path)
    # The backend's deprecations (a TOML-table `license` was one) become build failures later.
    assert "deprecated" not in output.lower(), output
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = email.message_from_bytes(archive.read("rapport-0.1.0.dist-info/METADATA"))
        entry_points = archive.read("rapport-0.1.0.dist-info/entry_points.txt").decode()
    wanted = {PACKAGES[name.split("/", 1)[0]] + "/" + name.split("/", 1)[1] for name in files}
    assert sorted(wanted - names) == []
    assert {"rapport/store/freemail.txt", "rapport/tui/app/app.tcss",
            "rapport/mail/draft/templates/acknowledge.j2", "rapport/store/py.typed",
            "rapport/mail/py.typed", "rapport/tui/py.typed"} <= names
    assert "rapport = rapport.tui.cli.main:main" in entry_points
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Requires-Python"] == ">=3.11"
