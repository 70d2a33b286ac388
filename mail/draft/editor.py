"""Provides `edit_text`: a draft handed to the user's $VISUAL or $EDITOR and read back."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from rapport.store.errors import InputError


def edit_text(text: str, run: Callable[[list[str]], int] | None = None) -> str:
    """Run $VISUAL or $EDITOR (no shell) on a private temp file holding `text`; the edited text.

    `run` runs the command and returns its exit status (the TUI's hands the terminal over
    first). Every failure is an InputError naming the editor: the draft is not saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    run = run or (lambda command: subprocess.run(command, check=False).returncode)
    fd, name = tempfile.mkstemp(prefix="rapport-draft-", suffix=".eml.txt")  # 0600
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            status = run([*editor.split(), str(path)])
        except OSError as exc:
            raise InputError(f"cannot run editor {editor!r}: {exc.strerror}") from exc
        if status != 0:
            raise InputError(f"editor {editor!r} exited with {status}; draft not saved")
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"the edited draft is not UTF-8 text (byte {exc.object[exc.start]:#x}"
                             f" at offset {exc.start}); save it as UTF-8; draft not saved") from exc
        except OSError as exc:
            raise InputError(f"cannot read the edited draft: {exc.strerror}") from exc
    finally:
        path.unlink(missing_ok=True)
