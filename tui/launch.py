"""Provides `run_tui`: opens the workspace and runs the Textual app (imported only here)."""

from __future__ import annotations


def run_tui(home: str | None) -> int:
    from rapport.store.session import open_workspace

    opened = open_workspace(home)
    from rapport.mail.template_install import install_default_templates

    install_default_templates(opened.workspace)
    opened.close()
    from rapport.tui.app import RapportApp

    RapportApp(home=home).run()
    return 0
