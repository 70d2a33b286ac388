"""Provides the announcement benchmark: 10,000 personalised messages (target < 2 s).

The target is judged on the whole per-message work, as a run does it: render the template in the
SandboxedEnvironment with StrictUndefined, add the signature, compose the message (addresses
parsed and checked, headers encoded and folded, body encoded) to the bytes that are delivered.
Also shown: the same plus an EmailMessage read back and serialised again (what a reply does).
From the same run it prints the peer figure (the
same template rendered by a plain, non-sandboxed jinja2.Environment, rendering only) and the
real `run_announcement` loop over 10,000 contacts of a real workspace (SQLite file, journal),
as a dry run and as a drafts run into outbox/ (.eml files synced to disk and journal rows
committed a batch at a time, as a real run does).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from jinja2 import Environment, StrictUndefined

from rapport.mail.draft.context import ContactView, Promotion, build_context
from rapport.mail.draft.filters import FILTERS
from rapport.mail.draft.install import builtin_templates
from rapport.mail.draft.render import parse_template, render_draft
from rapport.mail.send.compose import build_email, compose, new_draft
from rapport.store.book.accounts import Account
from rapport.store.config import Me

N = 10_000
ACCOUNTS = 997
TARGET_S = 2.0
ME = Me(name="Sam Seller", email="sam@rapport.example", signature="Sam Seller\nRapport GmbH")
PROMO = Promotion("Winter offer", ("Solvent X", "Cleaner Y", "Degreaser Z"), date(2026, 12, 1),
                  date(2027, 1, 31), "https://rapport.example/winter")


def _contexts() -> list[dict]:
    contexts = []
    for i in range(N):
        account = Account(i, f"Account {i % ACCOUNTS} Chemicals",
                          "key" if i % 7 == 0 else "standard", "", ("chemicals",), "",
                          (f"a{i % ACCOUNTS}.example",), "", "")
        contact = ContactView(i, f"Contact{i} Person", f"c{i}@a{i % ACCOUNTS}.example",
                              (f"c{i}@a{i % ACCOUNTS}.example",), "", "", f"Contact{i}")
        contexts.append(build_context(ME, today=date(2026, 11, 22), account=account,
                                      contact=contact, promotion=PROMO))
    return contexts


def _time(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _workspace(root: Path) -> Path:
    """A real workspace: 997 accounts with a won deal, 10,000 contacts, the built-in templates."""
    from rapport.mail.draft.install import install_default_templates
    from rapport.store.book.accounts import create_account, relinking_once
    from rapport.store.book.contacts import create_contact
    from rapport.store.book.deals import create_deal
    from rapport.store.session import open_workspace

    home = root / "ws"
    home.mkdir()
    (home / "config.toml").write_text(
        '[me]\nname = "Sam Seller"\nemail = "sam@rapport.example"\n'
        'signature = "Sam Seller\\nRapport GmbH"\n')
    opened = open_workspace(home)
    db, pipeline = opened.db, opened.config.pipeline
    with relinking_once(db), db.atomic():
        ids = []
        for a in range(ACCOUNTS):
            account = create_account(db, f"Account {a} Chemicals", domains=[f"a{a}.example"],
                                     tier="key" if a % 7 == 0 else "standard",
                                     tags=["chemicals"])
            create_deal(db, account.id, "Supply", "Won / support", pipeline=pipeline, value=1000)
            ids.append(account.id)
        for i in range(N):
            create_contact(db, account_id=ids[i % ACCOUNTS], name=f"Contact{i} Person",
                           emails=[f"c{i}@a{i % ACCOUNTS}.example"])
    install_default_templates(opened.workspace)
    opened.close()
    return home


def _run_loop(home: Path, mode: str) -> tuple[float, int]:
    """Seconds for one run_announcement over every contact, and how many it handled."""
    from rapport.mail.draft.render import load_template
    from rapport.mail.send.announce import run_announcement
    from rapport.store.session import open_workspace

    opened = open_workspace(home)
    try:
        template = load_template(opened.workspace.templates_dir, "promotion")
        start = time.perf_counter()
        result = run_announcement(opened.db, opened.workspace, opened.config, template,
                                  segment_text="all", promotion=PROMO, mode=mode,
                                  today=date(2026, 11, 22))
        seconds = time.perf_counter() - start
    finally:
        opened.close()
    return seconds, result.planned if mode == "dry-run" else result.delivered


def main() -> None:
    template = parse_template(builtin_templates()["promotion"], "promotion")
    contexts = _contexts()

    def ours_render() -> None:
        for context in contexts:
            render_draft(template, context)

    def ours_full() -> None:
        for i, context in enumerate(contexts):
            draft = new_draft(render_draft(template, context), ME)
            compose(draft, ME, message_id=f"bench-{i}@rapport.example").raw  # noqa: B018

    def ours_email() -> None:
        for i, context in enumerate(contexts):
            draft = new_draft(render_draft(template, context), ME)
            build_email(draft, ME, message_id=f"bench-{i}@rapport.example").as_bytes()

    plain = Environment(undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True)
    plain.filters.update(FILTERS)
    peer_templates = [plain.from_string(source) for source in
                      (template.fields["subject"], template.fields["to"], template.body_source)]

    def peer_render() -> None:
        for context in contexts:
            for compiled in peer_templates:
                compiled.render(context)

    full = _time(ours_full)
    email = _time(ours_email)
    render = _time(ours_render)
    peer = _time(peer_render)
    root = Path(tempfile.mkdtemp(prefix="rapport-announce-bench-"))
    try:
        home = _workspace(root)
        dry, dry_count = _run_loop(home, "dry-run")
        outbox, outbox_count = _run_loop(home, "drafts")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    verdict = "OK" if full < TARGET_S else "MISSED"
    print(f"announce_bench: {N:,} personalised messages (median of 3 runs unless noted)")
    print(f"  ours  render + signature + compose to delivered bytes:    {full:.3f} s"
          f"  [target < {TARGET_S:g} s: {verdict}]")
    print(f"  ours  same + EmailMessage read back and serialised:        {email:.3f} s")
    print(f"  ours  render_draft only (SandboxedEnvironment, Strict):     {render:.3f} s")
    print(f"  peer  plain jinja2.Environment render, same template:      {peer:.3f} s"
          f"  (sandbox + strict: {render / peer:.2f}x)")
    print(f"  ours  run_announcement dry run, real workspace (1 run):    {dry:.3f} s"
          f"  ({dry_count:,} contacts)")
    print(f"  ours  run_announcement drafts to outbox/ (1 run):          {outbox:.3f} s"
          f"  ({outbox_count:,} .eml files + journal rows)")


if __name__ == "__main__":
    main()
