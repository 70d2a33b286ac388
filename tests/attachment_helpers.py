"""Provides what the attachment tests share: a real (tiny) PDF and a mail carrying attachments."""

from __future__ import annotations

import hashlib
from email import policy
from email.message import EmailMessage


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF 1.4 showing `text` (ASCII), with a correct xref table: pdftotext reads it."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mail_with(files: list[tuple[str, str, bytes]], *, message_id: str = "po-1@acme.example",
              subject: str = "Purchase order") -> bytes:
    """A client's mail: a text body and one attachment per (name, content type, bytes)."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "Alice Martin <alice@acme.example>"
    msg["To"] = "Sam <sam@rapport.example>"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 2 Nov 2026 10:15:00 +0000"
    msg["Message-ID"] = f"<{message_id}>"
    msg.set_content("Hello Sam,\nour order is attached.\n")
    for name, kind, data in files:
        maintype, _, subtype = kind.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()
