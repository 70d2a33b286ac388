"""Provides drafts: templates (sandboxed Jinja2), their context and filters, replies, installation."""
