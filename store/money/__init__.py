"""Provides money: ISO 4217 currencies, exact amounts, the base currency and its rates."""
