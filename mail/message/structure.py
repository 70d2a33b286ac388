"""Provides `parse_structure`: a message's bytes as the MIME tree an IMAP server would describe.

The Maildir path (and the IMAP path's whole-message fallback) read structure here, so a file on
disk and the same bytes served by IMAP give the same tree, and then the same NewMessage. The
rules are those of RFC 2045/2046 as a strict streaming parser (Dovecot's) applies them to
broken mail, not the stdlib's guesses; mail/message/params.py reads the header values.

- A header block ends at the first empty line (a line of spaces folds); without one the whole
  entity is header. A message whose first line is indented text has no header at all.
- Parts lie between lines that start with `--boundary` (the first 80 characters count; of
  several open boundaries the longest that matches); a boundary line of an enclosing multipart
  ends the inner one too, and a closed (`--b--`) multipart's boundary no longer counts. The line break before a boundary line belongs to it.
- A multipart without a boundary parameter, or without parts, holds one empty text part; multipart/digest parts
  default to message/rfc822; a message/rfc822 part holds a message.
"""

from __future__ import annotations

import re

from rapport.mail.message.mime import MimePart
from rapport.mail.message.params import content_type, disposition, header_fields

MAX_PARTS = 3000
MAX_DEPTH = 40
MAX_BOUNDARY = 80
_LINE = re.compile(rb"[^\n]*\n|[^\n]+")


def wire_size(data: bytes) -> int:
    """Octets as a server counts them: every line ending a CRLF."""
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


class _Parser:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.starts = [m.start() for m in _LINE.finditer(raw)]
        self.count = len(self.starts)
        self.parts = 0
        self.content_end = 0  # where the last entity read ended, before any boundary line
        self.boundaries: list[bytes] = []  # open multiparts' boundaries, innermost last

    def line(self, index: int) -> bytes:
        end = self.starts[index + 1] if index + 1 < self.count else len(self.raw)
        return self.raw[self.starts[index]:end]

    def offset(self, index: int) -> int:
        return self.starts[index] if index < self.count else len(self.raw)

    def boundary_at(self, index: int) -> int | None:
        """Which open boundary line `index` is (None: none): the longest that it starts with,
        the innermost of equals."""
        if not self.boundaries:
            return None
        line = self.line(index)
        if not line.startswith(b"--"):
            return None
        best: int | None = None
        for level in range(len(self.boundaries) - 1, -1, -1):
            boundary = self.boundaries[level]
            if line.startswith(boundary, 2) and (
                    best is None or len(self.boundaries[best]) < len(boundary)):
                best = level
        return best

    def next_boundary(self, index: int) -> int:
        while index < self.count and self.boundary_at(index) is None:
            index += 1
        return index

    def header(self, index: int) -> tuple[int, int, bool]:
        """(end offset of the header block, first body line, ended by a boundary line)."""
        first = self.line(index) if index < self.count else b""
        if index == 0 and first[:1] in (b" ", b"\t") and first.strip():
            return self.offset(index), index, False  # indented text first: no header
        line_index = index
        while line_index < self.count:
            if self.boundary_at(line_index) is not None:
                return self.offset(line_index), line_index, True
            if self.line(line_index) in (b"\n", b"\r\n"):
                return self.offset(line_index), line_index + 1, False
            line_index += 1
        return len(self.raw), self.count, False

    def body_end(self, start: int, end_line: int) -> int:
        """Where a body that runs up to line `end_line` ends: before a boundary's line break."""
        cut = self.offset(end_line)
        if end_line < self.count and cut > start and self.raw[cut - 1:cut] == b"\n":
            cut -= 2 if cut - 1 > start and self.raw[cut - 2:cut] == b"\r\n" else 1
        return cut

    def entity(self, index: int, default: str, depth: int, section: str,
               prefix: str) -> tuple[MimePart, int]:
        """The entity from line `index`, and the line that ends it (a boundary line, or the
        line count). `section` is its BODY[] number as a leaf, `prefix` its children's."""
        self.parts += 1
        head_end, body_line, cut_short = self.header(index)
        fields = header_fields(self.raw[self.offset(index):head_end])
        kind, params = content_type(fields, default)
        shown, disp_params = disposition(fields)
        part = MimePart(kind, section, params, fields.get("content-transfer-encoding", "7bit")
                        .strip().lower() or "7bit", 0, shown,
                        disp_params.get("filename") or params.get("name") or "")
        body_start = self.offset(body_line)
        if cut_short:
            # The header ran into a boundary line: its line break stays with the header.
            part.payload = b""
            self.content_end = body_start
            return part, body_line
        nested = depth < MAX_DEPTH and self.parts < MAX_PARTS
        if nested and kind.startswith("multipart/"):
            end_line = self.multipart(part, body_line, depth, prefix)
            part.size = wire_size(self.raw[body_start:self.content_end])
            return part, end_line
        if nested and kind == "message/rfc822":
            inner = f"{section}."
            part.enclosed, end_line = self.entity(body_line, "text/plain", depth + 1,
                                                  f"{inner}1", inner)
            inner_fields = header_fields(self.raw[body_start:self.header(body_line)[0]])
            part.enclosed_subject = inner_fields.get("subject", "").encode(
                "utf-8", "surrogateescape")
        else:
            end_line = self.next_boundary(body_line)
            self.content_end = self.body_end(body_start, end_line)
        part.payload = self.raw[body_start:max(body_start, self.content_end)]
        part.size = wire_size(part.payload)
        return part, end_line

    def multipart(self, part: MimePart, index: int, depth: int, prefix: str) -> int:
        """Read a multipart's children into `part`; returns the line that ends it."""
        boundary = part.params.get("boundary", "").encode("utf-8", "surrogateescape")
        if not boundary:
            part.children.append(MimePart("text/plain", f"{prefix}1", payload=b""))
            end_line = self.next_boundary(index)
            self.content_end = self.body_end(self.offset(index), end_line)
            return end_line
        self.boundaries.append(boundary[:MAX_BOUNDARY])
        level = len(self.boundaries) - 1
        child_default = "message/rfc822" if part.content_type == "multipart/digest" else "text/plain"
        line_index = self.next_boundary(index)  # the preamble is skipped
        while line_index < self.count and self.boundary_at(line_index) == level:
            marker = self.line(line_index)[2 + len(self.boundaries[level]):]
            if marker.startswith(b"--"):
                # Closed: the epilogue runs to an enclosing boundary, which ends us too.
                del self.boundaries[level:]
                end_line = self.next_boundary(line_index + 1)
                self.content_end = self.body_end(self.offset(line_index), end_line)
                self._no_parts(part, prefix)
                return end_line
            number = f"{prefix}{len(part.children) + 1}"
            child, line_index = self.entity(line_index + 1, child_default, depth + 1, number,
                                            f"{number}.")
            part.children.append(child)
        del self.boundaries[level:]
        if not part.children:  # no part began: the body up to the end counts as preamble
            self.content_end = self.body_end(self.offset(index), line_index)
        self._no_parts(part, prefix)
        return line_index

    @staticmethod
    def _no_parts(part: MimePart, prefix: str) -> None:
        # A multipart without parts is described as holding one empty text part.
        if not part.children:
            part.children.append(MimePart("text/plain", f"{prefix}1", payload=b""))


def parse_structure(raw: bytes) -> MimePart:
    """The MIME tree of a whole message; never raises on hostile input."""
    return _Parser(raw).entity(0, "text/plain", 0, "1", "")[0]
