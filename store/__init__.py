"""Provides Rapport's workspace store: SQLite schema, migrations and query functions.

Knows nothing of IMAP or Textual; the layers above call the small functions here.
"""
