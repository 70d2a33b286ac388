"""Provides IMAP and Maildir sync: the engine, the IMAP session, FETCH response parsing, watch."""
