"""Provides the announcement flow's promotion step: pick a promotion saved in the workspace
(promotions/*.toml), type a new one (name, products, start, end, link: saved there so it can
be picked next time), or give a TOML file. "No promotion" is offered only when the template
does not use one: its every message would fail to render.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rapport.mail.draft.context import Promotion, load_promotion, make_promotion
from rapport.mail.draft.promotions import save_promotion, saved_promotions, uses_promotion
from rapport.mail.draft.render import DraftTemplate
from rapport.store.errors import InputError, RapportError
from rapport.tui.app.safe import notify
from rapport.tui.app.screens.pick import PickScreen
from rapport.tui.app.screens.prompt import PromptScreen

_NEW, _FILE, _NONE = "new", "file", "none"
Answer = tuple[bool, Promotion | None]  # (go on, the promotion); (False, None): cancelled
CANCELLED: Answer = (False, None)


def _load_file(text: str) -> Promotion:
    if not text.strip():
        raise InputError("give the path of a promotion TOML file (escape goes back)")
    return load_promotion(Path(text.strip()).expanduser())


async def ask_promotion(app: Any, template: DraftTemplate) -> Answer:
    """The promotion for an announcement with `template`, as the user chooses it."""
    workspace = app.opened.workspace
    needs = uses_promotion(template)
    saved, broken = saved_promotions(workspace)
    choices: list[tuple[str, Any]] = [] if needs else [("no promotion", _NONE)]
    choices += [(f"{promo.name} — {promo.dates or 'no dates'}  ({path.name})", path) for path, promo in saved]
    choices += [("a new promotion: name, products, start, end, link (saved for next time)", _NEW),
                ("a promotion file (TOML: name, products, start, end, link)", _FILE)]
    question = f"Promotion{' (template ' + template.name + ' uses one)' if needs else ''}:"
    if broken:
        question += f"  {len(broken)} unreadable in {broken[0][0].parent}: {broken[0][1]}"
    picked = await app.push_screen_wait(PickScreen(question, choices))
    if picked is None:
        return CANCELLED
    if picked == _NONE:
        return True, None
    if isinstance(picked, Path):
        return True, dict(saved)[picked]
    if picked == _FILE:
        text = await app.push_screen_wait(PromptScreen("Promotion file (TOML path)", check=_load_file))
        return CANCELLED if text is None else (True, _load_file(text))
    return await _new_promotion(app)


async def _new_promotion(app: Any) -> Answer:
    """Five prompts, each checked as it is answered; the promotion is saved in promotions/."""
    data: dict[str, Any] = {}
    asks = (("name", "Promotion name (e.g. Winter offer)", lambda t: make_promotion({"name": t})),
            ("products", "Products, comma-separated (blank for none)", None),
            ("start", "Starts (YYYY-MM-DD, blank for none)", lambda t: make_promotion({"name": "-", "start": t})),
            ("end", "Ends (YYYY-MM-DD, blank for none)",
             lambda t: make_promotion({"name": "-", "start": data.get("start"), "end": t})),
            ("link", "Link to the details (blank for none)", None))
    for key, question, check in asks:
        answer = await app.push_screen_wait(PromptScreen(question, check=check))
        if answer is None:
            return CANCELLED
        if answer.strip():
            data[key] = answer.strip()
    try:
        promotion = make_promotion(data)
        path = save_promotion(app.opened.workspace, promotion)
    except (RapportError, OSError) as exc:
        notify(app, exc.message if isinstance(exc, RapportError) else str(exc), title="Promotion",
               severity="error")
        return CANCELLED
    notify(app, f"saved as {path}: pick it next time", title="Promotion")
    return True, promotion
