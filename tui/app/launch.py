"""Provides `run_tui`: opens the workspace and runs the Textual app (imported only here)."""

from __future__ import annotations


def run_tui(home: str | None) -> int:
    from rapport.mail.draft.install import install_default_templates
    from rapport.store.session import is_workspace, not_a_workspace
    from rapport.store.workspace import resolve_workspace
    from rapport.tui.app.application import RapportApp

    workspace = resolve_workspace(home)
    if not is_workspace(workspace):
        raise not_a_workspace(workspace)  # a mistyped --home never leaves an empty workspace

    app = RapportApp(home=home)  # opens the workspace (config, database) once, for the whole session
    install_default_templates(app.opened.workspace)
    app.run()
    return 0
