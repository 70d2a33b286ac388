"""Provides `parse_bodystructure`: a server's BODYSTRUCTURE as the decoder's MIME tree.

The tree is the same `MimePart` shape that mail/message/structure.py reads from a file, so the
one MIME policy (mail/message/mime.py) decides what the fetch downloads.
"""

from __future__ import annotations

from rapport.mail.message.mime import MimePart, media_type, param_dict


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return ""


def _params(value: object) -> dict[str, str]:
    if not isinstance(value, list):
        return {}
    return param_dict([(_text(value[i]), _text(value[i + 1]))
                       for i in range(0, len(value) - 1, 2)])


def _leaf(node: list[object], section: str, depth: int) -> MimePart:
    main = _text(node[0]).lower()
    ctype = media_type(main, _text(node[1]) if len(node) > 1 else "")
    params = _params(node[2]) if len(node) > 2 else {}
    encoding = _text(node[5]).lower() if len(node) > 5 else ""
    size = int(node[6]) if len(node) > 6 and isinstance(node[6], bytes) and node[6].isdigit() else 0
    # Extension data sits after the type-specific fields: text has `lines`, message/rfc822 has
    # envelope, body and lines.
    extra = 1 if main == "text" else 3 if ctype == "message/rfc822" else 0
    disposition_index = 7 + extra + 1
    disposition, disp_params = "", {}
    disp = node[disposition_index] if len(node) > disposition_index else None
    if isinstance(disp, list):
        disposition = _text(disp[0]).lower() if disp else ""
        disp_params = _params(disp[1]) if len(disp) > 1 else {}
    part = MimePart(ctype, section, params, encoding, size, disposition,
                    disp_params.get("filename") or params.get("name") or "")
    if ctype == "message/rfc822":
        envelope = node[7] if len(node) > 7 else None
        subject = envelope[1] if isinstance(envelope, list) and len(envelope) > 1 else b""
        part.enclosed_subject = bytes(subject) if isinstance(subject, bytes) else b""
        body = node[8] if len(node) > 8 else None
        if isinstance(body, list) and body:
            # RFC 3501 part numbers: the enclosed message's parts are S.1, S.2 ...; a
            # single-part enclosed message's body is S.1.
            part.enclosed = _node(body, f"{section}.1", f"{section}.", depth + 1)
    return part


def _node(node: list[object], section: str, prefix: str, depth: int) -> MimePart:
    if depth > 60:
        raise ValueError("BODYSTRUCTURE nested too deep")
    if not node or not isinstance(node[0], list):
        return _leaf(node, section, depth)
    children: list[MimePart] = []
    i = 0
    while i < len(node):
        child = node[i]
        if not isinstance(child, list):
            break
        number = f"{prefix}{len(children) + 1}"
        children.append(_node(child, number, f"{number}.", depth + 1))
        i += 1
    subtype = _text(node[i]).lower() if i < len(node) else "mixed"
    params = _params(node[i + 1]) if i + 1 < len(node) else {}
    return MimePart(f"multipart/{subtype}", section, params, children=children)


def parse_bodystructure(tree: object) -> MimePart:
    """The MIME tree of a parsed BODYSTRUCTURE list; ValueError if unusable."""
    if not isinstance(tree, list) or not tree:
        raise ValueError("empty BODYSTRUCTURE")
    return _node(tree, "1", "", 0)
