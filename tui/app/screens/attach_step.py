"""Provides `AttachStep`: the reply flow's step between $EDITOR and saving, where files are
attached with a file picker (Textual's DirectoryTree) rooted at the home folder.

enter on a file adds it (again: removes it), x removes the last one, d or escape is done: the
draft is saved with the files listed. The size limit is shown as the files are added and
checked again when the message is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Static

from rapport.mail.attach.outgoing import human_size
from rapport.tui.app.safe import clean, safe_text


class _VisibleTree(DirectoryTree):
    """Hidden files and folders left out: the home folder is full of them."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if not path.name.startswith(".")]


class AttachStep(ModalScreen[list[Path]]):
    """Choose files to attach; dismissed with the chosen paths (maybe none)."""

    DEFAULT_CSS = """
    AttachStep { align: center middle; }
    AttachStep > Vertical { width: 90%; height: 90%; border: round $accent;
        background: $surface; }
    AttachStep #attach-tree { height: 1fr; }
    AttachStep #attach-chosen { height: auto; max-height: 5; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d,escape", "done", "Done", id="attach.done"),
        Binding("x", "remove_last", "Remove last", id="attach.remove"),
    ]

    def __init__(self, limit_bytes: int, root: Path | None = None) -> None:
        super().__init__()
        self.limit_bytes = limit_bytes
        self.root = root or Path.home()
        self.chosen: list[Path] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_text("Attach files: enter adds (or removes) a file, x removes "
                                   "the last, d or escape saves the draft"))
            yield _VisibleTree(self.root, id="attach-tree")
            yield Static(id="attach-chosen")

    def on_mount(self) -> None:
        self.query_one("#attach-tree").focus()
        self._show()

    def _show(self) -> None:
        if not self.chosen:
            text = "no files attached"
        else:
            sizes = [p.stat().st_size if p.exists() else 0 for p in self.chosen]
            total = sum(sizes)
            over = "  OVER THE LIMIT" if total > self.limit_bytes else ""
            names = ", ".join(f"{p.name} ({human_size(s)})" for p, s in zip(self.chosen, sizes,
                                                                            strict=True))
            text = (f"attached: {names}; total {human_size(total)} of "
                    f"{human_size(self.limit_bytes)}{over}")
        self.query_one("#attach-chosen", Static).update(safe_text(clean(text)))

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        if event.path in self.chosen:
            self.chosen.remove(event.path)
        else:
            self.chosen.append(event.path)
        self._show()

    def action_remove_last(self) -> None:
        if self.chosen:
            self.chosen.pop()
            self._show()

    def action_done(self) -> None:
        self.dismiss(list(self.chosen))
