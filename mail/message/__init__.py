"""Provides the one decoder of an RFC 822 message into a NewMessage, for IMAP and Maildir alike:
the MIME policy (mime), a file's MIME tree (structure), headers, addresses, body text, quotes,
snippet, and `decode` that puts them together; `bounces` reads a bounce's failed recipients."""
