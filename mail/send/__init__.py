"""Provides sending: MIME composition, SMTP, the outbox and announcements."""
