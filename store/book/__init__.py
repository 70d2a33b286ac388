"""Provides the account book: accounts, contacts, deals, activities and pipeline stages."""
