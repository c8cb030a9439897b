"""Recurring expenses: when a rule like "every month on the 1st" falls due."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

FREQUENCIES = ("day", "week", "month", "year")


@dataclass(frozen=True, slots=True)
class Rule:
    """Every ``interval`` ``frequency``s, anchored on ``start``.

    Monthly rules keep the day of month of ``day`` (or of ``start``), clamped to the month's
    length: "on the 31st" falls on Feb 28 (29), then on Mar 31 again.
    """

    frequency: str
    start: dt.date
    interval: int = 1
    day: int | None = None
    """Day of month for monthly and yearly rules; weekday 0=Monday..6 for weekly rules."""

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
        if self.interval < 1:
            raise ValueError("interval must be at least 1")

    def describe(self) -> str:
        every = "every" if self.interval == 1 else f"every {self.interval}"
        unit = self.frequency if self.interval == 1 else self.frequency + "s"
        if self.frequency == "month":
            return f"{every} {unit} on the {_ordinal(self.day or self.start.day)}"
        if self.frequency == "week":
            weekday = calendar.day_name[self.day if self.day is not None else self.start.weekday()]
            return f"{every} {unit} on {weekday}"
        return f"{every} {unit}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _on_day(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def occurrences(rule: Rule) -> Iterator[dt.date]:
    """Every date the rule falls on, from its start onwards (an endless iterator)."""
    if rule.frequency == "day":
        current = rule.start
        while True:
            yield current
            current += dt.timedelta(days=rule.interval)
    if rule.frequency == "week":
        weekday = rule.day if rule.day is not None else rule.start.weekday()
        current = rule.start + dt.timedelta(days=(weekday - rule.start.weekday()) % 7)
        while True:
            yield current
            current += dt.timedelta(weeks=rule.interval)
    step = rule.interval * (12 if rule.frequency == "year" else 1)
    day = rule.day or rule.start.day
    n = 0
    while True:
        year, month = _add_months(rule.start.year, rule.start.month, n * step)
        date = _on_day(year, month, day)
        if date >= rule.start:
            yield date
        n += 1


def due(rule: Rule, after: dt.date | None, until: dt.date) -> list[dt.date]:
    """Occurrences in (after, until]: what a scheduler pass must create now. ``after`` is the
    last occurrence already created (None: none yet)."""
    out = []
    for date in occurrences(rule):
        if date > until:
            break
        if after is None or date > after:
            out.append(date)
    return out
