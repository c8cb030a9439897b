"""Budgets and recurrence: periods, thresholds, projections and due dates."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chipin.core.budgets import Budget, projection, reached, round_about, spent, window
from chipin.core.entries import Expense, Payment
from chipin.core.recurrence import Rule, due, occurrences
from chipin.core.splits import EqualSplit

DAY = dt.date(2026, 11, 10)


def expense(amount: int, category: str | None = "food", currency: str = "EUR") -> Expense:
    return Expense(
        currency,
        amount,
        (("Ana", amount),),
        EqualSplit(("Ana", "Raj")),
        "x",
        DAY,
        category=category,
    )


def test_a_monthly_budget_counts_only_its_category_and_currency() -> None:
    food = Budget(1, 30000, "EUR", "month", category="Food")
    entries = [
        expense(10000),
        expense(5000, "travel"),
        expense(7000, currency="USD"),
        expense(-2000),
        Payment("EUR", 999, "Raj", "Ana", DAY),
    ]
    assert spent(food, entries) == 8000


def test_a_member_budget_counts_their_shares() -> None:
    raj = Budget(1, 30000, "EUR", "week", member="Raj")
    assert spent(raj, [expense(10001)]) == 5000  # Ana got the leftover cent


def test_thresholds_are_reached_exactly_without_rounding() -> None:
    b = Budget(1, 30000, "EUR", "month")
    assert reached(23999, b) == set()
    assert reached(24000, b) == {80}
    assert reached(29999, b) == {80}
    assert reached(30000, b) == {80, 100}


def test_periods_follow_the_calendar() -> None:
    assert window(Budget(1, 1, "EUR", "week"), dt.date(2026, 11, 22)) == (
        dt.date(2026, 11, 16),
        dt.date(2026, 11, 23),
    )
    assert window(Budget(1, 1, "EUR", "month"), dt.date(2026, 12, 31)) == (
        dt.date(2026, 12, 1),
        dt.date(2027, 1, 1),
    )
    assert window(Budget(1, 1, "EUR", "year"), DAY) == (dt.date(2026, 1, 1), dt.date(2027, 1, 1))


def test_the_projection_warns_when_the_pace_would_overshoot() -> None:
    b = Budget(1, 30000, "EUR", "month", category="food")
    # 10 days into November with 150.00 spent: 450.00 by the 30th, 150.00 over
    p = projection(b, 15000, dt.date(2026, 11, 10))
    assert p is not None and p.projected == 45000 and p.overshoot == 15000
    assert p.by == dt.date(2026, 11, 30)
    assert projection(b, 5000, dt.date(2026, 11, 10)) is None  # on pace
    assert projection(b, 25000, dt.date(2026, 11, 1)) is None  # too early to tell
    assert projection(b, 30000, dt.date(2026, 11, 10)) is None  # already over: the 100% alert


def test_about_figures_round_to_two_significant_digits() -> None:
    assert round_about(4537, 2) == 4500
    assert round_about(453_712, 2) == 450_000
    assert round_about(7, 2) == 100


def test_a_budget_refuses_a_bad_period_or_amount() -> None:
    with pytest.raises(ValueError, match="period"):
        Budget(1, 100, "EUR", "fortnight")
    with pytest.raises(ValueError, match="positive"):
        Budget(1, 0, "EUR", "month")


def test_monthly_on_the_31st_clamps_to_short_months() -> None:
    rule = Rule("month", dt.date(2026, 1, 31))
    dates = [d for _, d in zip(range(4), occurrences(rule), strict=False)]
    assert dates == [
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 30),
    ]
    assert rule.describe() == "every month on the 31st"


def test_weekly_on_a_weekday_starts_on_the_next_such_day() -> None:
    rule = Rule("week", dt.date(2026, 11, 22), day=4)  # a Sunday; Fridays
    assert due(rule, None, dt.date(2026, 12, 5)) == [dt.date(2026, 11, 27), dt.date(2026, 12, 4)]
    assert rule.describe() == "every week on Friday"


def test_due_returns_only_what_was_not_created_yet() -> None:
    rule = Rule("month", dt.date(2026, 9, 1))
    assert due(rule, dt.date(2026, 10, 1), dt.date(2026, 11, 22)) == [dt.date(2026, 11, 1)]
    assert due(rule, dt.date(2026, 11, 1), dt.date(2026, 11, 22)) == []


@given(
    st.sampled_from(["day", "week", "month", "year"]),
    st.integers(1, 4),
    st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1)),
    st.integers(0, 400),
)
def test_occurrences_are_increasing_and_due_never_repeats(
    freq: str, interval: int, start: dt.date, span: int
) -> None:
    rule = Rule(freq, start, interval)
    until = start + dt.timedelta(days=span)
    everything = due(rule, None, until)
    assert everything == sorted(set(everything))
    assert all(start <= d <= until for d in everything)
    if everything:
        middle = everything[len(everything) // 2]
        assert due(rule, None, middle) + due(rule, middle, until) == everything
