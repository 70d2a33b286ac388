"""Provides the read views: inbox, pipeline, Today, timeline, last contact, search and status."""
