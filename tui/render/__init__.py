"""Provides output without Textual: report writers (md, csv, json, html) and CLI progress."""
