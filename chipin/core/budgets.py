"""Budgets: how much a group (or one member, or one category) may spend per week, month or year,
and when to say something about it.

Alerts fire when spending reaches 80% and 100% of a budget, once per budget, period and
threshold. Falling back under a threshold (an undo, a correction) re-arms it, so crossing it
again alerts again. A projection warns, once per period, when the pace so far would overshoot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from chipin.core.categories import category_matches
from chipin.core.entries import Entry, Expense
from chipin.core.reports import period_range

PERIODS = ("week", "month", "year")

THRESHOLDS = (80, 100)
"""Percentages of a budget at which the group hears about it."""


@dataclass(frozen=True, slots=True)
class Budget:
    group_id: int
    amount: int
    """The limit, in minor units of ``currency``."""
    currency: str
    period: str
    """week | month | year, in the group's timezone (weeks start on Monday)."""
    category: str | None = None
    """Only expenses of this category count (case-insensitive); None: every expense."""
    member: str | None = None
    """Only this member's shares count; None: the whole group's spending."""
    id: int | None = None

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"a budget period is one of {', '.join(PERIODS)}, not {self.period!r}")
        if self.amount <= 0:
            raise ValueError("a budget must be a positive amount")

    def label(self) -> str:
        """ "the monthly food budget", "Ana's weekly budget"."""
        adjective = {"week": "weekly", "month": "monthly", "year": "yearly"}[self.period]
        owner = f"{self.member}'s " if self.member else "the "
        return f"{owner}{adjective} {self.category + ' ' if self.category else ''}budget"


def window(budget: Budget, today: dt.date) -> tuple[dt.date, dt.date]:
    """The budget's current period [start, end) around ``today``."""
    return period_range(budget.period, today)


def spent(budget: Budget, entries: Iterable[Entry]) -> int:
    """What counts against the budget among ``entries`` (already limited to its period):
    expenses (refunds subtract) in its currency, of its category, or its member's shares."""
    total = 0
    for entry in entries:
        if not isinstance(entry, Expense) or entry.currency != budget.currency:
            continue
        if budget.category is not None and not category_matches(budget.category, entry.category):
            continue
        if budget.member is None:
            total += entry.amount
        else:
            total += dict(entry.shares).get(budget.member, 0)
    return total


def reached(amount_spent: int, budget: Budget) -> set[int]:
    """The thresholds that spending has reached (exact integer arithmetic, no rounding)."""
    return {t for t in THRESHOLDS if amount_spent * 100 >= budget.amount * t}


@dataclass(frozen=True, slots=True)
class Projection:
    projected: int
    """Spending at the end of the period at the pace so far (minor units)."""
    overshoot: int
    by: dt.date
    """The period's last day."""


def projection(budget: Budget, amount_spent: int, today: dt.date) -> Projection | None:
    """A linear projection to the period's end, when it would overshoot the budget and spending
    has not reached it yet. Needs a few days of data, so a big first-day bill does not cry wolf."""
    start, end = window(budget, today)
    elapsed = (today - start).days + 1
    total = (end - start).days
    if elapsed < min(3, total) or amount_spent >= budget.amount or amount_spent <= 0:
        return None
    projected = amount_spent * total // elapsed
    if projected <= budget.amount:
        return None
    return Projection(projected, projected - budget.amount, end - dt.timedelta(days=1))


def round_about(minor: int, exponent: int) -> int:
    """A friendly "about" figure: to two significant digits, in minor units (4,537 → 4,500)."""
    if minor <= 0:
        return 0
    unit = int(10 ** max(exponent, len(str(minor)) - 2))
    rounded: int = (minor + unit // 2) // unit * unit
    return max(unit, rounded)
