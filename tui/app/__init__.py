"""Provides the Textual app: screens, widgets, messages and the calls they make into store and mail."""
