"""Provides import and export of the book: CSV, JSON and vCard readers, the importer, the exporter."""
