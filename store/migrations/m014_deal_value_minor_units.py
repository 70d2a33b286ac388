"""Provides migration m014: deal values as whole minor units (cents), exact, not floats."""

from __future__ import annotations

from sqlite_utils import Database

from rapport.store.migrations.registry import migrations, schema_version, set_version
from rapport.store.money.currency import minor_digits


@migrations()
def m014_deal_value_minor_units(db: Database) -> None:
    """Deals: `value_minor`, the value in whole minor units of its currency (12500.50 EUR is
    1250050; 1000 JPY is 1000), which Rapport reads and sums; `value` (REAL) is still written
    beside it for SQL run by hand. Filled from `value`, rounded to the currency's minor unit."""
    db.execute("ALTER TABLE deals ADD COLUMN value_minor INTEGER NOT NULL DEFAULT 0")
    currencies = [code for (code,) in db.execute("SELECT DISTINCT currency FROM deals")]
    for code in currencies:
        db.execute(
            "UPDATE deals SET value_minor = CAST(round(value * ?) AS INTEGER) WHERE currency = ?",
            [10 ** minor_digits(code), code],
        )
    set_version(db, max(schema_version(db), 14))
