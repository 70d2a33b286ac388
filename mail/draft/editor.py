"""Provides `edit_text`: a draft handed to the user's $VISUAL or $EDITOR and read back.

Typed text is never lost: a draft that does not read back is reopened with the problem written
at the top as a comment; when the user gives up (quits the editor without changing it, or the
editor fails) the file is kept and the error names its full path.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rapport.store.errors import InputError, RapportError

T = TypeVar("T")

# Lines the editor loop writes above the draft; they are taken off before the draft is read.
PROBLEM_MARK = "# rapport: "


class DraftDiscarded(RapportError):
    """The user emptied the file: nothing to save, on purpose (not an error: exit 0)."""

    exit_code = 0


def strip_problem_lines(text: str) -> str:
    """The text without the '# rapport: ' comment lines the loop put at its top."""
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith(PROBLEM_MARK):
        lines.pop(0)
    return "".join(lines)


def _with_problem(text: str, problem: str, path: Path) -> str:
    return (f"{PROBLEM_MARK}{problem}\n"
            f"{PROBLEM_MARK}fix it and save (these lines are ignored); quit without saving to keep it in {path}\n"
            + text)


def edit_text(text: str, run: Callable[[list[str]], int] | None = None,
              read: Callable[[str], T] | None = None) -> T:
    """Run $VISUAL or $EDITOR (no shell) on a private temp file holding `text`; `read` of the result.

    `run` runs the command and returns its exit status (the TUI's hands the terminal over
    first). `read` turns the edited text into what the caller needs, raising InputError when it
    cannot (default: the text itself); the editor is then reopened with the problem at the top.
    An emptied file is DraftDiscarded. Every other failure is an InputError naming the file
    that keeps the text; the file is removed only once the text was read back."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    run = run or (lambda command: subprocess.run(command, check=False).returncode)
    # Without `read` the edited text itself is returned (T is then str).
    reader: Callable[[str], T] = read or (lambda edited: edited)  # type: ignore[assignment,return-value]
    fd, name = tempfile.mkstemp(prefix="rapport-draft-", suffix=".eml.txt")  # 0600
    path = Path(name)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    shown = text
    while True:
        try:
            status = run([*editor.split(), str(path)])
        except OSError as exc:
            raise InputError(f"cannot run editor {editor!r}: {exc.strerror}; the draft is kept in {path}") from exc
        if status != 0:
            raise InputError(f"editor {editor!r} exited with {status}; the draft is kept in {path}")
        try:
            edited = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"the edited draft is not UTF-8 text (byte {exc.object[exc.start]:#x}"
                             f" at offset {exc.start}); save it as UTF-8; the draft is kept in {path}") from exc
        except OSError as exc:
            raise InputError(f"cannot read the edited draft {path}: {exc.strerror}") from exc
        draft = strip_problem_lines(edited)
        if not draft.strip():
            path.unlink(missing_ok=True)
            raise DraftDiscarded("draft discarded (the file was emptied)")
        try:
            result = reader(draft)
        except InputError as exc:
            if edited == shown and shown != text:
                # Told once and nothing changed: the user gave up; the text stays on disk.
                raise InputError(f"{exc.message}; the draft is kept in {path}") from exc
            shown = _with_problem(draft, exc.message, path)
            path.write_text(shown, encoding="utf-8")
            continue
        path.unlink(missing_ok=True)
        return result
