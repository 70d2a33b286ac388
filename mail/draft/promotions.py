"""Provides the promotions saved in the workspace (`promotions/*.toml` beside templates/):
listing them for a picker, saving one typed in the TUI so it can be picked again, and whether a
template needs one at all.

A saved promotion is the same TOML a `--promotion FILE` reads (name, products, start, end, link).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from jinja2 import meta

from rapport.mail.draft.context import Promotion, load_promotion
from rapport.mail.draft.render import ENV, DraftTemplate
from rapport.store.errors import InputError
from rapport.store.workspace import Workspace, make_private_dir, write_private_files


def promotions_dir(workspace: Workspace) -> Path:
    return workspace.config_dir / "promotions"


def saved_promotions(workspace: Workspace) -> tuple[list[tuple[Path, Promotion]], list[tuple[Path, str]]]:
    """The readable promotion files, by name, and (path, error) of those that are not."""
    found: list[tuple[Path, Promotion]] = []
    broken: list[tuple[Path, str]] = []
    folder = promotions_dir(workspace)
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            found.append((path, load_promotion(path)))
        except InputError as exc:
            broken.append((path, exc.message))
    return sorted(found, key=lambda item: item[1].name.casefold()), broken


def _toml(promotion: Promotion) -> str:
    # JSON strings are TOML basic strings (same escapes); dates are TOML local dates.
    lines = [f"name = {json.dumps(promotion.name, ensure_ascii=False)}",
             f"products = [{', '.join(json.dumps(p, ensure_ascii=False) for p in promotion.products)}]"]
    lines += [f"{key} = {day.isoformat()}" for key, day in (("start", promotion.start), ("end", promotion.end))
              if day is not None]
    if promotion.link:
        lines.append(f"link = {json.dumps(promotion.link, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def save_promotion(workspace: Workspace, promotion: Promotion) -> Path:
    """Write `promotion` as promotions/<name>.toml (0600; a new file, never over another)."""
    folder = promotions_dir(workspace)
    make_private_dir(folder)
    stem = re.sub(r"[^a-z0-9]+", "-", promotion.name.casefold()).strip("-")[:60] or "promotion"
    path = folder / f"{stem}.toml"
    number = 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}.toml"
    write_private_files([(path, _toml(promotion).encode("utf-8"))])
    return path


def uses_promotion(template: DraftTemplate) -> bool:
    """Whether the template reads `promotion` (then rendering without one fails)."""
    for source in (*template.fields.values(), template.body_source):
        if "promotion" in meta.find_undeclared_variables(ENV.parse(source)):
            return True
    return False
