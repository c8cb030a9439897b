"""Spending reports: named months, the period before, category families."""

from __future__ import annotations

import datetime as dt

from chipin.core.entries import Expense
from chipin.core.reports import month_range, period_range, previous_range, spending
from chipin.core.splits import EqualSplit
from chipin.parsing.periods import named_month

TODAY = dt.date(2026, 11, 22)


def test_a_named_month_is_the_latest_one_that_has_begun() -> None:
    assert named_month("what did I spend in October?") == 10
    assert named_month("spending for sept") == 9
    assert named_month("may I pay you back") is None
    assert month_range(10, TODAY) == (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    assert month_range(12, TODAY) == (dt.date(2025, 12, 1), dt.date(2026, 1, 1))


def test_the_period_before_has_the_same_shape() -> None:
    assert previous_range(*period_range("month", TODAY)) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 11, 1),
    )
    assert previous_range(*period_range("week", TODAY)) == (
        dt.date(2026, 11, 9),
        dt.date(2026, 11, 16),
    )
    assert previous_range(*period_range("year", TODAY)) == (
        dt.date(2025, 1, 1),
        dt.date(2026, 1, 1),
    )
    assert previous_range(*period_range("month", dt.date(2026, 3, 5))) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
    )
    assert previous_range(*period_range("all", TODAY)) is None


def test_asking_about_food_counts_groceries_too() -> None:
    groceries = Expense(
        "EUR", 1000, (("Ana", 1000),), EqualSplit(("Ana", "Raj")), "shop", TODAY, "groceries"
    )
    taxi = Expense(
        "EUR", 500, (("Ana", 500),), EqualSplit(("Ana", "Raj")), "taxi", TODAY, "transport"
    )
    [food] = spending([groceries, taxi], category="Food")
    assert food.total == 1000 and food.by_category == {"groceries": 1000}
    [raj] = spending([groceries, taxi], member="Raj")
    assert raj.total == 750 and raj.by_member == {"Raj": 750}
