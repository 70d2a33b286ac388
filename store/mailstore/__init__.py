"""Provides stored mail: folders and their sync state, messages, matching to accounts, announcement journals."""
