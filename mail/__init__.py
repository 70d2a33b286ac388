"""Provides Rapport's mail layer: IMAP/Maildir sync, parsing, matching to accounts, drafting."""
