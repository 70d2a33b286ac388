"""Provides the copying of the built-in templates into a workspace, without loading Jinja2.

Every CLI command and the TUI call `install_default_templates` when they open a workspace; kept
apart from mail/draft/render.py so that this costs a small file read, not the import of Jinja2.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

from rapport.store.workspace import Workspace, make_private_dir, write_private_file

SUFFIX = ".j2"


def builtin_templates() -> dict[str, str]:
    """name -> text of the templates shipped in rapport.mail.draft.templates."""
    from importlib import resources  # only for a zipped install or new built-ins (~3 ms)

    found: dict[str, str] = {}
    for entry in resources.files("rapport.mail.draft.templates").iterdir():
        if entry.name.endswith(SUFFIX):
            found[entry.name[: -len(SUFFIX)]] = entry.read_text(encoding="utf-8")
    return dict(sorted(found.items()))


def builtin_names() -> set[str]:
    """The built-in templates' names, listed from the package's folder when it is a plain one:
    importlib.resources costs every command ~8 ms, for what is nearly always "nothing new"."""
    spec = find_spec("rapport.mail.draft.templates")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders or not all(os.path.isdir(folder) for folder in folders):
        return set(builtin_templates())  # a zipped install: its reader knows how
    return {name[: -len(SUFFIX)] for folder in folders for name in os.listdir(folder) if name.endswith(SUFFIX)}


# The built-ins ever installed in this templates/ folder, one name a line: each is copied once,
# so a template the user deleted stays deleted (and a new built-in still arrives once).
INSTALLED_RECORD = ".rapport-builtins"


def _installed_names(directory: Path) -> set[str]:
    try:
        return set((directory / INSTALLED_RECORD).read_text(encoding="utf-8").split())
    except (OSError, UnicodeDecodeError):
        return set()


def install_default_templates(workspace: Workspace) -> list[str]:
    """Copy each built-in template into the workspace once (0700 dir, 0600 files); user edits
    stay, and deleted ones are not brought back. Returns the names copied now."""
    directory = workspace.templates_dir
    if not directory.exists():
        make_private_dir(directory)
    done = _installed_names(directory)
    if builtin_names() <= done:
        return []  # the common case: two small reads, nothing written
    builtins = builtin_templates()
    installed = []
    for name, text in builtins.items():
        if name in done:
            continue
        if write_private_file(directory / f"{name}{SUFFIX}", text, overwrite=False):
            installed.append(name)
    write_private_file(directory / INSTALLED_RECORD, "".join(
        f"{name}\n" for name in sorted(done | set(builtins))))
    return installed


