"""Spending reports: what a group spent in a period, by category and by member."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from chipin.core.categories import category_matches
from chipin.core.entries import Entry, Expense

PERIOD_LABELS = {
    "today": "today",
    "week": "this week",
    "month": "this month",
    "year": "this year",
    "last_week": "last week",
    "last_month": "last month",
    "last_year": "last year",
    "all": "so far",
}


def period_range(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """[start, end) of a named period around ``today`` (weeks start on Monday)."""
    if period == "today":
        return today, today + dt.timedelta(days=1)
    if period in ("week", "last_week"):
        start = today - dt.timedelta(days=today.weekday())
        if period == "last_week":
            start -= dt.timedelta(days=7)
        return start, start + dt.timedelta(days=7)
    if period in ("month", "last_month"):
        start = today.replace(day=1)
        if period == "last_month":
            start = (start - dt.timedelta(days=1)).replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
        return start, end
    if period in ("year", "last_year"):
        year = today.year - (period == "last_year")
        return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    if period == "all":
        return dt.date.min, dt.date.max
    raise ValueError(f"unknown period {period!r}")


def month_range(month: int, today: dt.date) -> tuple[dt.date, dt.date]:
    """The most recent ``month`` (1..12) that has begun by ``today``: "October" in November is
    this year's, "December" in November is last year's."""
    year = today.year if month <= today.month else today.year - 1
    start = dt.date(year, month, 1)
    return start, (start + dt.timedelta(days=32)).replace(day=1)


def previous_range(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    """The period before [start, end): the previous day, week, month or year."""
    days = (end - start).days
    if days in (1, 7):
        return start - dt.timedelta(days=days), start
    if start.day == 1 and end.day == 1 and start.month == 1 and end.month == 1:
        return dt.date(start.year - 1, 1, 1), start
    if start.day == 1 and end.day == 1 and 28 <= days <= 31:
        return (start - dt.timedelta(days=1)).replace(day=1), start
    return None


@dataclass(slots=True)
class SpendingTotal:
    """What was spent in one currency: shares of expenses (refunds subtract), not payments."""

    currency: str
    total: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    by_member: dict[str, int] = field(default_factory=dict)


def spending(
    entries: Iterable[Entry], *, category: str | None = None, member: str | None = None
) -> list[SpendingTotal]:
    totals: dict[str, SpendingTotal] = {}
    for entry in entries:
        if not isinstance(entry, Expense):
            continue
        name = (entry.category or "other").casefold()
        if category is not None and not category_matches(category, entry.category):
            continue
        shares = dict(entry.shares)
        amount = shares.get(member, 0) if member else entry.amount
        if member and member not in shares:
            continue
        total = totals.setdefault(entry.currency, SpendingTotal(entry.currency))
        total.total += amount
        total.by_category[name] = total.by_category.get(name, 0) + amount
        for who, share in shares.items():
            if member is None or who == member:
                total.by_member[who] = total.by_member.get(who, 0) + share
    return [totals[c] for c in sorted(totals)]
