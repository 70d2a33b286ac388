"""Provides the announcement rendering benchmark: 10,000 personalised messages (target < 2 s).

Prints our figure (render_draft in the SandboxedEnvironment with StrictUndefined, plus building
each EmailMessage) and, from the same run, the peer figure: the same template body rendered
by a plain, non-sandboxed Jinja2 Environment, i.e. what the sandbox costs.
"""

from __future__ import annotations

import statistics
import time
from datetime import date

from jinja2 import Environment, StrictUndefined

from rapport.mail.compose import build_email, new_draft
from rapport.mail.draft_context import ContactView, Promotion, build_context
from rapport.mail.draft_filters import FILTERS
from rapport.mail.drafting import builtin_templates, parse_template, render_draft
from rapport.store.accounts import Account
from rapport.store.config import Me

N = 10_000
ME = Me(name="Sam Seller", email="sam@rapport.example", signature="Sam Seller\nRapport GmbH")
PROMO = Promotion("Winter offer", ("Solvent X", "Cleaner Y", "Degreaser Z"), date(2026, 12, 1),
                  date(2027, 1, 31), "https://rapport.example/winter")


def _contexts() -> list[dict]:
    contexts = []
    for i in range(N):
        account = Account(i, f"Account {i % 997} Chemicals", "key" if i % 7 == 0 else "standard",
                          "", ("chemicals",), "", (f"a{i % 997}.example",), "", "")
        contact = ContactView(i, f"Contact{i} Person", f"c{i}@a{i % 997}.example",
                              (f"c{i}@a{i % 997}.example",), "", "", f"Contact{i}")
        contexts.append(build_context(ME, today=date(2026, 11, 22), account=account,
                                      contact=contact, promotion=PROMO))
    return contexts


def _time(fn) -> float:  # noqa: ANN001
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    text = builtin_templates()["promotion"]
    template = parse_template(text, "promotion")
    contexts = _contexts()

    def ours_render() -> None:
        for context in contexts:
            render_draft(template, context)

    def ours_full() -> None:
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

    ours = _time(ours_render)
    full = _time(ours_full)
    peer = _time(peer_render)
    print(f"announce_bench: {N:,} personalised messages (median of 3 runs)")
    print(f"  ours  render_draft (SandboxedEnvironment, StrictUndefined): {ours:.3f} s"
          f"  [target < 2 s: {'OK' if ours < 2 else 'MISSED'}]")
    print(f"  ours  render + build EmailMessage + serialise:             {full:.3f} s")
    print(f"  peer  plain jinja2.Environment render, same template:      {peer:.3f} s")
    print(f"  sandbox overhead: {ours / peer:.2f}x the plain render")


if __name__ == "__main__":
    main()
