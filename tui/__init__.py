"""Provides Rapport's terminal interface: the Textual app and the `rapport` command line."""
