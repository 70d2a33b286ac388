"""Provides the reading of MIME header values (Content-Type, Content-Disposition) from raw bytes.

Read the way a strict IMAP server reads them, so a Maildir file and its BODYSTRUCTURE agree:
a type is `type/subtype` followed by nothing but parameters (else it is unreadable: ""), a
lone `type` has an empty subtype, and a broken parameter is skipped one character at a time
until the next one parses (`charset=x junk; name=y` keeps both).
"""

from __future__ import annotations

from rapport.mail.message.mime import param_dict

_SPECIALS = frozenset('()<>[]:;@\\,"/?=')


def header_fields(block: bytes) -> dict[str, str]:
    """The first value of each field of a header block, unfolded; names lower-cased."""
    fields: dict[str, str] = {}
    name = ""
    for line in block.split(b"\n"):
        text = line.rstrip(b"\r").decode("utf-8", "surrogateescape")
        if text[:1] in (" ", "\t"):
            if name:
                fields[name] += " " + text.strip()
            continue
        field_name, colon, rest = text.partition(":")
        name = field_name.strip().lower() if colon else ""
        if name in fields:
            name = ""  # a repeated field: the first one counts
        elif name:
            fields[name] = rest.strip()
    return fields


def _strip_comments(value: str) -> str:
    out, depth, quoted, escaped = [], 0, False, False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"' and depth == 0:
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            continue
        elif not quoted and char == ")" and depth:
            depth -= 1
            continue
        if depth == 0:
            out.append(char)
    return "".join(out)


class _Reader:
    def __init__(self, value: str) -> None:
        self.text = _strip_comments(value)
        self.at = 0

    def skip_space(self) -> bool:
        """Skip white space; False at the end."""
        while self.at < len(self.text) and self.text[self.at] in " \t\r\n":
            self.at += 1
        return self.at < len(self.text)

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def token(self) -> str:
        start = self.at
        while self.at < len(self.text) and ord(self.text[self.at]) > 32 and (
                self.text[self.at] not in _SPECIALS and self.text[self.at] != "\x7f"):
            self.at += 1
        found = self.text[start:self.at]
        self.skip_space()
        return found

    def quoted(self) -> str | None:
        out, self.at = [], self.at + 1
        while self.at < len(self.text):
            char = self.text[self.at]
            if char == "\\" and self.at + 1 < len(self.text):
                out.append(self.text[self.at + 1])
                self.at += 2
                continue
            self.at += 1
            if char == '"':
                self.skip_space()
                return "".join(out)
            out.append(char)
        return None

    def param(self) -> tuple[str, str] | None:
        """One `; name=value`; None (and the position left at the fault) when broken."""
        if self.peek() != ";":
            return None
        self.at += 1
        if not self.skip_space():
            return None
        name = self.token()
        if not name or self.peek() != "=":
            return None
        self.at += 1
        if not self.skip_space():
            return name, ""
        if self.peek() == '"':
            value = self.quoted()
            return None if value is None else (name, value)
        if self.peek() == "=":  # `name==?utf-8?b?...?=`: an unquoted encoded word
            start = self.at
            while self.at < len(self.text) and self.text[self.at] not in "; \t\r\n":
                self.at += 1
            return name, self.text[start:self.at]
        return name, self.token()

    def params(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        while self.at < len(self.text):
            found = self.param()
            if found is None:
                self.at += 1  # broken: step over one character and try again
            else:
                pairs.append(found)
        return pairs


def content_type(fields: dict[str, str], default: str) -> tuple[str, dict[str, str]]:
    """(`type/subtype` lower-cased, parameters) of a header block; `default` without a
    Content-Type, "" (and no parameters) when it cannot be read."""
    if "content-type" not in fields:
        return default, {"charset": "us-ascii"} if default == "text/plain" else {}
    reader = _Reader(fields["content-type"])
    reader.skip_space()
    main = reader.token()
    if not main:
        return "", {}
    if not reader.peek():
        kind = f"{main}/"
    elif reader.peek() == "/":
        reader.at += 1
        reader.skip_space()
        sub = reader.token()
        if not sub or reader.peek() not in ("", ";"):
            return "", {}
        kind = f"{main}/{sub}"
    else:
        return "", {}
    params = param_dict(reader.params())
    if kind.lower().startswith("text/"):
        params.setdefault("charset", "us-ascii")
    return kind.lower(), params


def disposition(fields: dict[str, str]) -> tuple[str, dict[str, str]]:
    """(disposition lower-cased, parameters) of a header block; ("", {}) without one."""
    if "content-disposition" not in fields:
        return "", {}
    reader = _Reader(fields["content-disposition"])
    reader.skip_space()
    kind = reader.token()
    return kind.lower(), param_dict(reader.params())
