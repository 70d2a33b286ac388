"""Provides draft templates: loading (TOML front matter + Jinja2 body) and sandboxed rendering.

A template file opens with a TOML block between `+++` lines (`subject`, `to`, `cc`, `kind`,
`description`); the rest is the body. The header fields are Jinja2 too. Everything renders in a
`SandboxedEnvironment` with `StrictUndefined`, because templates are user-editable files and the
context holds mail from strangers: a missing variable must fail loudly, never print nothing, and
`{{ ''.__class__ }}` must never reach Python internals. `render_draft` is a pure function.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from rapport.mail.draft.context import LINE_BREAKS
from rapport.mail.draft.filters import FILTERS
from rapport.mail.draft.install import SUFFIX
from rapport.store.errors import InputError, NotFoundError

KINDS = ("reply", "announcement", "new")
HEADER_FIELDS = ("subject", "to", "cc")
FRONT_MATTER_KEYS = (*HEADER_FIELDS, "kind", "description")
FENCE = "+++"


class DraftTemplateError(InputError):
    """A template cannot be read, compiled or rendered; the message names template and line."""


class TemplateSandboxError(DraftTemplateError, SecurityError):
    """A template tried to reach what the sandbox forbids (`__class__`, `mro`, ...)."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self._text = message

    # jinja2's TemplateError defines `message` as a read-only property; RapportError sets it.
    @property
    def message(self) -> str:  # type: ignore[override]
        return self._text


@dataclass(frozen=True)
class Draft:
    """A rendered template: header values and body text, not yet an email (see compose.py)."""

    template: str
    kind: str
    subject: str
    to: str
    cc: str
    body: str


@dataclass(frozen=True)
class DraftTemplate:
    """A loaded and compiled template. `fields` maps subject/to/cc to their source text."""

    name: str
    path: Path | None
    kind: str
    description: str
    fields: Mapping[str, str]
    body_source: str
    compiled: Mapping[str, Template] = field(compare=False, repr=False)


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,  # plain-text mail: HTML escaping would mangle names like "O'Neil & Co"
        keep_trailing_newline=True,
        trim_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


ENV = _environment()


def split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str, int]:
    """(front matter dict, body, number of lines before the body) of a template file's text."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != FENCE:
        return {}, text, 0
    for index in range(1, len(lines)):
        if lines[index].strip() == FENCE:
            toml_text = "".join(lines[1:index])
            try:
                data = tomllib.loads(toml_text)
            except tomllib.TOMLDecodeError as exc:
                raise _toml_error(exc, name) from exc
            return data, "".join(lines[index + 1 :]), index + 1
    raise DraftTemplateError(f"template {name!r}, line 1: front matter has no closing {FENCE!r}")


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _toml_error(exc: tomllib.TOMLDecodeError, name: str) -> DraftTemplateError:
    """tomllib counts lines from the front matter's first line; report the file's line (the
    opening +++ is line 1), as every other template error does."""
    text = str(exc)
    found = _TOML_AT.search(text)
    if found is None:
        return DraftTemplateError(f"template {name!r}: front matter is not valid TOML: {text}")
    line, column = int(found.group(1)) + 1, found.group(2)
    return DraftTemplateError(f"template {name!r}, line {line}: front matter is not valid TOML: "
                              f"{text[: found.start()]} (column {column})")


def _field_line(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines()[:50], start=1):
        if line.split("=", 1)[0].strip() == key:
            return number
    return 1


def parse_template(text: str, name: str, path: Path | None = None) -> DraftTemplate:
    """Parse and compile a template's text; syntax errors name the template and line."""
    data, body, offset = split_front_matter(text, name)
    unknown = sorted(set(data) - set(FRONT_MATTER_KEYS))
    if unknown:
        raise DraftTemplateError(
            f"template {name!r}: unknown front matter key {unknown[0]!r} "
            f"(known: {', '.join(FRONT_MATTER_KEYS)})"
        )
    kind = data.get("kind", "new")
    if kind not in KINDS:
        raise DraftTemplateError(
            f"template {name!r}, line {_field_line(text, 'kind')}: kind must be one of "
            f"{', '.join(KINDS)}, not {kind!r}"
        )
    fields: dict[str, str] = {}
    for key in HEADER_FIELDS:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise DraftTemplateError(
                f"template {name!r}, line {_field_line(text, key)}: {key} must be a string"
            )
        fields[key] = value
    compiled: dict[str, Template] = {}
    for key, source in fields.items():
        # Each header field is compiled with leading newlines so errors carry its file line.
        compiled[key] = _compile("\n" * (_field_line(text, key) - 1) + source, name)
    # Blank lines in place of the front matter keep body line numbers equal to file lines.
    compiled["body"] = _compile("\n" * offset + body, name)
    return DraftTemplate(
        name=name,
        path=path,
        kind=kind,
        description=str(data.get("description", "")),
        fields=fields,
        body_source=body,
        compiled=compiled,
    )


