"""Expense categories: a family name ("food") also covers its members ("groceries")."""

from __future__ import annotations

FAMILIES = {
    "food": {"food", "groceries", "drinks", "dining", "restaurants", "snacks", "coffee"},
    "transport": {"transport", "taxi", "fuel", "parking", "train", "bus"},
    "travel": {"travel", "lodging", "flights", "hotel", "transport"},
    "home": {"home", "household", "rent", "utilities", "housing"},
    "fun": {"fun", "entertainment", "drinks"},
}
"""Asking about, or budgeting for, a family counts its members too: groceries are food."""


def category_matches(budget_category: str, entry_category: str | None) -> bool:
    """Case-insensitive; a family name ("food") also matches its members ("groceries")."""
    wanted, got = budget_category.casefold(), (entry_category or "").casefold()
    return got == wanted or got in FAMILIES.get(wanted, set())
