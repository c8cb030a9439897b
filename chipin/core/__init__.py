"""The ledger domain: money, splits, entries, balances and settle-up. Pure Python."""