def _compile(source: str, name: str) -> Template:
    try:
        return _from_string(source, name)
    except TemplateSyntaxError as exc:
        raise DraftTemplateError(f"template {name!r}, line {exc.lineno}: {exc.message}") from exc


def _from_string(source: str, name: str) -> Template:
    # compile() with a name makes Jinja put the template name and real line numbers into the
    # code objects, which is what _error_line() reads back from the traceback.
    code = ENV.compile(source, name=name, filename=f"<template {name}>")
    return ENV.template_class.from_code(ENV, code, ENV.make_globals(None), None)


def template_path(directory: Path, name: str) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise InputError(f"template name {name!r} is not a plain file name")
    return directory / f"{name}{SUFFIX}"


def load_template(directory: Path, name: str) -> DraftTemplate:
    """The template `name` (file name without .j2) from `directory`."""
    path = template_path(directory, name)
    if not path.is_file():
        known = ", ".join(t for t in template_names(directory)) or "none"
        raise NotFoundError(f"no template {name!r} in {directory} (available: {known})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DraftTemplateError(f"template {name!r}: cannot read {path}: {exc}") from exc
    return parse_template(text, name, path)


def template_names(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.name[: -len(SUFFIX)] for p in directory.glob(f"*{SUFFIX}") if p.is_file())


def list_templates(directory: Path) -> list[DraftTemplate]:
    """Every template in `directory`, sorted by name (a broken one raises its error)."""
    return [load_template(directory, name) for name in template_names(directory)]


def _error_line(exc: BaseException, name: str) -> int | None:
    """The template line a runtime error happened on, from Jinja's rewritten traceback."""
    filename = f"<template {name}>"
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_one(template: DraftTemplate, key: str, context: Mapping[str, Any]) -> str:
    where = f"template {template.name!r}"
    try:
        return template.compiled[key].render(context)
    except SecurityError as exc:
        line = _error_line(exc, template.name)
        at = f", line {line}" if line else ""
        raise TemplateSandboxError(f"{where}{at}: not allowed in templates: {exc}") from exc
    except UndefinedError as exc:
        line = _error_line(exc, template.name)
        at = f", line {line}" if line else ""
        raise DraftTemplateError(f"{where}{at}: {exc.message} (variable missing)") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        line = _error_line(exc, template.name)
        at = f", line {line}" if line else ""
        raise DraftTemplateError(f"{where}{at}: {exc}") from exc


_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def _address_count(text: str) -> int:
    return sum(1 for name, addr in getaddresses([text]) if name or addr)


def intended_addresses(source: str) -> int | None:
    """How many addresses a to/cc field's source writes, each `{{ ... }}` counted as part of one
    address (`"{{ contact.name }} <{{ contact.email }}>"` is 1); None with `{% %}` logic."""
    if "{%" in source:
        return None
    return _address_count(_EXPRESSION.sub("x", source))


def _check_recipients(template: DraftTemplate, key: str, value: str) -> None:
    # Data must never add recipients: a contact named `Boss <ceo@evil.example>, Ann` in
    # `"{{ contact.name }} <{{ contact.email }}>"` renders as two addresses where one was meant.
    intended = intended_addresses(template.fields[key])
    got = _address_count(value)
    if intended is not None and got > intended:
        raise DraftTemplateError(
            f"template {template.name!r}: the rendered {key} has {got} addresses where the "
            f"template writes {intended} ({value[:80]!r}); a name or value added recipients, "
            "refused (use contact.address for a quoted name and address)")


def render_draft(template: DraftTemplate, context: Mapping[str, Any]) -> Draft:
    """Render the header fields and body; header values never contain line breaks, and to/cc
    never hold more addresses than the template writes."""
    values = {key: _render_one(template, key, context) for key in (*HEADER_FIELDS, "body")}
    for key in HEADER_FIELDS:
        value = values[key].strip()
        if LINE_BREAKS.search(value) or "\x00" in value:
            raise DraftTemplateError(
                f"template {template.name!r}: the rendered {key} contains a line break "
                "(header injection refused)"
            )
        if key != "subject":
            _check_recipients(template, key, value)
        values[key] = value
    return Draft(
        template=template.name,
        kind=template.kind,
        subject=values["subject"],
        to=values["to"],
        cc=values["cc"],
        body=values["body"].lstrip("\n"),
    )


def load_all(directory: Path) -> list[tuple[str, DraftTemplate | DraftTemplateError]]:
    """Every template in `directory` by name, a broken one as its error: a listing (`rapport
    templates`, the TUI's picker) shows it with the reason instead of stopping at it."""
    found: list[tuple[str, DraftTemplate | DraftTemplateError]] = []
    for name in template_names(directory):
        try:
            found.append((name, load_template(directory, name)))
        except DraftTemplateError as exc:
            found.append((name, exc))
    return found


__all__ = [
    "Draft",
    "DraftTemplate",
    "DraftTemplateError",
    "TemplateSandboxError",
    "list_templates",
    "load_all",
    "load_template",
    "parse_template",
    "render_draft",
]
