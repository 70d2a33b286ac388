"""Provides the monthly report's figures and the period it covers (no formatting)."""
