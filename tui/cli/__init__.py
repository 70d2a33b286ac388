"""Provides the `rapport` command line: one module per group of commands."""
