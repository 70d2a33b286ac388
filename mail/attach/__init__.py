"""Provides attachments both ways: received ones fetched on demand and saved safely
(`received`, `names`, `saving`, `viewing`), and files attached to what Rapport sends (`outgoing`).

Attachments are never stored in the database: the store keeps their name, type and size only.
"""
