"""Provides helpers shared by the sync tests: config.toml with mailboxes, running `rapport sync`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from rapport.store.session import open_workspace
from rapport.tui.cli.main import main


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_config(home: Path, mailboxes: list[dict[str, Any]], me: str = "me@rapport.example",
                 maildirs: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    """A workspace at `home` whose config.toml lists these `[[mailbox]]`/`[[maildir]]` tables."""
    open_workspace(home).close()
    lines = ["[me]", f"email = {_toml_value(me)}", ""]
    for table in mailboxes:
        lines.append("[[mailbox]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        lines.append("")
    for table in maildirs:
        lines.append("[[maildir]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        lines.append("")
    (home / "config.toml").write_text("\n".join(lines))


def run_sync(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`rapport sync --home HOME ARGS` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(["sync", "--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def stored(home: Path, folder: str = "INBOX") -> dict[int, tuple[str, int, int, int]]:
    """UID -> (Message-ID, seen, answered, flagged) of one folder as the workspace holds it."""
    with sqlite3.connect(home / "rapport.db") as conn:
        rows = conn.execute(
            "SELECT m.uid, m.message_id, m.seen, m.answered, m.flagged FROM messages m "
            "JOIN folders f ON f.id = m.folder_id WHERE f.name = ?",
            [folder],
        ).fetchall()
    return {uid: (mid, seen, answered, flagged) for uid, mid, seen, answered, flagged in rows}


def server_state(user: Any, folder: str = "INBOX") -> dict[int, tuple[str, int, int, int]]:
    """The same shape as `stored`, read from the server."""
    ids = user.server_messages(folder)
    flags = user.flags(folder)
    result = {}
    for uid, header in ids.items():
        value = header.split(b":", 1)[1].strip().decode() if b":" in header else ""
        names = set(flags.get(uid, ()))
        result[uid] = (value.strip("<>"), int(b"\\Seen" in names), int(b"\\Answered" in names),
                       int(b"\\Flagged" in names))
    return result
