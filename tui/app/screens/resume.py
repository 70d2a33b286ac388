"""Provides `ReloadOnResume`: a screen that re-reads its data when it comes back to the front."""

from __future__ import annotations


class ReloadOnResume:
    """Mixed into a Screen with a `mail_changed()` (its re-read): back from another screen (an
    account, the reader, Today), what was done there shows here at once."""

    _opened = False

    def mail_changed(self) -> None:
        raise NotImplementedError

    def on_screen_resume(self) -> None:
        # The first resume is the screen's opening, which on_mount has already read for.
        if self._opened:
            self.mail_changed()
        self._opened = True
