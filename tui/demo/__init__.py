"""Provides the demo workspace: a deterministic book, pipeline, timeline and Maildir."""
